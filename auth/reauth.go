package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// Re-authentication for electronic signatures (21 CFR 11.200): signing a
// record needs proof that the signer entered their credentials at the
// identity provider moments ago, not merely a session that is still open.
// Two proofs are accepted, both issued by the identity provider the API
// already trusts:
//
//   - A bearer token whose auth_time claim is at most ReauthMaxAge old: an
//     API client gets one by signing in again with prompt=login (or
//     max_age=0). A refreshed token keeps its original auth_time, so
//     refreshing does not count. A token without auth_time cannot sign.
//   - A signing grant (CreateSigningGrant), which the web app hands the
//     browser after a fresh sign-in round trip as the same user; the
//     browser never holds the provider's tokens. A grant signs once.
//
// API keys authenticate devices, never people, and can never sign.

// ReauthMaxAge is how recent the authentication behind a signature must be.
const ReauthMaxAge = 5 * time.Minute

// ErrReauthRequired is returned when a signature lacks a fresh
// re-authentication.
var ErrReauthRequired = errors.New("re-authentication required")

// FreshAuth reports whether authTime (the identity provider's auth_time)
// is recent enough at now for a signature. A time in the future beyond a
// minute of clock skew is refused too.
func FreshAuth(authTime, now time.Time) error {
	switch {
	case authTime.IsZero():
		return fmt.Errorf("%w: the access token carries no auth_time; sign in again with prompt=login and sign with that token", ErrReauthRequired)
	case now.Sub(authTime) > ReauthMaxAge:
		return fmt.Errorf("%w: you last entered your credentials %s ago; sign in again (prompt=login) within %s of signing",
			ErrReauthRequired, now.Sub(authTime).Truncate(time.Second), ReauthMaxAge)
	case authTime.Sub(now) > time.Minute:
		return fmt.Errorf("%w: the token's auth_time is in the future", ErrReauthRequired)
	}
	return nil
}

// CreateSigningGrant records that userID was authenticated by the identity
// provider at authTime and returns the one-time grant that proves it. The
// grant expires ReauthMaxAge after authTime.
func CreateSigningGrant(ctx context.Context, db database.Querier, userID string, authTime time.Time) (string, error) {
	if err := FreshAuth(authTime, time.Now()); err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	grant := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(grant))
	if _, err := db.Exec(ctx, `
		INSERT INTO signing_reauths (grant_sha256, user_id, authenticated_at, expires_at) VALUES ($1, $2, $3, $4)`,
		sum[:], userID, authTime, authTime.Add(ReauthMaxAge)); err != nil {
		return "", fmt.Errorf("store signing grant: %w", err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM signing_reauths WHERE expires_at < now() - interval '1 day'`); err != nil {
		return "", fmt.Errorf("clear signing grants: %w", err)
	}
	return grant, nil
}

// RedeemSigningGrant uses up userID's grant and returns when the person
// was authenticated. A grant of someone else, used, expired or unknown is
// ErrReauthRequired. Given the signature's transaction, the grant is used
// only if the signature commits.
func RedeemSigningGrant(ctx context.Context, db database.Querier, userID, grant string) (time.Time, error) {
	sum := sha256.Sum256([]byte(grant))
	var at time.Time
	err := db.QueryRow(ctx, `
		UPDATE signing_reauths SET used_at = now()
		 WHERE grant_sha256 = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > now()
		RETURNING authenticated_at`, sum[:], userID).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("%w: the re-authentication is unknown, used or expired; sign in again to sign", ErrReauthRequired)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("redeem signing grant: %w", err)
	}
	return at.UTC(), nil
}
