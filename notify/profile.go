package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/errs"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// ValidationError reports a parameter that cannot be accepted; the API
// answers 400 naming Field.
type ValidationError = errs.ValidationError

// Profile is how a person is reached: what GET /v1/me shows beside their
// digests.
type Profile struct {
	ID    string  `json:"id"`
	Name  *string `json:"name"`
	Email *string `json:"email"`
	// Phone is the number alerts use once PhoneVerified; a number typed
	// in and not confirmed yet is here too, with PhoneVerified false, and
	// is used for nothing but the code.
	Phone         *string `json:"phone"`
	PhoneVerified bool    `json:"phone_verified"`
	SMSOptIn      bool    `json:"sms_opt_in"`
	EmailOptIn    bool    `json:"email_opt_in"`
	// Timezone is the IANA zone times are shown in; null follows the site.
	Timezone *string `json:"timezone"`
	// PhonePending is true while a code sent to Phone waits to be
	// confirmed (POST /v1/me/phone/confirm).
	PhonePending bool `json:"phone_pending"`
}

// GetProfile returns the person's profile; ErrNotFound for an unknown id.
func GetProfile(ctx context.Context, db database.Querier, userID string) (Profile, error) {
	if !uuids.Valid(userID) {
		return Profile{}, ErrNotFound
	}
	var p Profile
	err := db.QueryRow(ctx, `SELECT id::text, name, email, phone, phone_verified_at IS NOT NULL AND phone IS NOT NULL,
       sms_opt_in, email_opt_in, timezone, EXISTS (SELECT 1 FROM phone_verifications v WHERE v.user_id = users.id AND v.phone = users.phone)
  FROM users WHERE id = $1`, userID).
		Scan(&p.ID, &p.Name, &p.Email, &p.Phone, &p.PhoneVerified, &p.SMSOptIn, &p.EmailOptIn, &p.Timezone, &p.PhonePending)
	if errors.Is(err, pgx.ErrNoRows) {
		return Profile{}, ErrNotFound
	}
	if err != nil {
		return Profile{}, fmt.Errorf("get profile: %w", err)
	}
	return p, nil
}

// ProfileChange is a PATCH of the profile's own fields; nil leaves a field
// as it is. Phone goes through Service.StartPhoneVerification instead.
type ProfileChange struct {
	Name       *string
	SMSOptIn   *bool
	EmailOptIn *bool
	// Timezone is an IANA zone; "" clears it.
	Timezone *string
}

// Validate names the first bad field.
func (c ProfileChange) Validate() error {
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		if n == "" || utf8.RuneCountInString(n) > 200 || !utf8.ValidString(n) {
			return &ValidationError{Field: "name", Reason: "must be 1 to 200 characters"}
		}
	}
	if c.Timezone != nil && *c.Timezone != "" {
		if err := ValidZone(*c.Timezone); err != nil {
			return err
		}
	}
	return nil
}

// ValidZone accepts IANA zone names that time.LoadLocation knows; "Local"
// (the server's zone) is refused.
func ValidZone(name string) error {
	bad := &ValidationError{Field: "timezone", Reason: fmt.Sprintf("%q is not an IANA time zone such as Europe/Berlin or America/New_York", name)}
	if name == "" || name == "Local" || len(name) > 100 {
		return bad
	}
	if _, err := time.LoadLocation(name); err != nil {
		return bad
	}
	return nil
}

// UpdateProfileTx runs UpdateProfile and then also (when set) in one
// transaction, so that a profile change and the digest choices sent with
// it commit together or not at all.
func UpdateProfileTx(ctx context.Context, db database.DB, userID string, c ProfileChange, also func(ctx context.Context, tx database.DB) error) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := UpdateProfile(ctx, tx, userID, c); err != nil {
			return err
		}
		if also != nil {
			return also(ctx, tx)
		}
		return nil
	})
}

// UpdateProfile applies c in tx and audits it in every organisation the
// person belongs to (the audit trail is per organisation, and each should
// see why its alerts stopped reaching someone).
func UpdateProfile(ctx context.Context, tx database.Querier, userID string, c ProfileChange) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Name == nil && c.SMSOptIn == nil && c.EmailOptIn == nil && c.Timezone == nil {
		return nil
	}
	var name *string
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		name = &n
	}
	tag, err := tx.Exec(ctx, `UPDATE users SET name = coalesce($2, name),
       name_chosen_at = CASE WHEN $2::text IS NULL THEN name_chosen_at ELSE now() END, sms_opt_in = coalesce($3, sms_opt_in),
       email_opt_in = coalesce($4, email_opt_in),
       timezone = CASE WHEN $5::text IS NULL THEN timezone ELSE nullif($5, '') END, updated_at = now()
 WHERE id = $1`, userID, name, c.SMSOptIn, c.EmailOptIn, c.Timezone)
	if err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	details := map[string]any{}
	if c.Name != nil {
		details["name_changed"] = true
	}
	if c.SMSOptIn != nil {
		details["sms_opt_in"] = *c.SMSOptIn
	}
	if c.EmailOptIn != nil {
		details["email_opt_in"] = *c.EmailOptIn
	}
	if c.Timezone != nil {
		details["timezone"] = *c.Timezone
	}
	return auditEveryOrg(ctx, tx, userID, "profile.update", details)
}

// auditEveryOrg writes one audit row per organisation the person is a
// member of.
func auditEveryOrg(ctx context.Context, tx database.Querier, userID, action string, details map[string]any) error {
	rows, err := tx.Query(ctx, `SELECT org_id::text FROM memberships WHERE user_id = $1 ORDER BY org_id`, userID)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	orgs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	for _, org := range orgs {
		if err := auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: org, Actor: "user:" + userID, Action: action,
			TargetType: "user", TargetID: userID, Details: details}); err != nil {
			return err
		}
	}
	return nil
}
