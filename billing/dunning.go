package billing

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/notify"
)

// paymentFailed records the failure and emails the organisation's owners,
// through the notifications every alert email goes through: one email per
// owner and attempt, committed with the event.
func (s *Service) paymentFailed(ctx context.Context, tx pgx.Tx, inv invoiceObject, created time.Time) (effect, error) {
	org, err := orgOf(ctx, tx, string(inv.Customer))
	if err != nil || org == "" {
		return unmatched("invoice "+inv.ID, string(inv.Customer)), err
	}
	if _, err := tx.Exec(ctx, `UPDATE subscriptions SET last_payment_failed_at = greatest(last_payment_failed_at, $2), updated_at = now() WHERE org_id = $1`,
		org, created); err != nil {
		return effect{}, fmt.Errorf("billing: payment failed: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT u.id::text, u.email, o.name FROM memberships m
		  JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id
		 WHERE m.org_id = $1 AND m.role = 'owner' AND u.email IS NOT NULL AND u.email <> ''
		 ORDER BY u.id`, org)
	if err != nil {
		return effect{}, fmt.Errorf("billing: owners: %w", err)
	}
	type owner struct{ id, email, orgName string }
	var owners []owner
	for rows.Next() {
		var o owner
		if err := rows.Scan(&o.id, &o.email, &o.orgName); err != nil {
			rows.Close()
			return effect{}, fmt.Errorf("billing: owners: %w", err)
		}
		owners = append(owners, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return effect{}, fmt.Errorf("billing: owners: %w", err)
	}
	emailed := 0
	for _, o := range owners {
		subject, text, htm := s.paymentFailedEmail(org, o.orgName, inv)
		_, inserted, err := notify.InsertNotificationTx(ctx, tx, s.cfg.Jobs, notify.EnqueueParams{
			OrgID: org, Channel: notify.Email, Recipient: o.email, Subject: subject, Text: text, HTML: htm,
			DedupeKey: fmt.Sprintf("billing:invoice:%s:attempt:%d:user:%s", inv.ID, inv.AttemptCount, o.id)})
		if err != nil {
			return effect{}, fmt.Errorf("billing: payment-failed email: %w", err)
		}
		if inserted {
			emailed++
		}
	}
	return effect{outcome: OutcomeApplied, org: org, detail: fmt.Sprintf("invoice %s payment failed (attempt %d): %d owners emailed", inv.ID, inv.AttemptCount, emailed)}, nil
}

// money formats an amount in a currency's minor units.
func money(amount int64, currency string) string {
	cur := strings.ToUpper(currency)
	switch cur {
	case "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF":
		return fmt.Sprintf("%d %s", amount, cur)
	}
	return fmt.Sprintf("%d.%02d %s", amount/100, amount%100, cur)
}

func (s *Service) paymentFailedEmail(org, orgName string, inv invoiceObject) (subject, text, htm string) {
	subject = "[FreshTrack] Payment failed for " + orgName
	settings := s.cfg.PublicURL + "/o/" + org + "/settings/billing"
	var b strings.Builder
	fmt.Fprintf(&b, "The payment of %s for %s's FreshTrack subscription failed", money(inv.AmountDue, inv.Currency), orgName)
	if inv.AttemptCount > 0 {
		fmt.Fprintf(&b, " (attempt %d)", inv.AttemptCount)
	}
	b.WriteString(".\n\n")
	if inv.NextAttempt != nil && *inv.NextAttempt > 0 {
		fmt.Fprintf(&b, "Stripe will try again on %s.\n", time.Unix(*inv.NextAttempt, 0).UTC().Format("Monday 2 January 2006, 15:04 MST"))
	}
	fmt.Fprintf(&b, "Your sensors' readings keep being stored and alerts keep working. After %s past due, no new sensors can be added until the invoice is paid.\n\n",
		humanDuration(s.limits.Grace))
	if inv.HostedInvoiceURL != "" {
		fmt.Fprintf(&b, "Pay the invoice: %s\n", inv.HostedInvoiceURL)
	}
	fmt.Fprintf(&b, "Update the payment method: %s\n", settings)
	text = b.String()
	var h strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		h.WriteString("<p>" + html.EscapeString(line) + "</p>\n")
	}
	return subject, text, h.String()
}

func humanDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 && d > 0 {
		days := int(d / (24 * time.Hour))
		if days == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", days)
	}
	return d.String()
}
