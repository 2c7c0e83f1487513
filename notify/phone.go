package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Phone verification limits.
const (
	// PhoneCodeTTL is how long a code works.
	PhoneCodeTTL = 10 * time.Minute
	// PhoneCodeAttempts is how many wrong codes end a check; the person
	// then asks for a new code.
	PhoneCodeAttempts = 5
	// PhoneResendSpacing is the least time between two codes to one person,
	// so the profile cannot be used to flood a number.
	PhoneResendSpacing = time.Minute
)

// Phone verification outcomes the API tells apart.
var (
	// ErrNoPendingPhone: there is no code to confirm (none asked for, or
	// it was used up).
	ErrNoPendingPhone = errors.New("no phone verification is pending; set the phone again to get a code")
	// ErrCodeExpired: the code is older than PhoneCodeTTL.
	ErrCodeExpired = errors.New("the code has expired; set the phone again to get a new one")
	// ErrTooManyAttempts: PhoneCodeAttempts wrong codes were tried.
	ErrTooManyAttempts = errors.New("too many wrong codes; set the phone again to get a new one")
	// ErrWrongCode: the code does not match.
	ErrWrongCode = errors.New("the code is not the one sent")
)

// ResendTooSoonError is returned when a new code is asked for within
// PhoneResendSpacing of the previous one.
type ResendTooSoonError struct{ RetryAfter time.Duration }

func (e *ResendTooSoonError) Error() string {
	return fmt.Sprintf("a code was sent less than %s ago; retry in %s", PhoneResendSpacing, e.RetryAfter.Round(time.Second))
}

// Service is what the API needs of notify on a person's behalf: sending
// phone codes and test messages through the real delivery path.
type Service struct {
	// DB holds users, contacts, notifications and phone_verifications.
	DB *pgxpool.Pool
	// Jobs inserts send jobs; an insert-only client is enough.
	Jobs *river.Client[pgx.Tx]
	// SMS sends phone codes at once (a code must arrive now or the person
	// is told it did not); nil answers ErrSMSNotConfigured.
	SMS Sender
	// Unsubscribe signs the unsubscribe links of test emails, and its key
	// (through a separate derivation) hashes phone codes. Required.
	Unsubscribe *Unsubscriber
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// ErrSMSNotConfigured is returned when a code cannot be sent because SMS
// is not configured.
var ErrSMSNotConfigured = errors.New("SMS is not configured on this server (FRESHTRACK_TELNYX_API_KEY), so a phone cannot be verified")

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// codeHash keys the code with the server secret and the person, so a
// leaked table cannot be matched against the million possible codes.
func (s *Service) codeHash(userID, phone, code string) []byte {
	m := hmac.New(sha256.New, s.Unsubscribe.key)
	m.Write([]byte("freshtrack.phone-code.v1\x00" + userID + "\x00" + phone + "\x00" + code))
	return m.Sum(nil)
}

// StartPhoneVerification stores phone as the person's unverified number
// (users.phone, phone_verified_at cleared; their contacts keep the old,
// verified number) and texts a 6-digit code to it. Setting the number the
// person already verified does nothing.
func (s *Service) StartPhoneVerification(ctx context.Context, userID, phone string) (sent bool, err error) {
	if !ValidPhone(phone) {
		return false, &ValidationError{Field: "phone", Reason: fmt.Sprintf("%q is not an E.164 phone number (+ then country code and number, e.g. +15550002222)", phone)}
	}
	if !uuids.Valid(userID) {
		return false, ErrNotFound
	}
	if s.SMS == nil {
		return false, ErrSMSNotConfigured
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1000000))
	if err != nil {
		return false, err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	hash := s.codeHash(userID, phone, code)
	now := s.now()
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		var cur *string
		var verified bool
		err := tx.QueryRow(ctx, `SELECT phone, phone_verified_at IS NOT NULL FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&cur, &verified)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if cur != nil && *cur == phone && verified {
			return nil
		}
		var last *time.Time
		if err := tx.QueryRow(ctx, `SELECT sent_at FROM phone_verifications WHERE user_id = $1`, userID).Scan(&last); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("load phone verification: %w", err)
		}
		if last != nil && now.Sub(*last) < PhoneResendSpacing {
			return &ResendTooSoonError{RetryAfter: PhoneResendSpacing - now.Sub(*last)}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET phone = $2, phone_verified_at = NULL, updated_at = now() WHERE id = $1`, userID, phone); err != nil {
			return fmt.Errorf("store phone: %w", err)
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO phone_verifications (user_id, phone, code_hash, attempts, sent_at, expires_at) VALUES ($1, $2, $3, 0, $4, $5)
ON CONFLICT (user_id) DO UPDATE SET phone = EXCLUDED.phone, code_hash = EXCLUDED.code_hash, attempts = 0,
       sent_at = EXCLUDED.sent_at, expires_at = EXCLUDED.expires_at`, userID, phone, hash, now, now.Add(PhoneCodeTTL)); err != nil {
			return fmt.Errorf("store phone verification: %w", err)
		}
		sent = true
		return auditEveryOrg(ctx, tx, userID, "profile.phone_set", map[string]any{"verified": false})
	})
	if err != nil || !sent {
		return false, err
	}
	_, sendErr := s.SMS.Send(ctx, Message{Channel: SMS, To: phone,
		Text: "Your FreshTrack verification code is " + code + ". It expires in 10 minutes. If you did not ask for it, ignore this message."})
	if sendErr != nil {
		// Drop the unusable code so that asking again is not held back by
		// the resend spacing.
		_, _ = s.DB.Exec(context.WithoutCancel(ctx), `DELETE FROM phone_verifications WHERE user_id = $1 AND code_hash = $2`, userID, hash)
		return false, fmt.Errorf("send verification code: %w", sendErr)
	}
	return true, nil
}

// ConfirmPhone checks code against the pending verification (constant
// time, at most PhoneCodeAttempts tries, before it expires). On a match the
// number becomes verified and is copied to every contact linked to the
// person, which is when alerts start using it.
func (s *Service) ConfirmPhone(ctx context.Context, userID, code string) (phone string, err error) {
	if len(code) != 6 || !isDigits(code) {
		return "", &ValidationError{Field: "code", Reason: "must be the 6 digits sent by SMS"}
	}
	if !uuids.Valid(userID) {
		return "", ErrNotFound
	}
	now := s.now()
	var outcome error
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		var (
			hash      []byte
			attempts  int
			expiresAt time.Time
		)
		err := tx.QueryRow(ctx, `SELECT phone, code_hash, attempts, expires_at FROM phone_verifications WHERE user_id = $1 FOR UPDATE`, userID).
			Scan(&phone, &hash, &attempts, &expiresAt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			outcome = ErrNoPendingPhone
			return nil
		case err != nil:
			return fmt.Errorf("load phone verification: %w", err)
		case !now.Before(expiresAt):
			outcome = ErrCodeExpired
			return nil
		case attempts >= PhoneCodeAttempts:
			outcome = ErrTooManyAttempts
			return nil
		}
		if !hmac.Equal(hash, s.codeHash(userID, phone, code)) {
			// The failed attempt commits, so the limit holds.
			if _, err := tx.Exec(ctx, `UPDATE phone_verifications SET attempts = attempts + 1 WHERE user_id = $1`, userID); err != nil {
				return fmt.Errorf("count attempt: %w", err)
			}
			outcome = ErrWrongCode
			if attempts+1 >= PhoneCodeAttempts {
				outcome = ErrTooManyAttempts
			}
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM phone_verifications WHERE user_id = $1`, userID); err != nil {
			return fmt.Errorf("finish phone verification: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET phone = $2, phone_verified_at = now(), updated_at = now() WHERE id = $1`, userID, phone); err != nil {
			return fmt.Errorf("verify phone: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE contacts SET phone = $2, version = version + 1, updated_at = now()
WHERE user_id = $1 AND phone IS DISTINCT FROM $2`, userID, phone)
		if err != nil {
			return fmt.Errorf("copy phone to contacts: %w", err)
		}
		return auditEveryOrg(ctx, tx, userID, "profile.phone_verified", map[string]any{"contacts_updated": tag.RowsAffected()})
	})
	if err != nil {
		return "", err
	}
	if outcome != nil {
		return "", outcome
	}
	return phone, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// PhoneCodeHash is the stored form of a phone code: HMAC-SHA256 under the
// server key of the person, the number and the code. Tests use it to
// prepare a pending verification with a known code.
func PhoneCodeHash(u *Unsubscriber, userID, phone, code string) []byte {
	return (&Service{Unsubscribe: u}).codeHash(userID, phone, code)
}
