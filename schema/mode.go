package schema

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// Mode is a storage mode.
type Mode string

// Storage modes.
const (
	Postgres  Mode = "postgres"
	Timescale Mode = "timescale"
)

// ErrTimescaleUnavailable is returned when the timescale mode is required but
// the extension cannot be created on the server.
var ErrTimescaleUnavailable = errors.New("timescaledb extension is not available on this server")

// StoredMode returns the mode recorded by migrations, or "" when the database
// has not been migrated yet.
func StoredMode(ctx context.Context, db database.Querier) (Mode, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass('storage_mode') IS NOT NULL`).Scan(&exists); err != nil {
		return "", fmt.Errorf("read storage mode: %w", err)
	}
	if !exists {
		return "", nil
	}
	var m Mode
	err := db.QueryRow(ctx, `SELECT mode FROM storage_mode`).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read storage mode: %w", err)
	}
	return m, nil
}

// TimescaleAvailable reports whether the timescaledb extension can be created
// in this database: it is installed on the server and preloaded. The probe
// creates the extension in a transaction that it rolls back.
func TimescaleAvailable(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var listed bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')`).Scan(&listed)
	if err != nil {
		return false, fmt.Errorf("list extensions: %w", err)
	}
	if !listed {
		return false, nil
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("probe timescaledb: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS timescaledb`); err != nil {
		// Listed but not loadable (e.g. missing shared_preload_libraries).
		return false, nil
	}
	return true, nil
}

// chooseMode decides the mode for a database that has none yet. want is the
// configured FRESHTRACK_STORAGE: auto, timescale or postgres.
func chooseMode(ctx context.Context, pool *pgxpool.Pool, want string) (Mode, error) {
	switch want {
	case string(Postgres):
		return Postgres, nil
	case string(Timescale), "auto", "":
		ok, err := TimescaleAvailable(ctx, pool)
		if err != nil {
			return "", err
		}
		if ok {
			return Timescale, nil
		}
		if want == string(Timescale) {
			return "", fmt.Errorf("FRESHTRACK_STORAGE=timescale: %w; install and preload TimescaleDB or use FRESHTRACK_STORAGE=postgres", ErrTimescaleUnavailable)
		}
		return Postgres, nil
	}
	return "", fmt.Errorf("unknown storage mode %q: must be auto, timescale or postgres", want)
}
