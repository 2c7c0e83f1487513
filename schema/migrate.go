package schema

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// ErrOutdated is returned by CheckCurrent when the database schema is older
// than this binary expects.
var ErrOutdated = errors.New("database schema is out of date")

// migrateLockKey serialises concurrent `migrate` runs (several serve --migrate
// processes starting at once) across FreshTrack's and River's migrations.
const migrateLockKey = 0x46726573_68547231 // "FreshTr1"

// MigrateOptions configure Up.
type MigrateOptions struct {
	// Storage is the wanted mode for a database that has none yet: auto,
	// timescale or postgres. A database keeps the mode it was first migrated in.
	Storage string
	// Logger receives one line per applied migration. Defaults to slog.Default().
	Logger *slog.Logger
}

// Up applies every pending migration, FreshTrack's then River's, choosing the
// storage mode on first use, and returns the resulting status. pool must
// reach PostgreSQL itself, not a transaction pooler: migrations run under
// session advisory locks (lockMigrations, and golang-migrate's own).
func Up(ctx context.Context, pool *pgxpool.Pool, opts MigrateOptions) (Status, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	unlock, err := lockMigrations(ctx, pool)
	if err != nil {
		return Status{}, err
	}
	defer unlock()

	mode, err := StoredMode(ctx, pool)
	if err != nil {
		return Status{}, err
	}
	switch {
	case mode == "":
		if mode, err = chooseMode(ctx, pool, opts.Storage); err != nil {
			return Status{}, err
		}
		log.Info("storage mode chosen", "storage", mode, "requested", opts.Storage)
	case opts.Storage != "" && opts.Storage != "auto" && Mode(opts.Storage) != mode:
		return Status{}, fmt.Errorf("FRESHTRACK_STORAGE=%s but this database was migrated in %s mode; use a new database or `freshtrack migrate down --all` first", opts.Storage, mode)
	}

	m, closeM, err := newMigrate(pool, mode, log)
	if err != nil {
		return Status{}, err
	}
	defer closeM()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return Status{}, fmt.Errorf("migrate %s schema: %w", mode, err)
	}

	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: log})
	if err != nil {
		return Status{}, fmt.Errorf("river migrator: %w", err)
	}
	if _, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return Status{}, fmt.Errorf("migrate river schema: %w", err)
	}
	return ReadStatus(ctx, pool)
}

// Down rolls back steps FreshTrack migrations, or everything (FreshTrack's
// and River's tables) when steps is 0.
func Down(ctx context.Context, pool *pgxpool.Pool, steps int, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	if steps < 0 {
		return fmt.Errorf("steps must be positive, or 0 for all")
	}
	unlock, err := lockMigrations(ctx, pool)
	if err != nil {
		return err
	}
	defer unlock()

	st, err := ReadStatus(ctx, pool)
	if err != nil {
		return err
	}
	if st.Version > 0 || st.Dirty {
		// Without a recorded mode only shared migrations remain applied,
		// which every mode's set contains.
		m, closeM, err := newMigrate(pool, cmp.Or(st.Mode, Postgres), logger)
		if err != nil {
			return err
		}
		defer closeM()
		if steps == 0 {
			err = m.Down()
		} else {
			err = m.Steps(-steps)
		}
		if err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("migrate %s schema down: %w", st.Mode, err)
		}
	}
	if steps == 0 {
		rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
		if err != nil {
			return fmt.Errorf("river migrator: %w", err)
		}
		if _, err := rm.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
			return fmt.Errorf("migrate river schema down: %w", err)
		}
		if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS schema_migrations`); err != nil {
			return fmt.Errorf("drop schema_migrations: %w", err)
		}
	}
	return nil
}

// ReadStatus reads the schema state without changing anything.
func ReadStatus(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	st := Status{Latest: LatestVersion()}
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return st, fmt.Errorf("river migrator: %w", err)
	}
	all := rm.AllVersions()
	st.RiverLatest = all[len(all)-1].Version

	var hasVersions, hasRiver bool
	err = pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL, to_regclass('river_migration') IS NOT NULL`).
		Scan(&hasVersions, &hasRiver)
	if err != nil {
		return st, fmt.Errorf("read schema status: %w", err)
	}
	if hasVersions {
		var v int64
		err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &st.Dirty)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return st, fmt.Errorf("read schema version: %w", err)
		}
		if v > 0 {
			st.Version = uint(v)
		}
	}
	if hasRiver {
		if err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main'`).Scan(&st.RiverVersion); err != nil {
			return st, fmt.Errorf("read river version: %w", err)
		}
	}
	if st.Mode, err = StoredMode(ctx, pool); err != nil {
		return st, err
	}
	if st.Mode != "" {
		if err := pool.QueryRow(ctx, `SELECT migrated_at FROM storage_mode`).Scan(&st.MigratedAt); err != nil {
			return st, fmt.Errorf("read storage mode: %w", err)
		}
	}
	if st.Mode == Timescale {
		if st.JobErrors, err = timescaleFailingJobs(ctx, pool); err != nil {
			return st, err
		}
		st.FailingJobs = len(st.JobErrors)
	}
	return st, nil
}

// CheckCurrent returns the status and an error wrapping ErrOutdated, with
// instructions, when the schema is older than this binary or dirty.
func CheckCurrent(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	st, err := ReadStatus(ctx, pool)
	if err != nil {
		return st, err
	}
	switch {
	case st.Dirty:
		return st, fmt.Errorf("%w: migration %d failed half-way (dirty); fix the cause, then record the last version that fully applied with `freshtrack migrate force N` (-1 for none) and run `freshtrack migrate up`", ErrOutdated, st.Version)
	case st.Version < st.Latest || st.RiverVersion < st.RiverLatest:
		return st, fmt.Errorf("%w: database is at version %d (river %d), this binary needs %d (river %d); run `freshtrack migrate up` or start serve with --migrate",
			ErrOutdated, st.Version, st.RiverVersion, st.Latest, st.RiverLatest)
	}
	return st, nil
}

// Force sets the recorded FreshTrack version without running anything, to
// recover from a failed (dirty) migration once its cause is fixed by hand.
func Force(ctx context.Context, pool *pgxpool.Pool, version int, logger *slog.Logger) error {
	mode, err := StoredMode(ctx, pool)
	if err != nil {
		return err
	}
	if mode == "" {
		mode = Postgres
	}
	m, closeM, err := newMigrate(pool, mode, logger)
	if err != nil {
		return err
	}
	defer closeM()
	if err := m.Force(version); err != nil {
		return fmt.Errorf("force version %d: %w", version, err)
	}
	return nil
}

func newMigrate(pool *pgxpool.Pool, mode Mode, log *slog.Logger) (*migrate.Migrate, func(), error) {
	src, err := iofs.New(modeFS{mode: mode}, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("open migration driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		_ = drv.Close()
		return nil, nil, fmt.Errorf("open migrations: %w", err)
	}
	if log != nil {
		m.Log = migrateLogger{log: log}
	}
	return m, func() { _, _ = m.Close() }, nil
}

type migrateLogger struct{ log *slog.Logger }

func (l migrateLogger) Printf(format string, v ...any) {
	l.log.Info("migration: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l migrateLogger) Verbose() bool { return false }

// lockMigrations holds a session advisory lock on a dedicated connection until
// the returned function is called.
func lockMigrations(ctx context.Context, pool *pgxpool.Pool) (func(), error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection for migrations: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLockKey)); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock migrations: %w", err)
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLockKey))
		conn.Release()
	}, nil
}
