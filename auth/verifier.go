package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/freshtrack/freshtrack/internal/uuids"
)

var redisErrors = metrics.NewCounter(`freshtrack_auth_redis_errors_total`)

// credentialKind is what differs between the credentials a verifier checks
// (API keys, FreshTrack Pro secrets): their shape, how a row is found and
// marked used, where Redis shares them, and their metrics. The caching,
// single-flight lookups and revocation bound are the same.
type credentialKind struct {
	// name is for logs ("api keys"), one for errors ("api key").
	name, one string
	// legacy marks the principals of legacy_secrets.
	legacy bool
	// redisPrefix is followed by the hex SHA-256 of the credential.
	redisPrefix string
	// wellFormed says, without allocating, whether a credential can be one
	// of this kind, so garbage never reaches a cache or the database.
	wellFormed func([]byte) bool
	// prefix is the part of a well-formed credential its row is found by
	// (nil: the SHA-256).
	prefix func([]byte) []byte
	// find looks a credential up; found is false for one to refuse.
	find func(ctx context.Context, pool *pgxpool.Pool, prefix string, sum [sha256.Size]byte) (p Principal, lastUsed *time.Time, found bool, err error)
	// touchSQL writes last_used_at ($1 ids, $2 times) where it is older.
	touchSQL string

	mOK, mUnauthorized, mErrors, mRedis, mDB, mTouchErrors *metrics.Counter
}

// apiKeys is the kind of FreshTrack's own API keys (ftk_...).
var apiKeys = &credentialKind{
	name:        "api keys",
	one:         "api key",
	redisPrefix: redisKeyPrefix,
	wellFormed:  wellFormedKey,
	prefix:      keyPrefix,
	find:        findAPIKey,
	// SKIP LOCKED: a key being revoked, or touched by another instance
	// right now, does not need this write, and waiting could deadlock.
	touchSQL: `
			WITH u AS (
				SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, at)
			), l AS (
				SELECT k.id, u.at FROM api_keys k JOIN u ON u.id = k.id
				 WHERE k.last_used_at IS NULL OR k.last_used_at < u.at
				   FOR UPDATE OF k SKIP LOCKED
			)
			UPDATE api_keys k SET last_used_at = l.at FROM l WHERE k.id = l.id`,
	mOK:           metrics.NewCounter(`freshtrack_auth_api_key_verifications_total{result="ok"}`),
	mUnauthorized: metrics.NewCounter(`freshtrack_auth_api_key_verifications_total{result="unauthorized"}`),
	mErrors:       metrics.NewCounter(`freshtrack_auth_api_key_verifications_total{result="error"}`),
	mRedis:        metrics.NewCounter(`freshtrack_auth_api_key_lookups_total{source="redis"}`),
	mDB:           metrics.NewCounter(`freshtrack_auth_api_key_lookups_total{source="database"}`),
	mTouchErrors:  metrics.NewCounter(`freshtrack_auth_api_key_last_used_errors_total`),
}

// findAPIKey finds a key by its prefix and compares the whole key's
// SHA-256 in constant time.
func findAPIKey(ctx context.Context, pool *pgxpool.Pool, prefix string, sum [sha256.Size]byte) (Principal, *time.Time, bool, error) {
	var (
		p        Principal
		hash     []byte
		lastUsed *time.Time
	)
	err := pool.QueryRow(ctx, `
		SELECT k.id, k.org_id, k.scopes, k.hash, k.last_used_at
		  FROM api_keys k JOIN organizations o ON o.id = k.org_id
		 WHERE k.prefix = $1 AND k.revoked_at IS NULL AND o.deleted_at IS NULL`,
		prefix).Scan(&p.KeyID, &p.OrgID, &p.Scopes, &hash, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil, false, nil
	}
	if err != nil {
		return p, nil, false, fmt.Errorf("look up api key: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, sum[:]) != 1 {
		return p, nil, false, nil
	}
	return p, lastUsed, true, nil
}

const (
	// touchInterval is how often, at most, a key's last_used_at is written.
	touchInterval = time.Minute
	// lookupTimeout bounds a cache-miss lookup and a last_used_at write,
	// which run detached from the request that caused them.
	lookupTimeout = 10 * time.Second
	// maxPendingTouches bounds the last_used_at writes waiting to be sent.
	maxPendingTouches = 100_000
	// redisPause is how long Redis is left alone after it fails, so an
	// outage costs one RedisTimeout per pause rather than one per lookup.
	redisPause = 5 * time.Second
	// warnEvery spaces out Redis warnings while Redis is down; the
	// failures in between are logged at debug level.
	warnEvery = time.Minute
	// redisKeyPrefix is followed by the hex SHA-256 of the key.
	redisKeyPrefix = "freshtrack:apikey:"
)

// Principal is who a verified API key speaks for.
type Principal struct {
	// OrgID is the organisation the key belongs to.
	OrgID string
	// KeyID is the key's id (the legacy_secrets id for a legacy secret).
	KeyID string
	// Scopes are what the key may do. The slice is shared with the
	// verifier's cache: read it, never modify it.
	Scopes []string
	// Legacy marks a FreshTrack Pro secret ([LegacySecretVerifier]),
	// which only the legacy routes accept.
	Legacy bool
}

// HasScope reports whether the key carries scope.
func (p Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// KeyVerifierOptions configure a [KeyVerifier]. Zero (or negative) values
// take the defaults.
type KeyVerifierOptions struct {
	// TTL is how long a verified key is trusted before the database is asked
	// again, and so the longest a revoked key, or a key of a deleted
	// organisation, keeps working. At most 1m. Defaults to 5s.
	TTL time.Duration
	// NegativeTTL is how long a key found unknown or revoked is refused
	// without asking the database again. At most 1m. Defaults to 2s.
	NegativeTTL time.Duration
	// MaxEntries caps the verified keys held in memory; when it is reached
	// an arbitrary entry makes room. Defaults to 100000.
	MaxEntries int
	// MaxNegativeEntries caps the refused keys held in memory. They are
	// held apart from verified keys, so a flood of bad keys cannot push
	// good ones out. Defaults to 10000.
	MaxNegativeEntries int
	// Redis, if set, shares verified keys between instances under
	// freshtrack:apikey:<hex SHA-256 of the key> for TTL. Its failures never
	// fail a request: they are logged, and the verifier uses the database
	// alone for the next 5s. Defaults to nil: each instance asks the
	// database itself.
	Redis *redis.Client
	// RedisTimeout bounds each Redis call. At most 5s. Defaults to 250ms.
	RedisTimeout time.Duration
	// Logger receives Redis and last_used_at write failures. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock, replaced in tests. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns o with zero (or negative) fields set to their defaults.
func (o KeyVerifierOptions) WithDefaults() KeyVerifierOptions {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Second
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = 2 * time.Second
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
	if o.MaxNegativeEntries <= 0 {
		o.MaxNegativeEntries = 10_000
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports options that [KeyVerifier] would accept but that break its
// promises, such as a TTL that lets revoked keys work for minutes. Call it on
// o.WithDefaults().
func (o KeyVerifierOptions) Validate() error {
	switch {
	case o.TTL <= 0 || o.TTL > time.Minute:
		return fmt.Errorf("api key TTL %v out of range: want more than 0 and at most 1m (it is how long a revoked key keeps working)", o.TTL)
	case o.NegativeTTL <= 0 || o.NegativeTTL > time.Minute:
		return fmt.Errorf("api key negative TTL %v out of range: want more than 0 and at most 1m", o.NegativeTTL)
	case o.MaxEntries <= 0:
		return fmt.Errorf("api key cache size %d out of range: want at least 1", o.MaxEntries)
	case o.MaxNegativeEntries <= 0:
		return fmt.Errorf("api key negative cache size %d out of range: want at least 1", o.MaxNegativeEntries)
	case o.RedisTimeout <= 0 || o.RedisTimeout > 5*time.Second:
		return fmt.Errorf("api key Redis timeout %v out of range: want more than 0 and at most 5s", o.RedisTimeout)
	}
	return nil
}

// KeyVerifier authenticates API keys for every device request. It keeps
// verified keys in memory (keyed by the key's SHA-256, never the plaintext)
// for TTL, refused keys for NegativeTTL, optionally shares verified keys
// through Redis, lets one lookup per key reach the database at a time, and
// writes last_used_at in the background at most once a minute per key.
//
// It is safe for concurrent use. Call Close on shutdown to finish pending
// last_used_at writes.
type KeyVerifier struct {
	pool   *pgxpool.Pool
	kind   *credentialKind
	opts   KeyVerifierOptions
	ttl    int64 // nanoseconds
	negTTL int64

	mu  sync.RWMutex
	pos map[[sha256.Size]byte]*keyEntry
	neg map[[sha256.Size]byte]int64 // expiry, unix nanoseconds

	flightMu sync.Mutex
	flights  map[[sha256.Size]byte]*flight

	touchMu  sync.Mutex
	touches  map[string]int64 // key id -> used at, unix nanoseconds
	flushing bool
	closed   bool
	flushWG  sync.WaitGroup

	redisDownUntil atomic.Int64 // unix nanoseconds, on the Now clock
	lastWarn       atomic.Int64 // unix nanoseconds, real time
}

// keyEntry is a verified key in the in-process cache.
type keyEntry struct {
	p       Principal
	expires int64        // unix nanoseconds
	touched atomic.Int64 // last_used_at last written (or read), unix nanoseconds
}

// flight is one cache-miss lookup that concurrent requests for the same key wait on.
type flight struct {
	done  chan struct{}
	entry *keyEntry // nil: refused
	err   error
}

// NewKeyVerifier returns a verifier that checks keys against pool. Unset
// options take their defaults; see [KeyVerifierOptions.Validate] for checking
// configured ones.
func NewKeyVerifier(pool *pgxpool.Pool, opts KeyVerifierOptions) *KeyVerifier {
	return newCredentialVerifier(pool, apiKeys, opts)
}

func newCredentialVerifier(pool *pgxpool.Pool, kind *credentialKind, opts KeyVerifierOptions) *KeyVerifier {
	opts = opts.WithDefaults()
	return &KeyVerifier{
		pool:    pool,
		kind:    kind,
		opts:    opts,
		ttl:     int64(opts.TTL),
		negTTL:  int64(opts.NegativeTTL),
		pos:     make(map[[sha256.Size]byte]*keyEntry),
		neg:     make(map[[sha256.Size]byte]int64),
		flights: make(map[[sha256.Size]byte]*flight),
		touches: make(map[string]int64),
	}
}

// Verify returns the principal of an API key. It returns [ErrUnauthorized]
// for a malformed, unknown or revoked key and for a key of a deleted
// organisation; any other error means the key could not be checked (the
// database is unreachable, or ctx ended) and the request should be answered
// with 503, not 401.
//
// key may be the request's header buffer: Verify does not keep it. A key
// verified within TTL is answered from memory without allocating.
func (v *KeyVerifier) Verify(ctx context.Context, key []byte) (Principal, error) {
	if !v.kind.wellFormed(key) {
		v.kind.mUnauthorized.Inc()
		return Principal{}, ErrUnauthorized
	}
	sum := sha256.Sum256(key)
	if p, known, err := v.cached(sum); known {
		return p, err
	}
	var prefix []byte
	if v.kind.prefix != nil {
		prefix = v.kind.prefix(key)
	}
	return v.verifySlow(ctx, prefix, sum)
}

// cached answers from the caches when they know the key: its principal, or
// ErrUnauthorized for a key refused within NegativeTTL.
func (v *KeyVerifier) cached(sum [sha256.Size]byte) (p Principal, known bool, err error) {
	now := v.opts.Now().UnixNano()
	v.mu.RLock()
	e := v.pos[sum]
	refused := false
	if e == nil || now >= e.expires {
		e = nil
		exp, ok := v.neg[sum]
		refused = ok && now < exp
	}
	v.mu.RUnlock()
	switch {
	case e != nil:
		v.touch(e, now)
		v.kind.mOK.Inc()
		return e.p, true, nil
	case refused:
		v.kind.mUnauthorized.Inc()
		return Principal{}, true, ErrUnauthorized
	}
	return Principal{}, false, nil
}

// verifySlow looks a key up in Redis or the database, joining a lookup of the
// same key already under way.
func (v *KeyVerifier) verifySlow(ctx context.Context, prefix []byte, sum [sha256.Size]byte) (Principal, error) {
	// A request that has already ended starts no lookup; checked first so
	// the answer does not depend on which of two ready channels select
	// picks when a lookup fails at once.
	if ctx.Err() != nil {
		v.kind.mErrors.Inc()
		return Principal{}, fmt.Errorf("verify %s: %w", v.kind.one, context.Cause(ctx))
	}
	v.flightMu.Lock()
	f := v.flights[sum]
	if f == nil {
		// A lookup may have ended between the caller's cache miss and
		// here; it cached its answer before leaving flights.
		if p, known, err := v.cached(sum); known {
			v.flightMu.Unlock()
			return p, err
		}
		f = &flight{done: make(chan struct{})}
		v.flights[sum] = f
		// Detached, so one caller giving up does not fail the others.
		go v.lookup(context.WithoutCancel(ctx), string(prefix), sum, f)
	}
	v.flightMu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		v.kind.mErrors.Inc()
		return Principal{}, fmt.Errorf("verify %s: %w", v.kind.one, context.Cause(ctx))
	}
	switch {
	case f.err != nil:
		v.kind.mErrors.Inc()
		return Principal{}, fmt.Errorf("verify %s: %w", v.kind.one, f.err)
	case f.entry == nil:
		v.kind.mUnauthorized.Inc()
		return Principal{}, ErrUnauthorized
	}
	v.touch(f.entry, v.opts.Now().UnixNano())
	v.kind.mOK.Inc()
	return f.entry.p, nil
}

func (v *KeyVerifier) lookup(ctx context.Context, prefix string, sum [sha256.Size]byte, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	// The result is in the cache before the flight ends, so no request
	// after it starts another lookup.
	f.entry, f.err = v.load(ctx, prefix, sum)
	v.flightMu.Lock()
	delete(v.flights, sum)
	v.flightMu.Unlock()
	close(f.done)
}

// load finds a key in Redis or, failing that, the database, and caches the
// answer. It returns nil for a key to refuse.
func (v *KeyVerifier) load(ctx context.Context, prefix string, sum [sha256.Size]byte) (*keyEntry, error) {
	now := v.opts.Now().UnixNano()
	if v.redisUp(now) {
		if p, exp, ok := v.redisGet(ctx, sum, now); ok {
			v.kind.mRedis.Inc()
			return v.storeVerified(sum, p, min(exp, now+v.ttl), 0), nil
		}
	}
	v.kind.mDB.Inc()
	p, lastUsed, found, err := v.kind.find(ctx, v.pool, prefix, sum)
	if err != nil {
		return nil, err
	}
	if !found {
		v.storeRefused(sum, now+v.negTTL)
		return nil, nil
	}
	p.Legacy = v.kind.legacy
	var touched int64
	if lastUsed != nil {
		touched = lastUsed.UnixNano()
	}
	exp := now + v.ttl
	e := v.storeVerified(sum, p, exp, touched)
	if v.redisUp(now) {
		v.redisSet(ctx, sum, p, exp, now)
	}
	return e, nil
}

// storeVerified caches a verified key until exp. The time last_used_at was
// last written carries over from the entry it replaces.
func (v *KeyVerifier) storeVerified(sum [sha256.Size]byte, p Principal, exp, touched int64) *keyEntry {
	e := &keyEntry{p: p, expires: exp}
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := v.pos[sum]; old != nil {
		touched = max(touched, old.touched.Load())
	} else if len(v.pos) >= v.opts.MaxEntries {
		evictOne(v.pos)
	}
	e.touched.Store(touched)
	v.pos[sum] = e
	delete(v.neg, sum)
	return e
}

// storeRefused caches a refused key until exp.
func (v *KeyVerifier) storeRefused(sum [sha256.Size]byte, exp int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.neg[sum]; !ok && len(v.neg) >= v.opts.MaxNegativeEntries {
		evictOne(v.neg)
	}
	v.neg[sum] = exp
	delete(v.pos, sum)
}

// evictOne deletes an arbitrary entry (map iteration starts at a random place).
func evictOne[V any](m map[[sha256.Size]byte]V) {
	for k := range m {
		delete(m, k)
		return
	}
}

// touch schedules a last_used_at write for a key used at now, unless one was
// written less than touchInterval ago.
func (v *KeyVerifier) touch(e *keyEntry, now int64) {
	t := e.touched.Load()
	if now-t < int64(touchInterval) || !e.touched.CompareAndSwap(t, now) {
		return
	}
	v.touchMu.Lock()
	defer v.touchMu.Unlock()
	if v.closed || len(v.touches) >= maxPendingTouches {
		return
	}
	v.touches[e.p.KeyID] = now
	if !v.flushing {
		v.flushing = true
		v.flushWG.Add(1)
		go v.flushTouches()
	}
}

// flushTouches writes pending last_used_at values until none are left. Uses
// that arrive while a write is in flight go out together in the next one.
func (v *KeyVerifier) flushTouches() {
	defer v.flushWG.Done()
	for {
		v.touchMu.Lock()
		batch := v.touches
		if len(batch) == 0 {
			v.flushing = false
			v.touchMu.Unlock()
			return
		}
		v.touches = make(map[string]int64)
		v.touchMu.Unlock()

		ids := make([]string, 0, len(batch))
		ats := make([]time.Time, 0, len(batch))
		for id, at := range batch {
			ids = append(ids, id)
			ats = append(ats, time.Unix(0, at))
		}
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		_, err := v.pool.Exec(ctx, v.kind.touchSQL, ids, ats)
		cancel()
		if err != nil {
			v.kind.mTouchErrors.Inc()
			v.opts.Logger.Warn(v.kind.name+": write last_used_at", slog.Int("keys", len(ids)), slog.Any("err", err))
		}
	}
}

// Close waits for pending last_used_at writes. Verify keeps working after
// Close but no longer records use.
func (v *KeyVerifier) Close() {
	v.touchMu.Lock()
	v.closed = true
	v.touchMu.Unlock()
	v.flushWG.Wait()
}

// cachedPrincipal is a verified key as stored in Redis.
type cachedPrincipal struct {
	OrgID  string   `json:"org_id"`
	KeyID  string   `json:"key_id"`
	Scopes []string `json:"scopes"`
	// Expires is when the database was last asked plus TTL, in Unix
	// milliseconds: an instance that reads the entry trusts it no longer,
	// so sharing does not extend how long a revoked key works.
	Expires int64 `json:"exp"`
}

func (v *KeyVerifier) redisKey(sum [sha256.Size]byte) string {
	return v.kind.redisPrefix + hex.EncodeToString(sum[:])
}

// redisUp reports whether Redis is configured and not paused after a failure.
func (v *KeyVerifier) redisUp(now int64) bool {
	return v.opts.Redis != nil && now >= v.redisDownUntil.Load()
}

// redisGet returns the principal Redis holds for a key and when to stop
// trusting it, or false on a miss or a failure.
func (v *KeyVerifier) redisGet(ctx context.Context, sum [sha256.Size]byte, now int64) (Principal, int64, bool) {
	ctx, cancel := context.WithTimeout(ctx, v.opts.RedisTimeout)
	defer cancel()
	b, err := v.opts.Redis.Get(ctx, v.redisKey(sum)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Principal{}, 0, false
	}
	if err != nil {
		v.redisFailed("get", err, now)
		return Principal{}, 0, false
	}
	var c cachedPrincipal
	if err := json.Unmarshal(b, &c); err != nil || !uuids.Valid(c.OrgID) || !uuids.Valid(c.KeyID) {
		v.redisFailed("decode", fmt.Errorf("bad entry %q: %v", b, err), 0)
		return Principal{}, 0, false
	}
	exp := time.UnixMilli(c.Expires).UnixNano()
	if exp <= now {
		return Principal{}, 0, false
	}
	return Principal{OrgID: c.OrgID, KeyID: c.KeyID, Scopes: c.Scopes, Legacy: v.kind.legacy}, exp, true
}

// redisSet shares a verified key with the other instances until exp.
func (v *KeyVerifier) redisSet(ctx context.Context, sum [sha256.Size]byte, p Principal, exp, now int64) {
	b, err := json.Marshal(cachedPrincipal{OrgID: p.OrgID, KeyID: p.KeyID, Scopes: p.Scopes, Expires: time.Unix(0, exp).UnixMilli()})
	if err != nil {
		v.redisFailed("encode", err, 0)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.RedisTimeout)
	defer cancel()
	if err := v.opts.Redis.Set(ctx, v.redisKey(sum), b, v.opts.TTL).Err(); err != nil {
		v.redisFailed("set", err, now)
	}
}

// redisFailed logs a Redis failure: a warning at most once every warnEvery,
// debug otherwise, so an outage does not flood the log. A failure to reach
// Redis (now != 0) pauses its use for redisPause.
func (v *KeyVerifier) redisFailed(op string, err error, now int64) {
	redisErrors.Inc()
	if now != 0 {
		v.redisDownUntil.Store(now + int64(redisPause))
	}
	level := slog.LevelDebug
	wall := time.Now().UnixNano()
	if last := v.lastWarn.Load(); wall-last >= int64(warnEvery) && v.lastWarn.CompareAndSwap(last, wall) {
		level = slog.LevelWarn
	}
	v.opts.Logger.Log(context.Background(), level, v.kind.name+": redis failed; falling back to the database",
		slog.String("op", op), slog.Any("err", err))
}
