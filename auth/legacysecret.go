package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Sources of the FreshTrack Pro secrets that become legacy secrets.
const (
	// LegacySourceWebhookSecret is ttn_connections.webhook_secret: what
	// FreshTrack Pro's devices send in X-API-Key or X-Webhook-Secret.
	LegacySourceWebhookSecret = "ttn_connections.webhook_secret"
	// LegacySourceTTNWebhookSecret is the secret FreshTrack Pro put on the
	// TTN webhooks it provisioned (Authorization: <secret>).
	LegacySourceTTNWebhookSecret = "ttn_webhook_secret"
)

// Legacy secrets are whatever FreshTrack Pro generated or its users typed:
// printable ASCII without spaces (what an HTTP header carries as one
// token), 8 to 512 bytes.
const (
	minLegacySecretLen = 8
	maxLegacySecretLen = 512
)

// wellFormedLegacySecret reports whether b can be a legacy secret, without
// allocating.
func wellFormedLegacySecret(b []byte) bool {
	if len(b) < minLegacySecretLen || len(b) > maxLegacySecretLen {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// IsAPIKeyShaped reports whether a presented credential has the shape of a
// FreshTrack API key (ftk_...), to be checked by a [KeyVerifier] rather
// than a [LegacySecretVerifier]. It does not allocate.
func IsAPIKeyShaped(b []byte) bool { return wellFormedKey(b) }

// LegacySecret is a legacy secret's metadata; the secret itself is never
// stored, only its SHA-256.
type LegacySecret struct {
	// ID is the secret's UUID.
	ID string
	// OrgID is the organisation the secret authenticates as.
	OrgID string
	// Source is where the secret came from ([LegacySourceWebhookSecret],
	// [LegacySourceTTNWebhookSecret]).
	Source string
	// CreatedAt is when the secret was imported.
	CreatedAt time.Time
	// LastUsedAt is when the secret last authenticated a request, to
	// within about a minute; nil if never.
	LastUsedAt *time.Time
	// RevokedAt is when the secret was revoked; nil while it is valid.
	RevokedAt *time.Time
}

// LegacySecretView is a legacy secret as the API answers it and
// `freshtrack legacy-secret list --json` prints it.
type LegacySecretView struct {
	ID         string     `json:"id"`
	Source     string     `json:"source"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// View is the secret's wire form.
func (s LegacySecret) View() LegacySecretView {
	return LegacySecretView{ID: s.ID, Source: s.Source, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, RevokedAt: s.RevokedAt}
}

// CreateLegacySecret makes secret, a FreshTrack Pro webhook secret, an
// ingest credential of an organisation that has not been deleted
// ([ErrNotFound] otherwise), accepted by the legacy routes only. Only its
// SHA-256 is stored; source says where it came from (e.g.
// [LegacySourceWebhookSecret]). The creation is recorded in the audit log
// (actor "system", details: the source).
//
// Creating a secret the organisation already has is a no-op that returns
// the existing id, revoked or not (an import that is run again must not
// revive a secret someone revoked). A secret of another organisation is a
// [*ConflictError]; one that is not 8 to 512 printable ASCII characters, or
// that has the shape of a FreshTrack API key, a [*ValidationError].
func CreateLegacySecret(ctx context.Context, db database.Querier, orgID, secret, source string) (id string, err error) {
	if !uuids.Valid(orgID) {
		return "", ErrNotFound
	}
	if !wellFormedLegacySecret([]byte(secret)) {
		return "", &ValidationError{Field: "secret", Reason: fmt.Sprintf("must be %d to %d printable ASCII characters without spaces", minLegacySecretLen, maxLegacySecretLen)}
	}
	if wellFormedKey([]byte(secret)) {
		return "", &ValidationError{Field: "secret", Reason: "has the shape of a FreshTrack API key (ftk_...); use it as one"}
	}
	source, err = cleanName("source", source)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(secret))
	// The statement's snapshot does not see a row a concurrent creation
	// commits while it waits on the unique index: then neither the insert
	// nor the lookup returns a row, and the next attempt sees it.
	for range 3 {
		var (
			orgExists             bool
			created, existing, in *string
		)
		err := db.QueryRow(ctx, `
			WITH o AS (
				SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL
			), s AS (
				INSERT INTO legacy_secrets (org_id, secret_sha256, source)
				SELECT id, $2, $3 FROM o
				ON CONFLICT (secret_sha256) DO NOTHING
				RETURNING id, org_id, source
			), a AS (
				INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
				SELECT org_id, 'system', 'legacy_secret.create', 'legacy_secret', id::text, jsonb_build_object('source', source)
				  FROM s
			)
			SELECT EXISTS (SELECT 1 FROM o), (SELECT id FROM s),
			       (SELECT id FROM legacy_secrets WHERE secret_sha256 = $2),
			       (SELECT org_id FROM legacy_secrets WHERE secret_sha256 = $2)`,
			orgID, sum[:], source).Scan(&orgExists, &created, &existing, &in)
		switch code, _ := pgCode(err); {
		case code == "23503": // the organisation was deleted meanwhile
			return "", ErrNotFound
		case err != nil:
			return "", fmt.Errorf("create legacy secret: %w", err)
		case !orgExists:
			return "", ErrNotFound
		case created != nil:
			return *created, nil
		case existing != nil && *in == orgID:
			return *existing, nil
		case existing != nil:
			return "", &ConflictError{Reason: "this secret is already a credential of another organisation; each FreshTrack Pro secret belongs to one"}
		}
	}
	return "", errors.New("create legacy secret: a concurrent creation of the same secret did not become visible; retry")
}

// ListLegacySecrets returns the legacy secrets of an organisation that has
// not been deleted, revoked ones included, oldest first; [ErrNotFound] for
// an unknown or deleted organisation.
func ListLegacySecrets(ctx context.Context, db database.Querier, orgID string) ([]LegacySecret, error) {
	if !uuids.Valid(orgID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT s.id, s.org_id, s.source, s.created_at, s.last_used_at, s.revoked_at
		  FROM legacy_secrets s JOIN organizations o ON o.id = s.org_id
		 WHERE s.org_id = $1 AND o.deleted_at IS NULL
		 ORDER BY s.created_at, s.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list legacy secrets: %w", err)
	}
	secrets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LegacySecret, error) {
		var s LegacySecret
		err := row.Scan(&s.ID, &s.OrgID, &s.Source, &s.CreatedAt, &s.LastUsedAt, &s.RevokedAt)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list legacy secrets: %w", err)
	}
	if len(secrets) == 0 {
		if _, err := GetOrganization(ctx, db, orgID); err != nil {
			return nil, err
		}
		return []LegacySecret{}, nil
	}
	return secrets, nil
}

// RevokeLegacySecret revokes a legacy secret of an organisation and records
// it in the audit log. It returns [ErrNotFound] if the organisation has no
// such secret, and nil without a second audit row if it is already
// revoked. As with [RevokeAPIKey], a [LegacySecretVerifier] that trusted the
// secret keeps accepting it for at most its TTL.
func RevokeLegacySecret(ctx context.Context, db database.Querier, orgID, secretID, actor string) error {
	if !uuids.Valid(orgID) || !uuids.Valid(secretID) {
		return ErrNotFound
	}
	var exists bool
	err := db.QueryRow(ctx, `
		WITH u AS (
			UPDATE legacy_secrets SET revoked_at = now()
			 WHERE id = $2 AND org_id = $1 AND revoked_at IS NULL
			RETURNING id, org_id, source
		), a AS (
			INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
			SELECT org_id, $3, 'legacy_secret.revoke', 'legacy_secret', id::text, jsonb_build_object('source', source)
			  FROM u
		)
		SELECT EXISTS (SELECT 1 FROM legacy_secrets s JOIN organizations o ON o.id = s.org_id
		                WHERE s.id = $2 AND s.org_id = $1 AND o.deleted_at IS NULL)`,
		orgID, secretID, actorOr(actor)).Scan(&exists)
	if err != nil {
		return fmt.Errorf("revoke legacy secret: %w", err)
	}
	if !exists {
		return ErrNotFound
	}
	return nil
}

// legacySecrets is the kind of credential a [LegacySecretVerifier] checks.
var legacySecrets = &credentialKind{
	name:        "legacy secrets",
	one:         "legacy secret",
	legacy:      true,
	redisPrefix: "freshtrack:legacysecret:",
	wellFormed:  wellFormedLegacySecret,
	find:        findLegacySecret,
	touchSQL: `
			WITH u AS (
				SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, at)
			), l AS (
				SELECT s.id, u.at FROM legacy_secrets s JOIN u ON u.id = s.id
				 WHERE s.last_used_at IS NULL OR s.last_used_at < u.at
				   FOR UPDATE OF s SKIP LOCKED
			)
			UPDATE legacy_secrets s SET last_used_at = l.at FROM l WHERE s.id = l.id`,
	mOK:           metrics.NewCounter(`freshtrack_auth_legacy_secret_verifications_total{result="ok"}`),
	mUnauthorized: metrics.NewCounter(`freshtrack_auth_legacy_secret_verifications_total{result="unauthorized"}`),
	mErrors:       metrics.NewCounter(`freshtrack_auth_legacy_secret_verifications_total{result="error"}`),
	mRedis:        metrics.NewCounter(`freshtrack_auth_legacy_secret_lookups_total{source="redis"}`),
	mDB:           metrics.NewCounter(`freshtrack_auth_legacy_secret_lookups_total{source="database"}`),
	mTouchErrors:  metrics.NewCounter(`freshtrack_auth_legacy_secret_last_used_errors_total`),
}

// legacyScopes are what every legacy secret may do: send readings.
var legacyScopes = []string{ScopeIngest}

// findLegacySecret finds a secret by its SHA-256 (unique): the lookup's
// timing can tell an attacker about a hash, never about a secret.
func findLegacySecret(ctx context.Context, pool *pgxpool.Pool, _ string, sum [sha256.Size]byte) (Principal, *time.Time, bool, error) {
	p := Principal{Scopes: legacyScopes}
	var lastUsed *time.Time
	err := pool.QueryRow(ctx, `
		SELECT s.id, s.org_id, s.last_used_at
		  FROM legacy_secrets s JOIN organizations o ON o.id = s.org_id
		 WHERE s.secret_sha256 = $1 AND s.revoked_at IS NULL AND o.deleted_at IS NULL`,
		sum[:]).Scan(&p.KeyID, &p.OrgID, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil, false, nil
	}
	if err != nil {
		return p, nil, false, fmt.Errorf("look up legacy secret: %w", err)
	}
	return p, lastUsed, true, nil
}

// LegacySecretVerifier authenticates FreshTrack Pro secrets
// ([CreateLegacySecret]) exactly as [KeyVerifier] does API keys, with the
// same options: verified secrets are trusted for TTL (so a revoked secret
// stops working within it), refused ones for NegativeTTL, optionally shared
// through Redis (under freshtrack:legacysecret:), and last_used_at is
// written at most once a minute. Principals it returns have Legacy set and
// the ingest scope.
type LegacySecretVerifier struct {
	v *KeyVerifier
}

// NewLegacySecretVerifier returns a verifier of legacy secrets against pool.
func NewLegacySecretVerifier(pool *pgxpool.Pool, opts KeyVerifierOptions) *LegacySecretVerifier {
	return &LegacySecretVerifier{v: newCredentialVerifier(pool, legacySecrets, opts)}
}

// Verify returns the principal of a legacy secret: [ErrUnauthorized] for a
// malformed, unknown or revoked secret or one of a deleted organisation,
// any other error when it could not be checked (answer 503). secret may be
// the request's header buffer; a secret verified within TTL is answered
// from memory without allocating.
func (l *LegacySecretVerifier) Verify(ctx context.Context, secret []byte) (Principal, error) {
	return l.v.Verify(ctx, secret)
}

// Close waits for pending last_used_at writes.
func (l *LegacySecretVerifier) Close() { l.v.Close() }
