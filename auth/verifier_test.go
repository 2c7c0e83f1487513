package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Now().UTC().Truncate(time.Microsecond)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// queryCounter counts the verifier's key lookups and last_used_at writes.
type queryCounter struct {
	lookups, touches atomic.Int64
	// legacyLookups counts the lookups of legacy secrets.
	legacyLookups atomic.Int64
}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	switch {
	case strings.Contains(data.SQL, "k.prefix = $1"):
		c.lookups.Add(1)
	case strings.Contains(data.SQL, "s.secret_sha256 = $1"):
		c.legacyLookups.Add(1)
	case strings.Contains(data.SQL, "SET last_used_at"):
		c.touches.Add(1)
	}
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countedDB returns a pool on a new database that counts the verifier's queries.
func countedDB(t testing.TB) (*pgxpool.Pool, *queryCounter) {
	t.Helper()
	url, _ := pgtest.NewDBURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, counter
}

func newVerifier(t testing.TB, pool *pgxpool.Pool, opts auth.KeyVerifierOptions) *auth.KeyVerifier {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	v := auth.NewKeyVerifier(pool, opts)
	t.Cleanup(v.Close)
	return v
}

// eventually polls cond until it holds or ten seconds have passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVerifyAcceptsKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	other := createOrg(t, pool, "Depot")
	k := createKey(t, pool, org.ID, "ingest", "read")
	k2 := createKey(t, pool, other.ID)
	v := newVerifier(t, pool, auth.KeyVerifierOptions{Now: newClock().Now})

	for range 3 {
		p, err := v.Verify(ctx, []byte(k.Key))
		if err != nil {
			t.Fatal(err)
		}
		if p.OrgID != org.ID || p.KeyID != k.APIKey.ID || strings.Join(p.Scopes, ",") != "ingest,read" {
			t.Fatalf("principal = %+v, want org %s key %s", p, org.ID, k.APIKey.ID)
		}
		if !p.HasScope(auth.ScopeIngest) || !p.HasScope(auth.ScopeRead) || p.HasScope("admin") {
			t.Fatalf("HasScope wrong for %v", p.Scopes)
		}
	}
	p, err := v.Verify(ctx, []byte(k2.Key))
	if err != nil {
		t.Fatal(err)
	}
	if p.OrgID != other.ID || p.KeyID != k2.APIKey.ID || strings.Join(p.Scopes, ",") != "ingest" {
		t.Fatalf("principal = %+v, want org %s", p, other.ID)
	}
	if n := counter.lookups.Load(); n != 2 {
		t.Fatalf("%d database lookups for two keys within TTL, want 2", n)
	}
}

func TestVerifyRefusesWrongSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	v := newVerifier(t, pool, auth.KeyVerifierOptions{Now: newClock().Now})

	// Same prefix, other secret.
	wrong := []byte(k.Key)
	if wrong[len(wrong)-1] == 'a' {
		wrong[len(wrong)-1] = 'b'
	} else {
		wrong[len(wrong)-1] = 'a'
	}
	for range 2 {
		if _, err := v.Verify(ctx, wrong); !errors.Is(err, auth.ErrUnauthorized) {
			t.Fatalf("wrong secret = %v, want ErrUnauthorized", err)
		}
	}
	// The refusal is about the wrong key only.
	if _, err := v.Verify(ctx, []byte(k.Key)); err != nil {
		t.Fatalf("right key after a wrong one: %v", err)
	}
	if _, err := v.Verify(ctx, wrong); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("wrong secret after the right one = %v, want ErrUnauthorized", err)
	}
}

func TestVerifyRefusesMalformedKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	key := createKey(t, pool, org.ID).Key
	v := newVerifier(t, pool, auth.KeyVerifierOptions{Now: newClock().Now})

	secret := key[13:]
	f := func(malformed string) {
		t.Helper()
		if _, err := v.Verify(ctx, []byte(malformed)); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("Verify(%q) = %v, want ErrUnauthorized", malformed, err)
		}
	}
	f("")
	f("ftk_")
	f("ftk_" + key[4:12])
	f(key[4:])                                // no ftk_
	f(key[:len(key)-1])                       // short
	f(key + "a")                              // long
	f(" " + key[1:])                          // blank
	f(strings.ToUpper(key))                   // keys are lower case
	f("ftx_" + key[4:])                       // not ftk
	f("ftk-" + key[4:])                       // separator
	f(key[:12] + "-" + secret)                // separator
	f("ftk_" + key[5:13] + key[4:5] + secret) // separator moved
	f(key[:12] + "_" + "0" + secret[1:])      // 0 is not in the alphabet
	f(key[:12] + "_" + "8" + secret[1:])      // nor 8
	f(key[:12] + "_" + "é" + secret[2:])      // same length in bytes, not ASCII
	f(key[:12] + "_" + "\x00" + secret[1:])   // NUL
	f(key[:4] + "ключ" + "_" + secret)        // unicode prefix
	f("Bearer " + key)

	if n := counter.lookups.Load(); n != 0 {
		t.Fatalf("malformed keys reached the database %d times", n)
	}
	if _, err := v.Verify(ctx, []byte(key)); err != nil {
		t.Fatalf("well-formed key: %v", err)
	}
}

func TestVerifyStopsAcceptingRevokedKeyWithinTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	clock := newClock()
	v := newVerifier(t, pool, auth.KeyVerifierOptions{TTL: 5 * time.Second, Now: clock.Now})

	if _, err := v.Verify(ctx, []byte(k.Key)); err != nil {
		t.Fatal(err)
	}
	if err := auth.RevokeAPIKey(ctx, pool, org.ID, k.APIKey.ID, "cli"); err != nil {
		t.Fatal(err)
	}
	// Within TTL the verifier still trusts what it checked.
	clock.Advance(4 * time.Second)
	if _, err := v.Verify(ctx, []byte(k.Key)); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	if n := counter.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups within TTL, want 1", n)
	}
	// After TTL it asks again and refuses.
	clock.Advance(time.Second)
	if _, err := v.Verify(ctx, []byte(k.Key)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked key after TTL = %v, want ErrUnauthorized", err)
	}
	if n := counter.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

func TestVerifyRefusesKeysOfDeletedOrganisation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	clock := newClock()
	v := newVerifier(t, pool, auth.KeyVerifierOptions{Now: clock.Now})

	if _, err := v.Verify(ctx, []byte(k.Key)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE organizations SET deleted_at = now() WHERE id = $1`, org.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	if _, err := v.Verify(ctx, []byte(k.Key)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("key of a deleted organisation = %v, want ErrUnauthorized", err)
	}
}

func TestVerifyCachesRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	clock := newClock()
	v := newVerifier(t, pool, auth.KeyVerifierOptions{NegativeTTL: 2 * time.Second, Now: clock.Now})

	unknown := []byte("ftk_aaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	for range 100 {
		if _, err := v.Verify(ctx, unknown); !errors.Is(err, auth.ErrUnauthorized) {
			t.Fatalf("unknown key = %v, want ErrUnauthorized", err)
		}
	}
	if n := counter.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for one unknown key within NegativeTTL, want 1", n)
	}
	clock.Advance(2 * time.Second)
	if _, err := v.Verify(ctx, unknown); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("unknown key = %v, want ErrUnauthorized", err)
	}
	if n := counter.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups after NegativeTTL, want 2", n)
	}
}

func TestVerifyLooksUpOnceForConcurrentRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	v := newVerifier(t, pool, auth.KeyVerifierOptions{Now: newClock().Now})

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			p, err := v.Verify(ctx, []byte(k.Key))
			if err == nil && p.OrgID != org.ID {
				err = errors.New("wrong organisation")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := counter.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for 64 concurrent requests with one key, want 1", n)
	}
}

func TestVerifyEvictsWhenFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	a, b := createKey(t, pool, org.ID), createKey(t, pool, org.ID)
	v := newVerifier(t, pool, auth.KeyVerifierOptions{MaxEntries: 1, Now: newClock().Now})
	for _, k := range []auth.CreatedAPIKey{a, b, a} {
		if _, err := v.Verify(ctx, []byte(k.Key)); err != nil {
			t.Fatal(err)
		}
	}
	if n := counter.lookups.Load(); n != 3 {
		t.Fatalf("%d lookups with room for one key, want 3", n)
	}
}

func TestVerifyRecordsLastUsedAtOncePerMinute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, counter := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	clock := newClock()
	v := auth.NewKeyVerifier(pool, auth.KeyVerifierOptions{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(v.Close)

	lastUsed := func() *time.Time {
		var at *time.Time
		if err := pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys WHERE id = $1`, k.APIKey.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	verify := func() {
		t.Helper()
		if _, err := v.Verify(ctx, []byte(k.Key)); err != nil {
			t.Fatal(err)
		}
	}

	first := clock.Now()
	verify()
	eventually(t, "first last_used_at", func() bool { at := lastUsed(); return at != nil && at.Equal(first) })

	// Within the minute: cache hits, and reloads after TTL, write nothing.
	for range 11 {
		clock.Advance(5 * time.Second)
		verify()
		verify()
	}
	clock.Advance(6 * time.Second) // 61s after the first use
	second := clock.Now()
	verify()
	eventually(t, "second last_used_at", func() bool { at := lastUsed(); return at != nil && at.Equal(second) })

	v.Close() // waits for anything still pending
	if n := counter.touches.Load(); n != 2 {
		t.Fatalf("%d last_used_at writes over 61s of use, want 2", n)
	}
	if n := counter.lookups.Load(); n != 13 {
		t.Fatalf("%d lookups, want 13 (one per 5s TTL)", n)
	}
	keys, err := auth.ListAPIKeys(ctx, pool, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(second) {
		t.Fatalf("listed last used %v, want %v", keys[0].LastUsedAt, second)
	}
}

func TestVerifyCachedDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	key := []byte(createKey(t, pool, org.ID).Key)
	v := newVerifier(t, pool, auth.KeyVerifierOptions{TTL: time.Hour})
	if _, err := v.Verify(ctx, key); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := v.Verify(ctx, key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per cached Verify, want 0", allocs)
	}
}

func TestVerifyReportsDatabaseFailureApartFromRefusal(t *testing.T) {
	t.Parallel()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	closed, _ := countedDB(t)
	closed.Close()
	v := newVerifier(t, closed, auth.KeyVerifierOptions{})

	_, err := v.Verify(context.Background(), []byte(k.Key))
	if err == nil || errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("Verify with the database down = %v, want an error other than ErrUnauthorized", err)
	}
	// Failures are not cached.
	if _, err2 := v.Verify(context.Background(), []byte(k.Key)); err2 == nil || errors.Is(err2, auth.ErrUnauthorized) {
		t.Fatalf("second Verify = %v", err2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, []byte(k.Key)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context = %v, want context.Canceled", err)
	}
}

// testRedis returns a client on TEST_REDIS_URL (default
// redis://127.0.0.1:6379/15), or skips the test when there is no Redis.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/15"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Skipf("Redis sharing not tested: no Redis at %s (%v); start one or set TEST_REDIS_URL", url, err)
	}
	return client
}

func TestVerifySharesKeysThroughRedis(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID, "ingest", "read")
	sum := sha256.Sum256([]byte(k.Key))
	redisKey := "freshtrack:apikey:" + hex.EncodeToString(sum[:])
	t.Cleanup(func() { _ = rdb.Del(context.Background(), redisKey).Err() })
	clock := newClock()

	// Instance A checks the database and shares the result.
	a := newVerifier(t, pool, auth.KeyVerifierOptions{Redis: rdb, Now: clock.Now})
	if _, err := a.Verify(ctx, []byte(k.Key)); err != nil {
		t.Fatal(err)
	}
	val, err := rdb.Get(ctx, redisKey).Result()
	if err != nil {
		t.Fatalf("no Redis entry after Verify: %v", err)
	}
	if strings.Contains(val, k.Key[13:]) {
		t.Fatalf("Redis entry contains the secret: %s", val)
	}
	if ttl := rdb.PTTL(ctx, redisKey).Val(); ttl <= 0 || ttl > 5*time.Second {
		t.Fatalf("Redis entry TTL = %v, want (0, 5s]", ttl)
	}

	// Instance B cannot reach the database: it answers from Redis.
	down, _ := countedDB(t)
	down.Close()
	b := newVerifier(t, down, auth.KeyVerifierOptions{Redis: rdb, Now: clock.Now})
	p, err := b.Verify(ctx, []byte(k.Key))
	if err != nil {
		t.Fatalf("second instance: %v", err)
	}
	if p.OrgID != org.ID || p.KeyID != k.APIKey.ID || strings.Join(p.Scopes, ",") != "ingest,read" {
		t.Fatalf("principal from Redis = %+v", p)
	}
	// Redis holds only verified keys: anything else still needs the database.
	if _, err := b.Verify(ctx, []byte("ftk_aaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); err == nil || errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("unknown key with the database down = %v, want a failure", err)
	}

	// The entry carries A's deadline: B, having learnt the key 4s into it,
	// does not trust it for another full TTL, so a revocation still takes
	// effect within TTL of A's check.
	c := newVerifier(t, down, auth.KeyVerifierOptions{Redis: rdb, Now: clock.Now})
	clock.Advance(4 * time.Second)
	if _, err := c.Verify(ctx, []byte(k.Key)); err != nil {
		t.Fatalf("third instance, 4s in: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := c.Verify(ctx, []byte(k.Key)); err == nil {
		t.Fatal("third instance still trusts the Redis entry after TTL")
	}
}

func TestVerifyWorksWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := countedDB(t)
	org := createOrg(t, pool, "Harbour Kitchen")
	k := createKey(t, pool, org.ID)
	k2, k3 := createKey(t, pool, org.ID), createKey(t, pool, org.ID)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	var logs bytes.Buffer
	clock := newClock()
	v := newVerifier(t, pool, auth.KeyVerifierOptions{
		Redis:  rdb,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
	})
	verify := func(k auth.CreatedAPIKey) {
		t.Helper()
		p, err := v.Verify(ctx, []byte(k.Key))
		if err != nil {
			t.Fatalf("Verify with Redis down: %v", err)
		}
		if p.OrgID != org.ID {
			t.Fatalf("principal = %+v", p)
		}
	}
	failures := func() int { return strings.Count(logs.String(), "redis failed") }

	verify(k)
	if !strings.Contains(logs.String(), "level=WARN") || failures() != 1 {
		t.Fatalf("want one warning about Redis, got %q", logs.String())
	}
	// Redis is left alone for a while after failing...
	verify(k2)
	if failures() != 1 {
		t.Fatalf("Redis tried again right after failing: %q", logs.String())
	}
	// ...then tried again, with the repeat logged at debug level.
	clock.Advance(5 * time.Second)
	verify(k3)
	if failures() != 2 || strings.Count(logs.String(), "level=WARN") != 1 {
		t.Fatalf("want a second failure logged at debug level, got %q", logs.String())
	}
	for _, k := range []auth.CreatedAPIKey{k, k2, k3} {
		if strings.Contains(logs.String(), k.Key[13:]) {
			t.Fatalf("log contains a secret: %s", logs.String())
		}
	}
}

func TestKeyVerifierOptions(t *testing.T) {
	t.Parallel()
	d := auth.KeyVerifierOptions{}.WithDefaults()
	if d.TTL != 5*time.Second || d.NegativeTTL != 2*time.Second || d.MaxEntries != 100_000 || d.MaxNegativeEntries != 10_000 ||
		d.RedisTimeout != 250*time.Millisecond || d.Logger == nil || d.Now == nil || d.Redis != nil {
		t.Fatalf("defaults = %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	f := func(o auth.KeyVerifierOptions, wantErr string) {
		t.Helper()
		err := o.WithDefaults().Validate()
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("Validate(%+v) = %v, want %q", o, err, wantErr)
		}
	}
	f(auth.KeyVerifierOptions{TTL: time.Minute}, "")
	f(auth.KeyVerifierOptions{TTL: -time.Second}, "") // negative means default
	f(auth.KeyVerifierOptions{TTL: 2 * time.Minute}, "TTL 2m0s out of range")
	f(auth.KeyVerifierOptions{NegativeTTL: time.Hour}, "negative TTL 1h0m0s out of range")
	f(auth.KeyVerifierOptions{RedisTimeout: 10 * time.Second}, "Redis timeout 10s out of range")
}
