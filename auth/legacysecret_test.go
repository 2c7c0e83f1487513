package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

const seedSecret = "whsec_5f0c2d7e9a1b4c3d8e6f7a2b1c0d9e8f"

func TestCreateLegacySecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")
	other := createOrg(t, tx, "Depot")

	id, err := auth.CreateLegacySecret(ctx, tx, org.ID, seedSecret, auth.LegacySourceWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	// Only the SHA-256 is stored.
	var hash []byte
	var row string
	if err := tx.QueryRow(ctx, `SELECT secret_sha256, row_to_json(s)::text FROM legacy_secrets s WHERE id = $1`, id).Scan(&hash, &row); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(seedSecret))
	if !bytes.Equal(hash, sum[:]) || strings.Contains(row, seedSecret) {
		t.Fatalf("stored %x (%s), want only the SHA-256 %x", hash, row, sum)
	}
	// The import runs again: the same id, no second row or audit entry.
	again, err := auth.CreateLegacySecret(ctx, tx, org.ID, seedSecret, auth.LegacySourceWebhookSecret)
	if err != nil || again != id {
		t.Fatalf("second create = %q, %v; want %q", again, err, id)
	}
	audit := auditRows(t, tx, org.ID)
	if len(audit) != 2 || audit[1].Action != "legacy_secret.create" || audit[1].Actor != "system" || audit[1].TargetID != id ||
		audit[1].Details["source"] != auth.LegacySourceWebhookSecret {
		t.Fatalf("audit = %+v", audit)
	}
	// A revoked secret stays revoked when the import runs again.
	if err := auth.RevokeLegacySecret(ctx, tx, org.ID, id, "cli"); err != nil {
		t.Fatal(err)
	}
	if again, err := auth.CreateLegacySecret(ctx, tx, org.ID, seedSecret, auth.LegacySourceWebhookSecret); err != nil || again != id {
		t.Fatalf("create after revoke = %q, %v", again, err)
	}
	list, err := auth.ListLegacySecrets(ctx, tx, org.ID)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil || list[0].Source != auth.LegacySourceWebhookSecret || list[0].OrgID != org.ID {
		t.Fatalf("list = %+v, %v", list, err)
	}

	var conflict *auth.ConflictError
	if _, err := auth.CreateLegacySecret(ctx, tx, other.ID, seedSecret, auth.LegacySourceTTNWebhookSecret); !errors.As(err, &conflict) {
		t.Fatalf("the same secret for another organisation = %v, want a conflict", err)
	}
	var invalid *auth.ValidationError
	for _, bad := range []string{"short", "has a space in it", strings.Repeat("x", 513), "tab\tinside!", createKey(t, tx, org.ID).Key} {
		if _, err := auth.CreateLegacySecret(ctx, tx, org.ID, bad, auth.LegacySourceWebhookSecret); !errors.As(err, &invalid) || invalid.Field != "secret" {
			t.Errorf("secret %q = %v, want a validation error", bad, err)
		}
	}
	if _, err := auth.CreateLegacySecret(ctx, tx, org.ID, "another-secret-1", ""); !errors.As(err, &invalid) || invalid.Field != "source" {
		t.Errorf("empty source = %v", err)
	}
	for _, o := range []string{"not-a-uuid", "00000000-0000-4000-8000-000000000000"} {
		if _, err := auth.CreateLegacySecret(ctx, tx, o, "another-secret-2", "x"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("organisation %q = %v, want ErrNotFound", o, err)
		}
	}
	if list, err := auth.ListLegacySecrets(ctx, tx, other.ID); err != nil || len(list) != 0 {
		t.Fatalf("other org's list = %+v, %v", list, err)
	}
	if _, err := auth.ListLegacySecrets(ctx, tx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("list of no organisation = %v", err)
	}
}

func TestRevokeLegacySecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := createOrg(t, tx, "Harbour Kitchen")
	other := createOrg(t, tx, "Depot")
	id, err := auth.CreateLegacySecret(ctx, tx, org.ID, seedSecret, auth.LegacySourceTTNWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.RevokeLegacySecret(ctx, tx, other.ID, id, "cli"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("revoke through another organisation = %v, want ErrNotFound", err)
	}
	for range 2 {
		if err := auth.RevokeLegacySecret(ctx, tx, org.ID, id, "user:alice"); err != nil {
			t.Fatal(err)
		}
	}
	audit := auditRows(t, tx, org.ID)
	if len(audit) != 3 || audit[2].Action != "legacy_secret.revoke" || audit[2].Actor != "user:alice" || audit[2].TargetID != id {
		t.Fatalf("audit = %+v, want one revocation", audit)
	}
	if err := auth.RevokeLegacySecret(ctx, tx, org.ID, "nope", "cli"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("revoke of a bad id = %v", err)
	}
}

func TestLegacySecretVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	id, err := auth.CreateLegacySecret(ctx, pool, org.ID, seedSecret, auth.LegacySourceWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	key := createKey(t, pool, org.ID)
	clock := newClock()
	v := auth.NewLegacySecretVerifier(pool, auth.KeyVerifierOptions{TTL: 5 * time.Second, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(v.Close)

	for range 3 {
		p, err := v.Verify(ctx, []byte(seedSecret))
		if err != nil {
			t.Fatal(err)
		}
		if p.OrgID != org.ID || p.KeyID != id || !p.Legacy || !p.HasScope(auth.ScopeIngest) || p.HasScope(auth.ScopeRead) {
			t.Fatalf("principal = %+v", p)
		}
	}
	if n := counter.legacyLookups.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1 within TTL", n)
	}
	// Neither garbage nor an API key is a legacy secret; garbage never
	// reaches the database.
	for _, bad := range []string{"", "short", "with space inside", string([]byte{0xff, 0xfe, 'a', 'b', 'c', 'd', 'e', 'f'})} {
		if _, err := v.Verify(ctx, []byte(bad)); !errors.Is(err, auth.ErrUnauthorized) {
			t.Fatalf("Verify(%q) = %v", bad, err)
		}
	}
	if n := counter.legacyLookups.Load(); n != 1 {
		t.Fatalf("malformed secrets reached the database (%d lookups)", n)
	}
	if _, err := v.Verify(ctx, []byte(key.Key)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("an API key as a legacy secret = %v", err)
	}
	if !auth.IsAPIKeyShaped([]byte(key.Key)) || auth.IsAPIKeyShaped([]byte(seedSecret)) {
		t.Fatal("IsAPIKeyShaped is wrong")
	}

	// Revoked: still trusted within TTL, refused after it.
	if err := auth.RevokeLegacySecret(ctx, pool, org.ID, id, "cli"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Second)
	if _, err := v.Verify(ctx, []byte(seedSecret)); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := v.Verify(ctx, []byte(seedSecret)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked secret after TTL = %v, want ErrUnauthorized", err)
	}
}

func TestLegacySecretVerifierRecordsUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	if _, err := auth.CreateLegacySecret(ctx, pool, org.ID, seedSecret, auth.LegacySourceWebhookSecret); err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	v := auth.NewLegacySecretVerifier(pool, auth.KeyVerifierOptions{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if _, err := v.Verify(ctx, []byte(seedSecret)); err != nil {
		t.Fatal(err)
	}
	v.Close()
	list, err := auth.ListLegacySecrets(ctx, pool, org.ID)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("last used = %+v, %v; want %v", list, err, clock.Now())
	}
}

func TestLegacySecretVerifiedFromCacheDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	if _, err := auth.CreateLegacySecret(ctx, pool, org.ID, seedSecret, auth.LegacySourceWebhookSecret); err != nil {
		t.Fatal(err)
	}
	v := auth.NewLegacySecretVerifier(pool, auth.KeyVerifierOptions{TTL: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(v.Close)
	secret := []byte(seedSecret)
	if _, err := v.Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		if _, err := v.Verify(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per cached Verify, want 0", allocs)
	}
}
