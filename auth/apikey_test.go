package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

var keyPattern = regexp.MustCompile(`^ftk_[a-z2-7]{8}_[a-z2-7]{32}$`)

func createOrg(t testing.TB, db database.Querier, name string) auth.Organization {
	t.Helper()
	org, err := auth.CreateOrganization(context.Background(), db, auth.CreateOrganizationParams{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return org
}

func createKey(t testing.TB, db database.Querier, orgID string, scopes ...string) auth.CreatedAPIKey {
	t.Helper()
	k, err := auth.CreateAPIKey(context.Background(), db, auth.CreateAPIKeyParams{OrgID: orgID, Name: "gateway", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCreateAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")

	created, err := auth.CreateAPIKey(ctx, tx, auth.CreateAPIKeyParams{OrgID: org.ID, Name: " Walk-in gateway ", Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	key, meta := created.Key, created.APIKey
	if !keyPattern.MatchString(key) {
		t.Fatalf("key %q does not look like ftk_<8>_<32>", key)
	}
	if meta.ID == "" || meta.OrgID != org.ID || meta.Name != "Walk-in gateway" || meta.Prefix != key[4:12] ||
		strings.Join(meta.Scopes, ",") != "ingest" || meta.CreatedAt.IsZero() || meta.LastUsedAt != nil || meta.RevokedAt != nil {
		t.Fatalf("metadata = %+v", meta)
	}

	// The row holds the prefix and the SHA-256 of the whole key; the key
	// and its secret appear nowhere in it.
	var (
		prefix string
		hash   []byte
		row    string
	)
	err = tx.QueryRow(ctx, `SELECT prefix, hash, row_to_json(k)::text FROM api_keys k WHERE id = $1`, meta.ID).Scan(&prefix, &hash, &row)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key))
	if prefix != meta.Prefix || !bytes.Equal(hash, sum[:]) {
		t.Fatalf("stored prefix %q hash %x, want %q %x", prefix, hash, meta.Prefix, sum)
	}
	secret := key[13:]
	if strings.Contains(row, secret) || strings.Contains(row, key) {
		t.Fatalf("api_keys row contains the plaintext: %s", row)
	}

	// One audit row, with name and prefix and no secret.
	audit := auditRows(t, tx, org.ID)
	if len(audit) != 2 { // organization.create, api_key.create
		t.Fatalf("audit rows = %+v", audit)
	}
	a := audit[1]
	if a.Actor != "cli" || a.Action != "api_key.create" || a.TargetType != "api_key" || a.TargetID != meta.ID ||
		a.Details["name"] != "Walk-in gateway" || a.Details["prefix"] != meta.Prefix {
		t.Fatalf("audit row = %+v", a)
	}
	var details string
	if err := tx.QueryRow(ctx, `SELECT string_agg(details::text, ' ') FROM audit_log WHERE org_id = $1`, org.ID).Scan(&details); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(details, secret) {
		t.Fatalf("audit log contains the secret: %s", details)
	}

	// Printing or logging the result leaves the secret out.
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("created", "key", created)
	for _, s := range []string{fmt.Sprint(created), fmt.Sprintf("%+v", created), logged.String()} {
		if strings.Contains(s, secret) {
			t.Fatalf("output contains the secret: %s", s)
		}
	}

	// Every key is different.
	other := createKey(t, tx, org.ID, "read", "ingest", "read")
	if other.Key == key || other.APIKey.Prefix == meta.Prefix {
		t.Fatal("two keys are equal")
	}
	if strings.Join(other.APIKey.Scopes, ",") != "read,ingest" {
		t.Fatalf("scopes = %v, want read,ingest", other.APIKey.Scopes)
	}
}

func TestCreateAPIKeyRecordsCreator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")
	var userID string
	if err := tx.QueryRow(ctx, `INSERT INTO users (issuer, subject) VALUES ('https://idp.example', 'u1') RETURNING id`).Scan(&userID); err != nil {
		t.Fatal(err)
	}
	k, err := auth.CreateAPIKey(ctx, tx, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw", CreatedBy: &userID, Actor: "user:" + userID})
	if err != nil {
		t.Fatal(err)
	}
	var createdBy string
	if err := tx.QueryRow(ctx, `SELECT created_by FROM api_keys WHERE id = $1`, k.APIKey.ID).Scan(&createdBy); err != nil {
		t.Fatal(err)
	}
	if createdBy != userID {
		t.Fatalf("created_by = %s, want %s", createdBy, userID)
	}

	// An unknown user is a validation error (last: it aborts the transaction).
	unknown := "6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e11"
	_, err = auth.CreateAPIKey(ctx, tx, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw", CreatedBy: &unknown})
	var verr *auth.ValidationError
	if !errors.As(err, &verr) || verr.Field != "created_by" {
		t.Fatalf("unknown creator = %v, want a created_by error", err)
	}
}

func TestCreateAPIKeyRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")
	deleted := createOrg(t, tx, "Closed")
	if _, err := tx.Exec(ctx, `UPDATE organizations SET deleted_at = now() WHERE id = $1`, deleted.ID); err != nil {
		t.Fatal(err)
	}
	badUser := "nope"

	f := func(p auth.CreateAPIKeyParams, wantField string) {
		t.Helper()
		_, err := auth.CreateAPIKey(ctx, tx, p)
		if wantField == "" {
			if !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("CreateAPIKey(%+v) = %v, want ErrNotFound", p, err)
			}
			return
		}
		var verr *auth.ValidationError
		if !errors.As(err, &verr) || verr.Field != wantField {
			t.Errorf("CreateAPIKey(%+v) = %v, want a %s error", p, err, wantField)
		}
	}
	f(auth.CreateAPIKeyParams{OrgID: org.ID, Name: ""}, "name")
	f(auth.CreateAPIKeyParams{OrgID: org.ID, Name: strings.Repeat("k", 201)}, "name")
	f(auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw", Scopes: []string{"admin"}}, "scopes")
	f(auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw", Scopes: []string{"ingest", ""}}, "scopes")
	f(auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw", CreatedBy: &badUser}, "created_by")
	f(auth.CreateAPIKeyParams{OrgID: deleted.ID, Name: "gw"}, "")
	f(auth.CreateAPIKeyParams{OrgID: "6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e11", Name: "gw"}, "")
	f(auth.CreateAPIKeyParams{OrgID: "org-1", Name: "gw"}, "")

	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d keys created by rejected calls", n)
	}
	if audit := auditRows(t, tx, org.ID); len(audit) != 1 {
		t.Fatalf("audit rows = %+v, want only the organisation's creation", audit)
	}
}

func TestListAPIKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")
	other := createOrg(t, tx, "Depot")

	keys, err := auth.ListAPIKeys(ctx, tx, org.ID)
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("no keys: %v, %v; want an empty list", keys, err)
	}
	a := createKey(t, tx, org.ID)
	b := createKey(t, tx, org.ID, "read")
	createKey(t, tx, other.ID)
	if err := auth.RevokeAPIKey(ctx, tx, org.ID, a.APIKey.ID, "cli"); err != nil {
		t.Fatal(err)
	}

	keys, err = auth.ListAPIKeys(ctx, tx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Both were created at the transaction's now(), so their order is by id.
	if len(keys) == 2 && keys[0].ID == b.APIKey.ID {
		keys[0], keys[1] = keys[1], keys[0]
	}
	if len(keys) != 2 || keys[0].ID != a.APIKey.ID || keys[1].ID != b.APIKey.ID {
		t.Fatalf("keys = %+v, want a and b", keys)
	}
	if keys[0].RevokedAt == nil || keys[1].RevokedAt != nil || keys[1].Prefix != b.APIKey.Prefix || keys[1].Scopes[0] != "read" {
		t.Fatalf("keys = %+v", keys)
	}

	for _, id := range []string{"6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e11", "x"} {
		if _, err := auth.ListAPIKeys(ctx, tx, id); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("ListAPIKeys(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE organizations SET deleted_at = now() WHERE id = $1`, org.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.ListAPIKeys(ctx, tx, org.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("keys of a deleted organisation = %v, want ErrNotFound", err)
	}
}

func TestRevokeAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")
	other := createOrg(t, tx, "Depot")
	k := createKey(t, tx, org.ID)

	// Not through another organisation, nor with malformed ids.
	for _, ids := range [][2]string{
		{other.ID, k.APIKey.ID},
		{org.ID, "6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e11"},
		{org.ID, "key"},
		{"org", k.APIKey.ID},
	} {
		if err := auth.RevokeAPIKey(ctx, tx, ids[0], ids[1], "user:x"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RevokeAPIKey(%s, %s) = %v, want ErrNotFound", ids[0], ids[1], err)
		}
	}
	revoked := func() bool {
		t.Helper()
		var r bool
		if err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1`, k.APIKey.ID).Scan(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if revoked() {
		t.Fatal("key revoked through another organisation")
	}
	if audit := auditRows(t, tx, other.ID); len(audit) != 1 {
		t.Fatalf("audit rows of the other organisation = %+v", audit)
	}

	if err := auth.RevokeAPIKey(ctx, tx, org.ID, k.APIKey.ID, "user:alice"); err != nil {
		t.Fatal(err)
	}
	if !revoked() {
		t.Fatal("key not revoked")
	}
	// Again: no error, no second audit row.
	if err := auth.RevokeAPIKey(ctx, tx, org.ID, k.APIKey.ID, ""); err != nil {
		t.Fatal(err)
	}
	audit := auditRows(t, tx, org.ID)
	if len(audit) != 3 {
		t.Fatalf("audit rows = %+v, want create org, create key, revoke key", audit)
	}
	if a := audit[2]; a.Actor != "user:alice" || a.Action != "api_key.revoke" || a.TargetID != k.APIKey.ID || a.Details["prefix"] != k.APIKey.Prefix {
		t.Fatalf("audit row = %+v", a)
	}
}

// TestAPIKeyFunctionsTakeAPool checks the single-statement writes on a pool,
// outside any transaction.
func TestAPIKeyFunctionsTakeAPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	if err := auth.RevokeAPIKey(ctx, pool, org.ID, k.APIKey.ID, "cli"); err != nil {
		t.Fatal(err)
	}
	if audit := auditRows(t, pool, org.ID); len(audit) != 3 {
		t.Fatalf("audit rows = %+v", audit)
	}
}
