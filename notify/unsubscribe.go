package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Mailing lists a person can leave with one click (RFC 8058).
const (
	// ListAlerts is alert email: leaving it turns off the person's email
	// opt-in (users.email_opt_in), which recipient resolution honours.
	ListAlerts = "alerts"
	// ListDaily and ListWeekly are the digests: leaving one disables that
	// digest subscription in the token's organisation.
	ListDaily  = "daily"
	ListWeekly = "weekly"
)

var listCodes = map[string]byte{ListAlerts: 'a', ListDaily: 'd', ListWeekly: 'w'}

// UnsubscribePath is the public route the links point to.
const UnsubscribePath = "/v1/unsubscribe"

// UnsubscribeKeyName is the server_secrets row that holds the generated
// unsubscribe key.
const UnsubscribeKeyName = "unsubscribe_hmac"

// ErrBadToken is returned for an unsubscribe token that is malformed, or
// whose signature does not match (forged or altered).
var ErrBadToken = errors.New("unsubscribe token is not valid")

// UnsubscribeToken is what a signed unsubscribe link stands for: one
// person leaving one list in one organisation.
type UnsubscribeToken struct {
	UserID, OrgID, List string
}

// Unsubscriber signs and checks unsubscribe tokens and builds their links.
// A token is base64url(user uuid ‖ org uuid ‖ list code ‖ HMAC-SHA256 of
// those 33 bytes); it does not expire, since a link in an old email must
// still work, and it carries no secret beyond what it unsubscribes.
type Unsubscriber struct {
	key       []byte
	publicURL string
}

// NewUnsubscriber returns an Unsubscriber signing with key (at least 32
// bytes) whose links start with publicURL.
func NewUnsubscriber(key []byte, publicURL string) (*Unsubscriber, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("unsubscribe key has %d bytes; it needs at least 32 (FRESHTRACK_UNSUBSCRIBE_KEY)", len(key))
	}
	return &Unsubscriber{key: bytes.Clone(key), publicURL: strings.TrimRight(publicURL, "/")}, nil
}

// LoadUnsubscribeKey returns the configured key when set, else the key
// generated once for this database and kept in server_secrets, so every
// instance and every restart signs alike.
func LoadUnsubscribeKey(ctx context.Context, db database.Querier, configured string) ([]byte, error) {
	if configured != "" {
		if len(configured) < 32 {
			return nil, errors.New("FRESHTRACK_UNSUBSCRIBE_KEY must be at least 32 characters; leave it empty to let the server generate one")
		}
		return []byte(configured), nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var key []byte
	err := db.QueryRow(ctx, `
WITH ins AS (
    INSERT INTO server_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING secret
)
SELECT secret FROM ins UNION ALL SELECT secret FROM server_secrets WHERE name = $1
LIMIT 1`, UnsubscribeKeyName, fresh).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("load unsubscribe key: %w", err)
	}
	return key, nil
}

func (u *Unsubscriber) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("freshtrack.unsubscribe.v1\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// Token signs t. It returns ErrBadToken for ids that are not UUIDs or an
// unknown list.
func (u *Unsubscriber) Token(t UnsubscribeToken) (string, error) {
	user, err1 := uuidBytes(t.UserID)
	org, err2 := uuidBytes(t.OrgID)
	code, ok := listCodes[t.List]
	if err1 != nil || err2 != nil || !ok {
		return "", fmt.Errorf("%w: cannot sign %+v", ErrBadToken, t)
	}
	payload := append(append(append(make([]byte, 0, 65), user...), org...), code)
	return base64.RawURLEncoding.EncodeToString(append(payload, u.mac(payload)...)), nil
}

// URL returns the one-click link for t, or "" when t cannot be signed.
func (u *Unsubscriber) URL(t UnsubscribeToken) string {
	tok, err := u.Token(t)
	if err != nil {
		return ""
	}
	return u.publicURL + UnsubscribePath + "?token=" + url.QueryEscape(tok)
}

// Parse checks a token's signature in constant time and returns what it
// stands for.
func (u *Unsubscriber) Parse(token string) (UnsubscribeToken, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 65 {
		return UnsubscribeToken{}, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	payload, sig := raw[:33], raw[33:]
	if !hmac.Equal(sig, u.mac(payload)) {
		return UnsubscribeToken{}, fmt.Errorf("%w: signature does not match", ErrBadToken)
	}
	t := UnsubscribeToken{UserID: uuidString(payload[:16]), OrgID: uuidString(payload[16:32])}
	for list, code := range listCodes {
		if code == payload[32] {
			t.List = list
		}
	}
	if t.List == "" {
		return UnsubscribeToken{}, fmt.Errorf("%w: unknown list", ErrBadToken)
	}
	return t, nil
}

// Unsubscribe applies t: alerts turns the person's email opt-in off, a
// digest list disables that subscription in t.OrgID. It is idempotent and
// audited in the organisation (only when something changed), and reports
// whether anything changed.
func Unsubscribe(ctx context.Context, db database.DB, t UnsubscribeToken) (changed bool, err error) {
	if !uuids.Valid(t.UserID) || !uuids.Valid(t.OrgID) {
		return false, ErrBadToken
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var tag interface{ RowsAffected() int64 }
		switch t.List {
		case ListAlerts:
			tag, err = tx.Exec(ctx, `UPDATE users SET email_opt_in = false, updated_at = now() WHERE id = $1 AND email_opt_in`, t.UserID)
		case ListDaily, ListWeekly:
			tag, err = tx.Exec(ctx, `UPDATE digest_subscriptions SET enabled = false, updated_at = now()
WHERE org_id = $1 AND user_id = $2 AND frequency = $3 AND enabled`, t.OrgID, t.UserID, t.List)
		default:
			return ErrBadToken
		}
		if err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		if changed = tag.RowsAffected() > 0; !changed {
			return nil
		}
		var orgExists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)`, t.OrgID).Scan(&orgExists); err != nil || !orgExists {
			return err // a deleted organisation has no audit trail to write to
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: t.OrgID, Actor: "user:" + t.UserID, Action: "notify.unsubscribe",
			TargetType: "user", TargetID: t.UserID, Details: map[string]any{"list": t.List, "via": "one-click link"}})
	})
	return changed, err
}

func uuidBytes(s string) ([]byte, error) {
	if !uuids.Valid(s) {
		return nil, errors.New("not a uuid")
	}
	return hex.DecodeString(strings.ReplaceAll(s, "-", ""))
}

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
