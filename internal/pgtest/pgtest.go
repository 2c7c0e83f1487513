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
	"strings"
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

// URL is the administration URL of the test server for postgres mode.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// ServerURL is the administration URL of the server that holds databases of
// mode: TEST_TIMESCALE_URL for timescale when set, else URL().
func ServerURL(mode schema.Mode) string {
	if u := os.Getenv("TEST_TIMESCALE_URL"); mode == schema.Timescale && u != "" {
		return u
	}
	return URL()
}

// DefaultMode is the storage mode of databases asked for without WithMode:
// TEST_STORAGE, postgres when unset.
func DefaultMode() schema.Mode {
	switch m := os.Getenv("TEST_STORAGE"); m {
	case "", string(schema.Postgres):
		return schema.Postgres
	case string(schema.Timescale):
		return schema.Timescale
	default:
		panic(fmt.Sprintf("TEST_STORAGE=%q: must be postgres or timescale", m))
	}
}

// templateLockKey serialises template builds across test processes.
const templateLockKey = 0x46726573_68547430 // "FreshTt0"

type options struct {
	mode schema.Mode
}

// Option configures NewDB.
type Option func(*options)

// WithMode asks for a database in the given storage mode instead of
// DefaultMode. The test is skipped, with a message, when the mode is
// timescale and no test server has TimescaleDB (see RequireTimescale).
func WithMode(m schema.Mode) Option { return func(o *options) { o.mode = m } }

func optionsOf(opts []Option) options {
	o := options{mode: DefaultMode()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// dbURL returns the URL of database name on the server at admin.
func dbURL(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		panic(fmt.Sprintf("test server URL is not a URL: %v", err))
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
	o := optionsOf(opts)
	if o.mode == schema.Timescale {
		RequireTimescale(t)
	}
	tpl, err := template(o.mode)
	if err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	return create(t, ServerURL(o.mode), tpl)
}

// EmptyDB returns the URL of and a pool on a new database with nothing in it,
// for migration tests, on the server of the mode (DefaultMode unless
// WithMode says otherwise), where `migrate up` in auto mode would choose that
// mode. It is dropped at cleanup.
func EmptyDB(t testing.TB, opts ...Option) (string, *pgxpool.Pool) {
	t.Helper()
	o := optionsOf(opts)
	if o.mode == schema.Timescale {
		RequireTimescale(t)
	}
	return create(t, ServerURL(o.mode), "")
}

var shared struct {
	main   bool
	once   sync.Once
	server string
	name   string
	pool   *pgxpool.Pool
	err    error
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
		dropDB(shared.server, shared.name)
	}
	os.Exit(code)
}

// Tx returns a transaction on a database shared by the tests of this package
// (in DefaultMode). It is rolled back at cleanup, so nothing a test writes is
// seen by any other.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	if !shared.main {
		t.Fatal("pgtest: Tx needs the package's TestMain to call pgtest.Main(m), which drops the shared database")
	}
	shared.once.Do(func() {
		mode := DefaultMode()
		if mode == schema.Timescale {
			if ok, err := TimescaleAvailable(); err != nil || !ok {
				shared.err = fmt.Errorf("TEST_STORAGE=timescale but no test server has TimescaleDB (%v): set TEST_TIMESCALE_URL", err)
				return
			}
		}
		tpl, err := template(mode)
		if err != nil {
			shared.err = err
			return
		}
		shared.server = ServerURL(mode)
		shared.name = "freshtrack_test_" + randomHex(6)
		if err := createDB(context.Background(), shared.server, shared.name, tpl); err != nil {
			shared.err = err
			return
		}
		shared.pool, shared.err = pgxpool.New(context.Background(), dbURL(shared.server, shared.name))
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

type probe struct {
	once sync.Once
	ok   bool
	err  error
}

var probes sync.Map // server URL -> *probe

// hasTimescale reports whether the server at admin can create the
// timescaledb extension, probing each server once per process.
func hasTimescale(admin string) (bool, error) {
	v, _ := probes.LoadOrStore(admin, &probe{})
	p := v.(*probe)
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, admin)
		if err != nil {
			p.err = err
			return
		}
		defer pool.Close()
		p.ok, p.err = schema.TimescaleAvailable(ctx, pool)
	})
	return p.ok, p.err
}

// TimescaleAvailable reports whether the server of timescale-mode databases
// (ServerURL(schema.Timescale)) can run the timescale mode.
func TimescaleAvailable() (bool, error) { return hasTimescale(ServerURL(schema.Timescale)) }

// PostgresHasTimescale reports whether the postgres-mode server (URL) has
// TimescaleDB too, so `migrate up` in auto mode would choose timescale there.
func PostgresHasTimescale() (bool, error) { return hasTimescale(URL()) }

// RequireTimescale skips the test, saying why, when no test server has
// TimescaleDB. When TEST_TIMESCALE_URL is set, its server is expected to have
// it, and the test fails instead: a run that asked for the timescale mode
// never passes by skipping it.
func RequireTimescale(t testing.TB) {
	t.Helper()
	ok, err := TimescaleAvailable()
	explicit := os.Getenv("TEST_TIMESCALE_URL") != ""
	switch {
	case err != nil && explicit:
		t.Fatalf("pgtest: TEST_TIMESCALE_URL %s does not answer: %v", config.Redact(ServerURL(schema.Timescale)), err)
	case err != nil:
		t.Fatalf("pgtest: probe timescaledb: %v", err)
	case !ok && explicit:
		t.Fatalf("pgtest: TEST_TIMESCALE_URL %s cannot create the timescaledb extension (installed and in shared_preload_libraries?)", config.Redact(ServerURL(schema.Timescale)))
	case !ok:
		t.Skip("timescale mode not tested: no TimescaleDB on the test server; set TEST_TIMESCALE_URL (make test finds one started by scripts/timescale.sh start)")
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
	server := ServerURL(mode)

	admin, err := connectAdmin(ctx, server)
	if err != nil {
		return "", err
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
	pool, err := pgxpool.New(ctx, dbURL(server, build))
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

func create(t testing.TB, server, tpl string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	name := "freshtrack_test_" + randomHex(6)
	if err := createDB(ctx, server, name, tpl); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	url := dbURL(server, name)
	cfg, err := pgxpool.ParseConfig(url)
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
		dropDB(server, name)
	})
	return url, pool
}

func connectAdmin(ctx context.Context, server string) (*pgx.Conn, error) {
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("connect to test server %s (set TEST_DATABASE_URL / TEST_TIMESCALE_URL, or run `make test`, which finds or starts one): %w", config.Redact(server), err)
	}
	return admin, nil
}

func createDB(ctx context.Context, server, name, tpl string) error {
	admin, err := connectAdmin(ctx, server)
	if err != nil {
		return err
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

func dropDB(server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
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

// FailTimescaleJob makes a TimescaleDB background job fail in the timescale
// database of pool the way a broken policy would: a job whose procedure
// raises error message, run by TimescaleDB's scheduler, not by hand (a
// CALL run_job leaves no statistics). It returns the job's application
// name once timescaledb_information.job_stats records the failure.
func FailTimescaleJob(t testing.TB, pool *pgxpool.Pool, message string) string {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, fmt.Sprintf(`
		CREATE OR REPLACE PROCEDURE pgtest_failing_job(job_id int, config jsonb) LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION '%s'; END $$`, strings.ReplaceAll(message, "'", "''")))
	if err != nil {
		t.Fatalf("pgtest: failing job procedure: %v", err)
	}
	var id int
	var name string
	err = pool.QueryRow(ctx, `SELECT add_job('pgtest_failing_job', '1 hour', initial_start => now())`).Scan(&id)
	if err == nil {
		err = pool.QueryRow(ctx, `SELECT application_name FROM timescaledb_information.jobs WHERE job_id = $1`, id).Scan(&name)
	}
	if err != nil {
		t.Fatalf("pgtest: add failing job: %v", err)
	}
	// A database cloned from a template gets its scheduler only at the
	// launcher's next poll (a minute); this asks for it now, as
	// timescaledb_post_restore() does. Many test databases competing for
	// background workers can still delay it.
	if _, err := pool.Exec(ctx, `SELECT _timescaledb_functions.start_background_workers()`); err != nil {
		t.Fatalf("pgtest: start the database's TimescaleDB scheduler: %v", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var failed bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM timescaledb_information.job_stats WHERE job_id = $1 AND last_run_status = 'Failed')`, id).Scan(&failed); err != nil {
			t.Fatalf("pgtest: job stats: %v", err)
		}
		if failed {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: TimescaleDB's scheduler did not run job %d within 2 minutes (timescaledb.max_background_workers too low?)", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
