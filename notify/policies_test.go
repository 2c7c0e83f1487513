package notify

// End to end through the real senders: alerts opened by the alerting
// evaluator under notification policies, their messages sent by River's
// SendWorker to the local Telnyx and SMTP servers.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// policyWorld is an organisation with one site in London, a line cook
// (SMS) and a manager who opted out of SMS (email only), an evaluator
// whose notifier enqueues real send jobs, and River sending them to a
// local Telnyx and a local SMTP server.
type policyWorld struct {
	t                  *testing.T
	ctx                context.Context
	pool               *pgxpool.Pool
	ev                 *alerting.Evaluator
	telnyx             *fakeTelnyx
	smtp               *smtpServer
	org, site          string
	cook, manager      string // contact ids
	managerUser        string
	quietFrom, quietTo string
	// ahead moves the evaluator's clock forward (nanoseconds).
	ahead atomic.Int64
	unsub *Unsubscriber
}

func newPolicyWorld(t *testing.T) *policyWorld {
	t.Helper()
	w := &policyWorld{t: t, ctx: context.Background(), pool: pgtest.NewDB(t)}
	w.telnyx = newFakeTelnyx(t)
	tel, _ := newTestTelnyx(t, w.telnyx, nil)
	w.smtp = startSMTPServer(t, nil)
	quiet := slog.New(slog.DiscardHandler)

	// The alerting workers are registered as jobs.New does (the client
	// refuses to insert kinds it has none for); this client works only the
	// notify queue, and the test runs the deferred steps and reminders
	// itself rather than wait for their scheduled times.
	workers := river.NewWorkers()
	river.AddWorker(workers, &SendWorker{DB: w.pool, SMS: tel, Email: newTestSMTP(t, w.smtp.Port()), Logger: quiet})
	escalate, deferred, remind := &alerting.EscalateWorker{}, &alerting.DeferredWorker{}, &alerting.RemindWorker{}
	river.AddWorker(workers, escalate)
	river.AddWorker(workers, deferred)
	river.AddWorker(workers, remind)
	client, err := river.NewClient(riverpgxv5.New(w.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{QueueNotify: {MaxWorkers: 4}},
		Workers:           workers,
		Logger:            quiet,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	startRiver(t, client)
	w.unsub = testUnsubscriber(t)
	w.ev, err = alerting.NewEvaluator(alerting.Config{Pool: w.pool, Jobs: client, Logger: quiet,
		Now:      func() time.Time { return time.Now().Add(time.Duration(w.ahead.Load())) },
		Notifier: &AlertNotifier{Jobs: client, PublicURL: "https://freshtrack.example", Unsubscribe: w.unsub}})
	if err != nil {
		t.Fatal(err)
	}
	escalate.Evaluator, deferred.Evaluator, remind.Evaluator = w.ev, w.ev, w.ev

	w.must(`INSERT INTO organizations (name) VALUES ('Policy Bistro') RETURNING id::text`, &w.org)
	w.must(`INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Harbour', 'Europe/London') RETURNING id::text`, &w.site, w.org)
	w.must(`INSERT INTO users (issuer, subject, email, phone, sms_opt_in) VALUES ('test', gen_random_uuid()::text, 'manager@bistro.example', '+15550000002', false) RETURNING id::text`, &w.managerUser)
	w.exec(`INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'manager')`, w.org, w.managerUser)
	w.must(`INSERT INTO contacts (org_id, site_id, name, phone, role) VALUES ($1, $2, 'Line cook', '+15550000001', 'staff') RETURNING id::text`, &w.cook, w.org, w.site)
	w.must(`INSERT INTO contacts (org_id, site_id, user_id, name, phone, email, role) VALUES ($1, $2, $3, 'Manager', '+15550000002', 'manager@bistro.example', 'manager') RETURNING id::text`,
		&w.manager, w.org, w.site, w.managerUser)
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(london)
	w.quietFrom, w.quietTo = now.Add(-time.Hour).Format("15:04"), now.Add(2*time.Hour).Format("15:04")
	return w
}

func (w *policyWorld) must(sql string, dest any, args ...any) {
	w.t.Helper()
	if err := w.pool.QueryRow(w.ctx, sql, args...).Scan(dest); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

func (w *policyWorld) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.pool.Exec(w.ctx, sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// unit adds a unit of kind with a door_open rule of severity that resolves
// by itself.
func (w *policyWorld) unit(name, kind, severity string) (string, alerting.Rule) {
	w.t.Helper()
	var unit string
	w.must(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, $4, -30, 5) RETURNING id::text`, &unit, w.org, w.site, name, kind)
	r := alerting.Rule{OrgID: w.org, UnitID: unit, Kind: alerting.KindDoorOpen, Threshold: 5, Severity: severity, AutoResolve: true, Enabled: true}
	w.must(`INSERT INTO alert_rules (org_id, unit_id, kind, threshold, severity, auto_resolve) VALUES ($1, $2, 'door_open', 5, $3, true) RETURNING id::text`, &r.ID, w.org, unit, severity)
	return unit, r
}

// raise opens the rule's alert, as the door detector does, and returns its id.
func (w *policyWorld) raise(unit string, r alerting.Rule) string {
	w.t.Helper()
	var opened alerting.AlertOpened
	err := pgx.BeginFunc(w.ctx, w.pool, func(tx pgx.Tx) error {
		var err error
		opened, _, err = w.ev.RaiseTx(w.ctx, tx, unit, r, alerting.Condition{Started: time.Now().Add(-6 * time.Minute), Value: 6, Summary: "The door has been open for 6 minutes."})
		return err
	})
	if err != nil || opened.AlertID == "" {
		w.t.Fatalf("raise: %v (%+v)", err, opened)
	}
	return opened.AlertID
}

// sent waits until the local servers have received sms texts and emails
// mails in all, and returns the texts and the mails' data.
func (w *policyWorld) sent(sms, emails int) (texts, mails []string) {
	w.t.Helper()
	waitFor(w.t, waitTimeout, fmt.Sprintf("%d SMS and %d emails", sms, emails), func() (bool, error) {
		return len(w.telnyx.Requests()) >= sms && len(w.smtp.Mails()) >= emails, nil
	})
	// Every message enqueued has been sent once both counts are reached;
	// more than that would be a message too many.
	w.settled()
	for _, r := range w.telnyx.Requests() {
		texts = append(texts, fmt.Sprint(r.Body["to"], " ", r.Body["text"]))
	}
	for _, m := range w.smtp.Mails() {
		mails = append(mails, strings.Join(m.To, ",")+" "+string(m.Data))
	}
	if len(texts) != sms || len(mails) != emails {
		w.t.Fatalf("sent %d SMS and %d emails, want %d and %d:\n%s\n%s", len(texts), len(mails), sms, emails, strings.Join(texts, "\n"), strings.Join(mails, "\n"))
	}
	return texts, mails
}

// settled waits until no notification is waiting to be sent.
func (w *policyWorld) settled() {
	w.t.Helper()
	waitFor(w.t, waitTimeout, "every notification sent", func() (bool, error) {
		var n int
		err := w.pool.QueryRow(w.ctx, `SELECT count(*) FROM notifications WHERE org_id = $1 AND status IN ('queued', 'sending')`, w.org).Scan(&n)
		return n == 0, err
	})
}

func (w *policyWorld) decisions(alert string) []string {
	w.t.Helper()
	d, err := alerting.GetAlert(w.ctx, w.pool, w.org, alert)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, x := range d.Notification.Decisions {
		out = append(out, x.Purpose+" "+x.Name+"/"+x.Channel+"="+x.Decision)
	}
	return out
}

func TestFreezerPolicyEndToEnd(t *testing.T) {
	t.Parallel()
	w := newPolicyWorld(t)
	freezer, rule := w.unit("Chest freezer", "freezer", "warning")
	w.exec(`INSERT INTO notification_policies (org_id, unit_id, name, steps, reminder_minutes, notify_on_resolve)
		VALUES ($1, $2, 'Freezers', '[{"after_minutes":0,"channels":["sms","email"],"roles":["staff","manager"]}]', 5, true)`, w.org, freezer)
	alert := w.raise(freezer, rule)

	// The cook by SMS, the manager by email only (opted out of SMS).
	texts, mails := w.sent(1, 1)
	if !strings.HasPrefix(texts[0], "+15550000001 FreshTrack WARNING: Chest freezer") {
		t.Fatalf("SMS %q", texts[0])
	}
	if !strings.HasPrefix(mails[0], "manager@bistro.example ") {
		t.Fatalf("mail to %q", mails[0][:40])
	}
	if got := strings.Join(w.decisions(alert), "; "); got != "notify Line cook/sms=notified; notify Line cook/email=no_address; notify Manager/sms=opted_out; notify Manager/email=notified" {
		t.Fatalf("decisions %s", got)
	}

	// Unacknowledged: the reminders repeat to the same people.
	for n := 1; n <= 2; n++ {
		if sent, err := w.ev.Remind(w.ctx, alerting.RemindArgs{AlertID: alert, N: n}); err != nil || !sent {
			t.Fatalf("reminder %d: %v %v", n, sent, err)
		}
	}
	texts, mails = w.sent(3, 3)
	// The reminders' messages are sent by concurrent workers: any order.
	hasReminder2 := func(msgs []string, marker string) bool {
		return slices.ContainsFunc(msgs[1:], func(m string) bool { return strings.Contains(m, marker) })
	}
	if !hasReminder2(texts, "(reminder 2, not acknowledged yet)") || !hasReminder2(mails, "reminder 2") {
		t.Fatalf("reminder texts %q / mails %d", texts, len(mails))
	}

	// Acknowledged: the next reminder does nothing and schedules none.
	if _, err := alerting.Acknowledge(w.ctx, w.pool, alerting.AckParams{OrgID: w.org, AlertID: alert, UserID: w.managerUser}); err != nil {
		t.Fatal(err)
	}
	if sent, err := w.ev.Remind(w.ctx, alerting.RemindArgs{AlertID: alert, N: 3}); err != nil || sent {
		t.Fatalf("reminder after acknowledgement: %v %v", sent, err)
	}
	var reminders int
	w.must(`SELECT count(*) FROM river_job WHERE kind = 'alerting_remind' AND args->>'alert_id' = $1`, &reminders, alert)
	if reminders != 3 { // the first (scheduled at opening) and the two the reminders scheduled
		t.Fatalf("%d reminder jobs, want 3", reminders)
	}

	// The door closes: the alert resolves and both hear of it once.
	err := pgx.BeginFunc(w.ctx, w.pool, func(tx pgx.Tx) error {
		_, err := w.ev.ClearTx(w.ctx, tx, freezer, rule, time.Now(), "the door closed")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ev.NotifyResolved(w.ctx, alert); err != nil { // already sent: nothing more
		t.Fatal(err)
	}
	texts, mails = w.sent(4, 4)
	if !strings.HasPrefix(texts[3], "+15550000001 FreshTrack RESOLVED: Chest freezer") || !strings.Contains(mails[3], "Subject: [FreshTrack] Resolved:") {
		t.Fatalf("resolved texts %q / mail %q", texts[3], mails[3])
	}
}

func TestQuietHoursEndToEnd(t *testing.T) {
	t.Parallel()
	w := newPolicyWorld(t)
	w.exec(`INSERT INTO notification_policies (org_id, site_id, name, steps, quiet_start, quiet_end)
		VALUES ($1, $2, 'Harbour nights', '[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]', $3, $4)`, w.org, w.site, w.quietFrom, w.quietTo)
	fridge, warning := w.unit("Prep fridge", "fridge", "warning")
	walkIn, critical := w.unit("Walk-in", "walk_in", "critical")

	held := w.raise(fridge, warning)
	urgent := w.raise(walkIn, critical)
	// Only the critical alert's SMS goes out in the quiet hours.
	texts, _ := w.sent(1, 0)
	if !strings.HasPrefix(texts[0], "+15550000001 FreshTrack CRITICAL: Walk-in") {
		t.Fatalf("SMS %q", texts[0])
	}
	if got := strings.Join(w.decisions(held), "; "); got != "notify Line cook/sms=quiet_hours" {
		t.Fatalf("warning decisions %s", got)
	}
	if got := strings.Join(w.decisions(urgent), "; "); got != "notify Line cook/sms=notified" {
		t.Fatalf("critical decisions %s", got)
	}

	// At the end of the quiet hours the deferred job sends the warning.
	var raw []byte
	var at time.Time
	w.must(`SELECT args FROM river_job WHERE kind = 'alerting_deferred_step' AND args->>'alert_id' = $1`, &raw, held)
	w.must(`SELECT scheduled_at FROM river_job WHERE kind = 'alerting_deferred_step' AND args->>'alert_id' = $1`, &at, held)
	london, _ := time.LoadLocation("Europe/London")
	if at.In(london).Format("15:04") != w.quietTo {
		t.Fatalf("deferred to %s, want %s London time", at.In(london), w.quietTo)
	}
	var args alerting.DeferredArgs
	if err := json.Unmarshal(raw, &args); err != nil {
		t.Fatal(err)
	}
	// Run early, the job finds the quiet hours still on and waits on.
	if sent, err := w.ev.SendDeferred(w.ctx, args); err != nil || sent {
		t.Fatalf("deferred step in the quiet hours: %v %v", sent, err)
	}
	w.ahead.Store(int64(time.Until(at)))
	if sent, err := w.ev.SendDeferred(w.ctx, args); err != nil || !sent {
		t.Fatalf("deferred step: %v %v", sent, err)
	}
	texts, _ = w.sent(2, 0)
	if !strings.HasPrefix(texts[1], "+15550000001 FreshTrack WARNING: Prep fridge") {
		t.Fatalf("deferred SMS %q", texts[1])
	}
}

// TestUnsubscribedPersonHearsNoMoreAlertEmails follows an alert email's
// one-click unsubscribe link to its effect: the person's next alert reaches
// them by no email, and the alert says why.
func TestUnsubscribedPersonHearsNoMoreAlertEmails(t *testing.T) {
	t.Parallel()
	w := newPolicyWorld(t)
	walkIn, rule := w.unit("Walk-in", "walk_in", "warning")
	w.exec(`INSERT INTO notification_policies (org_id, unit_id, name, steps)
		VALUES ($1, $2, 'Managers by email', '[{"after_minutes":0,"channels":["email"],"roles":["manager"]}]')`, w.org, walkIn)
	first := w.raise(walkIn, rule)
	_, mails := w.sent(0, 1)
	var link string
	for _, line := range strings.Split(mails[0], "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "List-Unsubscribe: <"); ok {
			link = strings.TrimSuffix(v, ">")
		}
	}
	tok, ok := strings.CutPrefix(link, "https://freshtrack.example/v1/unsubscribe?token=")
	if !ok || !strings.Contains(mails[0], "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Fatalf("the alert email has no one-click unsubscribe: %q\n%s", link, mails[0])
	}
	parsed, err := w.unsub.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := Unsubscribe(w.ctx, w.pool, parsed); err != nil || !changed {
		t.Fatalf("unsubscribe: %v %v", changed, err)
	}

	err = pgx.BeginFunc(w.ctx, w.pool, func(tx pgx.Tx) error {
		_, err := w.ev.ClearTx(w.ctx, tx, walkIn, rule, time.Now(), "the door closed")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	second := w.raise(walkIn, rule)
	if second == first {
		t.Fatal("the second alert is the first")
	}
	w.settled()
	if n := len(w.smtp.Mails()); n != 1 {
		t.Fatalf("%d emails after unsubscribing, want only the first", n)
	}
	if got := strings.Join(w.decisions(second), "; "); got != "notify Manager/email=opted_out" {
		t.Fatalf("decisions of the second alert: %s", got)
	}
}
