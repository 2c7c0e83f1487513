// Package pgtest gives each test an isolated PostgreSQL database.
//
// A migrated template database is built once per set of migrations and
// storage mode (its name carries a fingerprint of the migrations, so every
// package of a `go test ./...` run shares it, and a change of migrations builds
// a new one). Tests then get either a fresh clone of it (NewDB: tests that
// commit, use River or LISTEN) or a transaction on a per-package clone that is
// rolled back at cleanup (Tx: the fast default). Tests never share rows.
//
// The server comes from TEST_DATABASE_URL, defaulting to the local server as
// the postgres user; the URL's database is used only for administration.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/schema"
)

// DefaultURL is used when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL is the administration URL of the test server.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// templateLockKey serialises template builds across test processes.
const templateLockKey = 0x46726573_68547430 // "FreshTt0"

type options struct {
	mode schema.Mode
}

// Option configures NewDB.
type Option func(*options)

// WithMode asks for a database in the given storage mode. The test is skipped,
// with a message, when the mode is timescale and the server lacks TimescaleDB.
func WithMode(m schema.Mode) Option { return func(o *options) { o.mode = m } }

// DBURL returns the URL of database name on the test server.
func DBURL(name string) string {
	u, err := url.Parse(URL())
	if err != nil {
		panic(fmt.Sprintf("TEST_DATABASE_URL is not a URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

// NewDB returns a pool on a new database cloned from the migrated template.
// The database is dropped at cleanup.
func NewDB(t testing.TB, opts ...Option) *pgxpool.Pool {
	_, pool := NewDBURL(t, opts...)
	return pool
}

// NewDBURL is NewDB that also returns the database's URL, for tests that run
// the freshtrack binary or open their own connections.
func NewDBURL(t testing.TB, opts ...Option) (string, *pgxpool.Pool) {
	t.Helper()
	o := options{mode: schema.Postgres}
	for _, opt := range opts {
		opt(&o)
	}
	if o.mode == schema.Timescale {
		RequireTimescale(t)
	}
	tpl, err := template(o.mode)
	if err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	return create(t, tpl)
}

// EmptyDB returns the URL of and a pool on a new database with nothing in it,
// for migration tests. It is dropped at cleanup.
func EmptyDB(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	return create(t, "")
}

var shared struct {
	main bool
	once sync.Once
	name string
	pool *pgxpool.Pool
	err  error
}

// Main runs a package's tests and then drops the database that Tx shares
// between them. Packages that use Tx call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	shared.main = true
	code := m.Run()
	if shared.pool != nil {
		shared.pool.Close()
		dropDB(shared.name)
	}
	os.Exit(code)
}

// Tx returns a transaction on a database shared by the tests of this package
// (postgres mode). It is rolled back at cleanup, so nothing a test writes is
// seen by any other.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	if !shared.main {
		t.Fatal("pgtest: Tx needs the package's TestMain to call pgtest.Main(m), which drops the shared database")
	}
	shared.once.Do(func() {
		tpl, err := template(schema.Postgres)
		if err != nil {
			shared.err = err
			return
		}
		shared.name = "freshtrack_test_" + randomHex(6)
		if err := createDB(context.Background(), shared.name, tpl); err != nil {
			shared.err = err
			return
		}
		shared.pool, shared.err = pgxpool.New(context.Background(), DBURL(shared.name))
	})
	if shared.err != nil {
		t.Fatalf("pgtest: shared database: %v", shared.err)
	}
	ctx := context.Background()
	tx, err := shared.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("pgtest: begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

var tsProbe struct {
	once sync.Once
	ok   bool
	err  error
}

// TimescaleAvailable reports whether the test server can run the timescale mode.
func TimescaleAvailable() (bool, error) {
	tsProbe.once.Do(func() {
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, URL())
		if err != nil {
			tsProbe.err = err
			return
		}
		defer pool.Close()
		tsProbe.ok, tsProbe.err = schema.TimescaleAvailable(ctx, pool)
	})
	return tsProbe.ok, tsProbe.err
}

// RequireTimescale skips the test, saying why, when the server lacks TimescaleDB.
func RequireTimescale(t testing.TB) {
	t.Helper()
	ok, err := TimescaleAvailable()
	if err != nil {
		t.Fatalf("pgtest: probe timescaledb: %v", err)
	}
	if !ok {
		t.Skip("timescale mode not tested: the timescaledb extension is not available on the test server (TEST_DATABASE_URL)")
	}
}

var templates sync.Map // schema.Mode -> *templateResult

type templateResult struct {
	once sync.Once
	name string
	err  error
}

// template returns the name of the migrated template for mode, building it
// if no process has yet.
func template(mode schema.Mode) (string, error) {
	v, _ := templates.LoadOrStore(mode, &templateResult{})
	r := v.(*templateResult)
	r.once.Do(func() { r.name, r.err = buildTemplate(mode) })
	return r.name, r.err
}

func buildTemplate(mode schema.Mode) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("freshtrack_tpl_%s_%s", mode, schema.Fingerprint(mode))

	admin, err := pgx.Connect(ctx, URL())
	if err != nil {
		return "", fmt.Errorf("connect to test server %s (set TEST_DATABASE_URL, or run `make test`, which starts one): %w", config.Redact(URL()), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(templateLockKey)); err != nil {
		return "", err
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(templateLockKey))
	}()

	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		// Mark it used, so the week-old cleanup spares it.
		_, _ = admin.Exec(ctx, fmt.Sprintf(`COMMENT ON DATABASE %s IS '%d'`, pgx.Identifier{name}.Sanitize(), time.Now().Unix()))
		return name, nil
	}
	// Templates of other migration sets are left alone: another checkout
	// may be testing with them right now. Those unused for a week go, and
	// so do half-built ones older than an hour (a run killed mid-build).
	rows, err := admin.Query(ctx, `
		SELECT d.datname FROM pg_database d
		 WHERE (d.datname LIKE 'freshtrack_tpl_%' AND coalesce(shobj_description(d.oid, 'pg_database'), '0')::bigint < extract(epoch FROM now() - interval '7 days'))
		    OR (d.datname LIKE 'freshtrack_build_%' AND coalesce(shobj_description(d.oid, 'pg_database'), '0')::bigint < extract(epoch FROM now() - interval '1 hour'))`)
	if err != nil {
		return "", err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, s := range stale {
		_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{s}.Sanitize()+` WITH (FORCE)`)
	}

	build := "freshtrack_build_" + randomHex(6)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{build}.Sanitize()); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	stamp := func(db string) {
		_, _ = admin.Exec(ctx, fmt.Sprintf(`COMMENT ON DATABASE %s IS '%d'`, pgx.Identifier{db}.Sanitize(), time.Now().Unix()))
	}
	stamp(build)
	pool, err := pgxpool.New(ctx, DBURL(build))
	if err != nil {
		return "", err
	}
	_, err = schema.Up(ctx, pool, schema.MigrateOptions{Storage: string(mode), Logger: slog.New(slog.DiscardHandler)})
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template in %s mode: %w", mode, err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{build}.Sanitize()+` RENAME TO `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("rename template: %w", err)
	}
	stamp(name)
	return name, nil
}

func create(t testing.TB, tpl string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	name := "freshtrack_test_" + randomHex(6)
	if err := createDB(ctx, name, tpl); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dbURL := DBURL(name)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.MaxConns = 10
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		dropDB(name)
	})
	return dbURL, pool
}

func createDB(ctx context.Context, name, tpl string) error {
	admin, err := pgx.Connect(ctx, URL())
	if err != nil {
		return fmt.Errorf("connect to test server %s (set TEST_DATABASE_URL, or run `make test`, which starts one): %w", config.Redact(URL()), err)
	}
	defer admin.Close(context.Background())
	sql := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()
	if tpl != "" {
		sql += ` TEMPLATE ` + pgx.Identifier{tpl}.Sanitize()
	}
	// Cloning fails while another session is connected to the template
	// (55006); that only lasts a moment.
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 50 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func dropDB(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, URL())
	if err != nil {
		return
	}
	defer admin.Close(context.Background())
	_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
