package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Scopes an API key can carry.
const (
	// ScopeIngest allows sending readings.
	ScopeIngest = "ingest"
	// ScopeRead allows reading the organisation's data.
	ScopeRead = "read"

	maxKeyScopes = 8
)

// Key format: "ftk_" + prefix + "_" + secret.
const (
	keyMarker   = "ftk_"
	prefixLen   = 8  // 5 random bytes
	secretLen   = 32 // 20 random bytes, 160 bits
	keyLen      = len(keyMarker) + prefixLen + 1 + secretLen
	keyAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
)

// keyEncoding is lowercase RFC 4648 base32 without padding: URL-safe and free
// of the digits 0, 1, 8 and 9 that read like letters.
var keyEncoding = base32.NewEncoding(keyAlphabet).WithPadding(base32.NoPadding)

// keyChar marks the bytes of keyAlphabet.
var keyChar = func() (t [256]bool) {
	for i := 0; i < len(keyAlphabet); i++ {
		t[keyAlphabet[i]] = true
	}
	return t
}()

// wellFormedKey reports whether key has the shape of an API key, without
// allocating, so garbage never reaches a cache or the database.
func wellFormedKey(key []byte) bool {
	if len(key) != keyLen || string(key[:len(keyMarker)]) != keyMarker || key[len(keyMarker)+prefixLen] != '_' {
		return false
	}
	for i, c := range key[len(keyMarker):] {
		if i != prefixLen && !keyChar[c] {
			return false
		}
	}
	return true
}

// keyPrefix returns the lookup prefix of a well-formed key.
func keyPrefix(key []byte) []byte { return key[len(keyMarker) : len(keyMarker)+prefixLen] }

// newKey returns a fresh random key and its lookup prefix.
func newKey() (key, prefix string, err error) {
	var raw [5 + 20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("read random: %w", err)
	}
	prefix = keyEncoding.EncodeToString(raw[:5])
	return keyMarker + prefix + "_" + keyEncoding.EncodeToString(raw[5:]), prefix, nil
}

// APIKey is an API key's metadata; the key itself is never stored.
type APIKey struct {
	// ID is the key's UUID.
	ID string
	// OrgID is the organisation the key authenticates as.
	OrgID string
	// Name says what the key is for ("Walk-in gateway").
	Name string
	// Prefix is the key's 8-character lookup prefix, safe to show so people
	// can tell their keys apart (ftk_<prefix>_…).
	Prefix string
	// Scopes are what the key may do ([ScopeIngest], [ScopeRead]).
	Scopes []string
	// CreatedAt is when the key was created.
	CreatedAt time.Time
	// LastUsedAt is when the key last authenticated a request, to within
	// about a minute; nil if never.
	LastUsedAt *time.Time
	// RevokedAt is when the key was revoked; nil while it is valid.
	RevokedAt *time.Time
}

// APIKeyView is an API key as the API answers it and `freshtrack apikey
// --json` prints it: its metadata, the prefix as the key starts
// (ftk_<prefix>), and the whole key only when it was just created.
type APIKeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Key        string     `json:"key,omitempty"`
}

// View is the key's wire form, without the secret (which is not kept).
func (k APIKey) View() APIKeyView {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return APIKeyView{ID: k.ID, Name: k.Name, Prefix: keyMarker + k.Prefix, Scopes: scopes, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// View is the new key's wire form, with the whole key: show it once.
func (k CreatedAPIKey) View() APIKeyView {
	v := k.APIKey.View()
	v.Key = k.Key
	return v
}

// CreatedAPIKey is a new key: the plaintext, which exists only here, and its
// metadata. String and LogValue leave the plaintext out, so printing or
// logging the value does not leak it.
type CreatedAPIKey struct {
	// Key is the plaintext key, to be shown to the user once.
	Key string
	// APIKey is the key's metadata.
	APIKey APIKey
}

// String describes the key without its secret.
func (k CreatedAPIKey) String() string {
	return fmt.Sprintf("API key %s (%s%s_…)", k.APIKey.ID, keyMarker, k.APIKey.Prefix)
}

// LogValue implements slog.LogValuer without the secret.
func (k CreatedAPIKey) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", k.APIKey.ID),
		slog.String("org_id", k.APIKey.OrgID),
		slog.String("prefix", k.APIKey.Prefix),
	)
}

// CreateAPIKeyParams are the inputs of [CreateAPIKey].
type CreateAPIKeyParams struct {
	// OrgID is the organisation the key authenticates as.
	OrgID string
	// Name is trimmed and must then be 1 to 200 characters.
	Name string
	// Scopes are what the key may do: [ScopeIngest] and/or [ScopeRead].
	// Duplicates are dropped. Defaults to [ScopeIngest].
	Scopes []string
	// CreatedBy is the id of the user creating the key, if any.
	CreatedBy *string
	// Actor is recorded in the audit log ("cli", "user:<id>"). Defaults to "system".
	Actor string
}

// CreateAPIKey creates a key for an organisation that has not been deleted
// ([ErrNotFound] otherwise) and records it in the audit log with its name and
// prefix. The plaintext is returned once, here, and stored nowhere.
func CreateAPIKey(ctx context.Context, db database.Querier, p CreateAPIKeyParams) (CreatedAPIKey, error) {
	if !uuids.Valid(p.OrgID) {
		return CreatedAPIKey{}, ErrNotFound
	}
	name, err := cleanName("name", p.Name)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	scopes, err := cleanScopes(p.Scopes)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	if p.CreatedBy != nil && !uuids.Valid(*p.CreatedBy) {
		return CreatedAPIKey{}, &ValidationError{Field: "created_by", Reason: "must be a user id (UUID)"}
	}
	// A clash of the 40-bit prefix with an existing key is rare but possible;
	// ON CONFLICT makes it a retry rather than an error that would abort the
	// caller's transaction.
	for range 3 {
		key, prefix, err := newKey()
		if err != nil {
			return CreatedAPIKey{}, fmt.Errorf("create api key: %w", err)
		}
		hash := sha256.Sum256([]byte(key))
		var (
			orgExists               bool
			id, orgID, kName, kPref *string
			kScopes                 []string
			createdAt               *time.Time
		)
		err = db.QueryRow(ctx, `
			WITH o AS (
				SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL
			), k AS (
				INSERT INTO api_keys (org_id, name, prefix, hash, scopes, created_by)
				SELECT id, $2, $3, $4, $5, $6 FROM o
				ON CONFLICT (prefix) DO NOTHING
				RETURNING id, org_id, name, prefix, scopes, created_at
			), a AS (
				INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
				SELECT org_id, $7, 'api_key.create', 'api_key', id::text,
				       jsonb_build_object('name', name, 'prefix', prefix, 'scopes', scopes)
				  FROM k
			)
			SELECT EXISTS (SELECT 1 FROM o), k.id, k.org_id, k.name, k.prefix, k.scopes, k.created_at
			  FROM (SELECT) AS one LEFT JOIN k ON true`,
			p.OrgID, name, prefix, hash[:], scopes, p.CreatedBy, actorOr(p.Actor),
		).Scan(&orgExists, &id, &orgID, &kName, &kPref, &kScopes, &createdAt)
		switch code, constraint := pgCode(err); {
		case code == "23503" && constraint == "api_keys_created_by_fkey":
			return CreatedAPIKey{}, &ValidationError{Field: "created_by", Reason: "no such user"}
		case code == "23503": // the organisation was deleted meanwhile
			return CreatedAPIKey{}, ErrNotFound
		case err != nil:
			return CreatedAPIKey{}, fmt.Errorf("create api key: %w", err)
		case !orgExists:
			return CreatedAPIKey{}, ErrNotFound
		case id == nil:
			continue // prefix taken
		}
		k := APIKey{ID: *id, OrgID: *orgID, Name: *kName, Prefix: *kPref, Scopes: kScopes, CreatedAt: *createdAt}
		return CreatedAPIKey{Key: key, APIKey: k}, nil
	}
	return CreatedAPIKey{}, errors.New("create api key: no free key prefix after 3 attempts; retry")
}

// cleanScopes applies the default and rejects unknown scopes.
func cleanScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return []string{ScopeIngest}, nil
	}
	if len(scopes) > maxKeyScopes {
		return nil, &ValidationError{Field: "scopes", Reason: fmt.Sprintf("at most %d scopes", maxKeyScopes)}
	}
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if s != ScopeIngest && s != ScopeRead {
			return nil, &ValidationError{Field: "scopes", Reason: fmt.Sprintf("unknown scope %q; allowed: %s, %s", s, ScopeIngest, ScopeRead)}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// ListAPIKeys returns all keys of an organisation that has not been deleted,
// revoked ones included, oldest first; [ErrNotFound] for an unknown or
// deleted organisation.
func ListAPIKeys(ctx context.Context, db database.Querier, orgID string) ([]APIKey, error) {
	if !uuids.Valid(orgID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT k.id, k.org_id, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at, k.revoked_at
		  FROM api_keys k JOIN organizations o ON o.id = k.org_id
		 WHERE k.org_id = $1 AND o.deleted_at IS NULL
		 ORDER BY k.created_at, k.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := row.Scan(&k.ID, &k.OrgID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	if len(keys) == 0 {
		// No keys, or no organisation?
		if _, err := GetOrganization(ctx, db, orgID); err != nil {
			return nil, err
		}
		return []APIKey{}, nil
	}
	return keys, nil
}

// RevokeAPIKey revokes a key of an organisation and records it in the audit
// log. It returns [ErrNotFound] if the organisation has no such key, and nil
// without a second audit row if the key is already revoked.
//
// Only the database is written: a [KeyVerifier] that trusted the key keeps
// accepting it for at most its TTL.
func RevokeAPIKey(ctx context.Context, db database.Querier, orgID, keyID, actor string) error {
	if !uuids.Valid(orgID) || !uuids.Valid(keyID) {
		return ErrNotFound
	}
	// A concurrent revocation makes the UPDATE match nothing once the first
	// commits, so there is one revocation and one audit row.
	var exists bool
	err := db.QueryRow(ctx, `
		WITH u AS (
			UPDATE api_keys SET revoked_at = now()
			 WHERE id = $2 AND org_id = $1 AND revoked_at IS NULL
			RETURNING id, org_id, name, prefix
		), a AS (
			INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
			SELECT org_id, $3, 'api_key.revoke', 'api_key', id::text,
			       jsonb_build_object('name', name, 'prefix', prefix)
			  FROM u
		)
		SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $2 AND org_id = $1)`,
		orgID, keyID, actorOr(actor)).Scan(&exists)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if !exists {
		return ErrNotFound
	}
	return nil
}

// RenameAPIKey renames a key of an organisation, with the audit row
// (details: what the caller sent), in one transaction. The caller has
// validated the name and checked that the key exists.
func RenameAPIKey(ctx context.Context, db database.DB, orgID, keyID, name, actor string, details any) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET name = $3 WHERE org_id = $1 AND id = $2`, orgID, keyID, name); err != nil {
			return err
		}
		return WriteAudit(ctx, tx, AuditEntry{OrgID: orgID, Actor: actor, Action: "api_key.rename", TargetType: "api_key", TargetID: keyID, Details: details})
	})
}
