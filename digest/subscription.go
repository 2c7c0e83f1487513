package digest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/errs"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// ErrNotFound is returned for a subscription that does not exist, and for an
// organisation or user id that is not a UUID or whose user is not a member:
// the cases are deliberately indistinguishable.
var ErrNotFound = errs.ErrNotFound

// ValidationError reports a parameter that cannot be accepted. The API maps
// it to a 400 naming Field.
type ValidationError = errs.ValidationError

// Defaults of a new subscription.
const (
	// DefaultLocalHour is the local hour digests are sent at: 7 (07:00).
	DefaultLocalHour = 7
	// DefaultWeekday is the day weekly digests are sent on: Monday.
	DefaultWeekday = time.Monday
)

// Subscription is one person's opt-in to the digests of one organisation at
// one frequency.
type Subscription struct {
	// OrgID is the organisation the digest is about.
	OrgID string `json:"org_id"`
	// UserID is the subscriber, who must be a member of the organisation.
	UserID string `json:"user_id"`
	// Frequency is daily or weekly.
	Frequency string `json:"frequency"`
	// LocalHour (0-23) is the hour, in Timezone, from which the digest is sent.
	LocalHour int `json:"local_hour"`
	// Weekday is the day a weekly digest is sent: 0 = Sunday ... 6 =
	// Saturday. Daily digests ignore it.
	Weekday int `json:"weekday"`
	// Timezone is the IANA zone of the digest's days and hours.
	Timezone string `json:"timezone"`
	// Email is where the digest goes.
	Email string `json:"email"`
	// Enabled is false while the subscription is paused.
	Enabled bool `json:"enabled"`
	// SiteIDs limits the digest to these sites of the organisation; null
	// means every site.
	SiteIDs []string `json:"site_ids"`
	// CreatedAt is when the person subscribed. The first digest is the
	// first one due at or after it.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the last change.
	UpdatedAt time.Time `json:"updated_at"`
}

// PutParams create or change a subscription. Fields left unset (nil, or ""
// for strings) keep their current value, or take their default when the
// subscription is new. The body of PUT /v1/orgs/{org}/digest/{frequency}
// decodes straight into it; OrgID and UserID come from the request.
type PutParams struct {
	// OrgID is the organisation. Required.
	OrgID string `json:"-"`
	// UserID is the signed-in person. Required.
	UserID string `json:"-"`
	// Frequency is daily or weekly. Required.
	Frequency string `json:"frequency"`
	// LocalHour is 0-23. Defaults to 7.
	LocalHour *int `json:"local_hour"`
	// Weekday is 0 (Sunday) to 6 (Saturday), for weekly digests. Defaults
	// to 1 (Monday).
	Weekday *int `json:"weekday"`
	// Timezone is an IANA zone such as Europe/Berlin. Defaults to the zone
	// of the organisation's first site, else UTC.
	Timezone string `json:"timezone"`
	// Email is the address the digest goes to. Defaults to the user's
	// email address.
	Email string `json:"email"`
	// Enabled pauses (false) or resumes (true) the digest. Defaults to true.
	Enabled *bool `json:"enabled"`
	// SiteIDs, when set, limits the digest to these sites, which must
	// belong to the organisation; an empty list goes back to every site.
	// Nil keeps the current filter (every site for a new subscription).
	SiteIDs *[]string `json:"site_ids"`
}

const subscriptionColumns = `org_id::text, user_id::text, frequency, local_hour, weekday, timezone, email, enabled, site_ids::text[], created_at, updated_at`

func scanSubscription(row pgx.Row) (Subscription, error) {
	var s Subscription
	err := row.Scan(&s.OrgID, &s.UserID, &s.Frequency, &s.LocalHour, &s.Weekday, &s.Timezone, &s.Email, &s.Enabled, &s.SiteIDs, &s.CreatedAt, &s.UpdatedAt)
	return s, err
}

// Get returns the user's digest subscriptions in the organisation (none, or
// daily and/or weekly, in that order). Another organisation's subscriptions
// are never seen.
func Get(ctx context.Context, db database.Querier, orgID, userID string) ([]Subscription, error) {
	if !uuids.Valid(orgID) || !uuids.Valid(userID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `SELECT `+subscriptionColumns+` FROM digest_subscriptions
		 WHERE org_id = $1 AND user_id = $2 ORDER BY frequency`, orgID, userID)
	if err != nil {
		return nil, fmt.Errorf("get digest subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("get digest subscriptions: %w", err)
	}
	return subs, nil
}

// ListForUser returns the person's digest subscriptions in every live
// organisation they are a member of, by organisation and frequency.
func ListForUser(ctx context.Context, db database.Querier, userID string) ([]Subscription, error) {
	if !uuids.Valid(userID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `SELECT `+qualified(subscriptionColumns, "s.")+` FROM digest_subscriptions s
		  JOIN memberships m ON m.org_id = s.org_id AND m.user_id = s.user_id
		  JOIN organizations o ON o.id = s.org_id AND o.deleted_at IS NULL
		 WHERE s.user_id = $1 ORDER BY s.org_id, s.frequency`, userID)
	if err != nil {
		return nil, fmt.Errorf("list digest subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("list digest subscriptions: %w", err)
	}
	return subs, nil
}

// qualified prefixes each column of a column list.
func qualified(cols, prefix string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Put creates or changes the user's subscription at p.Frequency and returns
// it. The user must be a member of the organisation (else ErrNotFound); bad
// values give a *ValidationError naming the field. The change is an
// audit_log row ("digest_subscription.create" or ".update", actor
// "user:<id>"), committed with it.
func Put(ctx context.Context, db database.DB, p PutParams) (Subscription, error) {
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.UserID) {
		return Subscription{}, ErrNotFound
	}
	if err := validFrequency(p.Frequency); err != nil {
		return Subscription{}, err
	}
	if p.LocalHour != nil && (*p.LocalHour < 0 || *p.LocalHour > 23) {
		return Subscription{}, &ValidationError{Field: "local_hour", Reason: fmt.Sprintf("must be an hour from 0 to 23, not %d", *p.LocalHour)}
	}
	if p.Weekday != nil && (*p.Weekday < 0 || *p.Weekday > 6) {
		return Subscription{}, &ValidationError{Field: "weekday", Reason: fmt.Sprintf("must be from 0 (Sunday) to 6 (Saturday), not %d", *p.Weekday)}
	}
	if p.Timezone != "" {
		if err := validZone(p.Timezone); err != nil {
			return Subscription{}, err
		}
	}
	if p.Email != "" {
		addr, err := parseEmail(p.Email)
		if err != nil {
			return Subscription{}, &ValidationError{Field: "email", Reason: err.Error()}
		}
		p.Email = addr
	}
	if p.SiteIDs != nil {
		if len(*p.SiteIDs) > 500 {
			return Subscription{}, &ValidationError{Field: "site_ids", Reason: "lists more than 500 sites"}
		}
		for i, id := range *p.SiteIDs {
			if !uuids.Valid(id) {
				return Subscription{}, &ValidationError{Field: fmt.Sprintf("site_ids[%d]", i), Reason: fmt.Sprintf("%q is not a site id", id)}
			}
		}
	}

	var out Subscription
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var (
			member    bool
			userEmail *string
			siteZone  *string
			existing  *Subscription
		)
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM memberships m JOIN organizations o ON o.id = m.org_id
			                WHERE m.org_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL),
			       (SELECT email FROM users WHERE id = $2),
			       (SELECT timezone FROM sites WHERE org_id = $1 ORDER BY created_at, id LIMIT 1)`,
			p.OrgID, p.UserID).Scan(&member, &userEmail, &siteZone)
		if err != nil {
			return fmt.Errorf("check membership: %w", err)
		}
		if !member {
			return ErrNotFound
		}
		cur, err := scanSubscription(tx.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM digest_subscriptions
			 WHERE org_id = $1 AND user_id = $2 AND frequency = $3 FOR UPDATE`, p.OrgID, p.UserID, p.Frequency))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("load digest subscription: %w", err)
		default:
			existing = &cur
		}

		next := Subscription{OrgID: p.OrgID, UserID: p.UserID, Frequency: p.Frequency,
			LocalHour: DefaultLocalHour, Weekday: int(DefaultWeekday), Enabled: true}
		if existing != nil {
			next = *existing
		} else {
			next.Timezone = "UTC"
			if siteZone != nil && validZone(*siteZone) == nil {
				next.Timezone = *siteZone
			}
			if userEmail != nil {
				if addr, err := parseEmail(*userEmail); err == nil {
					next.Email = addr
				}
			}
		}
		if p.LocalHour != nil {
			next.LocalHour = *p.LocalHour
		}
		if p.Weekday != nil {
			next.Weekday = *p.Weekday
		}
		if p.Timezone != "" {
			next.Timezone = p.Timezone
		}
		if p.Email != "" {
			next.Email = p.Email
		}
		if p.Enabled != nil {
			next.Enabled = *p.Enabled
		}
		if p.SiteIDs != nil {
			next.SiteIDs = nil
			if len(*p.SiteIDs) > 0 {
				next.SiteIDs = slices.Compact(slices.Sorted(slices.Values(*p.SiteIDs)))
				var known int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM sites WHERE org_id = $1 AND id = ANY ($2::uuid[])`,
					p.OrgID, next.SiteIDs).Scan(&known); err != nil {
					return fmt.Errorf("check digest sites: %w", err)
				}
				if known != len(next.SiteIDs) {
					return &ValidationError{Field: "site_ids", Reason: "lists a site that is not in this organisation"}
				}
			}
		}
		if next.Email == "" {
			return &ValidationError{Field: "email", Reason: "is required: your account has no usable email address"}
		}

		out, err = scanSubscription(tx.QueryRow(ctx, `
			INSERT INTO digest_subscriptions (org_id, user_id, frequency, local_hour, weekday, timezone, email, enabled, site_ids)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid[])
			ON CONFLICT (org_id, user_id, frequency) DO UPDATE
			   SET local_hour = EXCLUDED.local_hour, weekday = EXCLUDED.weekday, timezone = EXCLUDED.timezone,
			       email = EXCLUDED.email, enabled = EXCLUDED.enabled, site_ids = EXCLUDED.site_ids, updated_at = now()
			RETURNING `+subscriptionColumns,
			p.OrgID, p.UserID, p.Frequency, next.LocalHour, next.Weekday, next.Timezone, next.Email, next.Enabled, next.SiteIDs))
		if err != nil {
			return fmt.Errorf("save digest subscription: %w", err)
		}
		action := "digest_subscription.create"
		if existing != nil {
			action = "digest_subscription.update"
		}
		// The address itself stays out of the append-only audit trail.
		details := map[string]any{"frequency": out.Frequency, "local_hour": out.LocalHour, "weekday": out.Weekday,
			"timezone": out.Timezone, "enabled": out.Enabled, "site_ids": out.SiteIDs, "email_changed": existing != nil && existing.Email != out.Email}
		return audit(ctx, tx, p.OrgID, p.UserID, action, p.Frequency, details)
	})
	if err != nil {
		return Subscription{}, err
	}
	return out, nil
}

// Delete removes the user's subscription at frequency (ErrNotFound when
// there is none), with an audit_log row. The record of digests already sent
// stays, so subscribing again never resends a period.
func Delete(ctx context.Context, db database.DB, orgID, userID, frequency string) error {
	if !uuids.Valid(orgID) || !uuids.Valid(userID) {
		return ErrNotFound
	}
	if err := validFrequency(frequency); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM digest_subscriptions WHERE org_id = $1 AND user_id = $2 AND frequency = $3`,
			orgID, userID, frequency)
		if err != nil {
			return fmt.Errorf("delete digest subscription: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return audit(ctx, tx, orgID, userID, "digest_subscription.delete", frequency, map[string]any{"frequency": frequency})
	})
}

func audit(ctx context.Context, tx pgx.Tx, orgID, userID, action, frequency string, details map[string]any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
		VALUES ($1, $2, $3, 'digest_subscription', $4, $5)`,
		orgID, "user:"+userID, action, userID+":"+frequency, json.RawMessage(b)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func validFrequency(f string) error {
	if f != Daily && f != Weekly {
		return &ValidationError{Field: "frequency", Reason: fmt.Sprintf("must be daily or weekly, not %q", f)}
	}
	return nil
}

// validZone accepts IANA zone names that time.LoadLocation knows. "Local"
// (the server's zone) and "" are refused: a subscription's hours must not
// depend on where the server runs.
func validZone(name string) error {
	bad := &ValidationError{Field: "timezone", Reason: fmt.Sprintf("%q is not an IANA time zone such as Europe/Berlin or America/New_York", name)}
	if name == "" || name == "Local" || len(name) > 100 {
		return bad
	}
	if _, err := time.LoadLocation(name); err != nil {
		return bad
	}
	return nil
}

// parseEmail returns the bare address of s ("Ana <ana@example.com>" gives
// "ana@example.com").
func parseEmail(s string) (string, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil || strings.ContainsAny(a.Address, " \t\r\n") || len(a.Address) > 254 {
		return "", fmt.Errorf("%q is not an email address", s)
	}
	return a.Address, nil
}
