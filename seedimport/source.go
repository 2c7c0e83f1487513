package seedimport

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// source is a read-only session on the seed: one REPEATABLE READ READ ONLY
// transaction whose snapshot is exported, so that every connection of the
// import (the metadata, the readings pre-pass, each worker copying chunks)
// reads the same consistent state of a live seed. The exporting transaction
// stays open until Close.
type source struct {
	url      string
	main     *pgx.Conn
	tx       pgx.Tx
	snapshot string
	// At is the seed's clock when the snapshot was taken (its now()).
	At  time.Time
	cat catalog
}

// catalog is what the seed database has: its tables and their columns. A
// live seed's exact table set depends on its history (SEED-SYSTEM.md D11),
// so the importer asks instead of assuming.
type catalog map[string]map[string]bool

func (c catalog) has(table string) bool { return c[table] != nil }

func (c catalog) col(table, column string) bool { return c[table][column] }

// openSource connects to the seed and takes the snapshot.
func openSource(ctx context.Context, url string) (*source, error) {
	conn, err := connectSource(ctx, url)
	if err != nil {
		return nil, err
	}
	s := &source{url: url, main: conn}
	s.tx, err = conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("seed: begin read-only transaction: %w", err)
	}
	if err := s.tx.QueryRow(ctx, `SELECT pg_export_snapshot(), now()`).Scan(&s.snapshot, &s.At); err != nil {
		s.Close()
		return nil, fmt.Errorf("seed: export snapshot: %w", err)
	}
	if _, err := s.tx.Exec(ctx, sessionSettings); err != nil {
		s.Close()
		return nil, fmt.Errorf("seed: session settings: %w", err)
	}
	s.At = s.At.UTC()
	if s.cat, err = readCatalog(ctx, s.tx); err != nil {
		s.Close()
		return nil, err
	}
	if !s.cat.has("organizations") || !s.cat.has("units") || !s.cat.has("sensor_readings") {
		s.Close()
		return nil, fmt.Errorf("seed: %s has no organizations, units or sensor_readings table: is it a FreshTrack Pro database (and the schema on its search_path)?", redactURL(url))
	}
	return s, nil
}

func connectSource(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("seed URL (--from): %w", err)
	}
	// Times are compared and hashed as text in UTC on both sides (verify).
	cfg.RuntimeParams["timezone"] = "UTC"
	cfg.RuntimeParams["application_name"] = "freshtrack import seed"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the seed at %s: %w", redactURL(url), err)
	}
	return conn, nil
}

// Close ends the snapshot's transaction and the connection.
func (s *source) Close() {
	ctx := context.Background()
	if s.tx != nil {
		_ = s.tx.Rollback(ctx)
	}
	_ = s.main.Close(ctx)
}

// fork opens another connection reading the same snapshot, for a worker.
// The caller closes it.
func (s *source) fork(ctx context.Context) (*pgx.Conn, pgx.Tx, error) {
	conn, err := connectSource(ctx, s.url)
	if err != nil {
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err == nil {
		_, err = tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+s.snapshot+`'`)
	}
	if err == nil {
		_, err = tx.Exec(ctx, sessionSettings)
	}
	if err != nil {
		conn.Close(ctx)
		return nil, nil, fmt.Errorf("seed: join the import's snapshot: %w", err)
	}
	return conn, tx, nil
}

// sessionSettings are the seed transactions' own settings (nothing on the
// seed changes): the chunk queries sort a day of readings by (recorded_at,
// id) and verify sorts one by sensor and time, in memory; and JIT compiling
// those plans cost more than it saved (0.44 s of a 1.26 s pre-pass over 1M
// readings here).
const sessionSettings = `SET LOCAL work_mem = '256MB'; SET LOCAL jit = off`

func readCatalog(ctx context.Context, tx pgx.Tx) (catalog, error) {
	rows, err := tx.Query(ctx, `
		SELECT c.relname, a.attname
		  FROM pg_class c
		  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v')
		   AND NOT c.relispartition`)
	if err != nil {
		return nil, fmt.Errorf("seed: read its tables: %w", err)
	}
	cat := catalog{}
	var table, column string
	_, err = pgx.ForEachRow(rows, []any{&table, &column}, func() error {
		if cat[table] == nil {
			cat[table] = map[string]bool{}
		}
		cat[table][column] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed: read its tables: %w", err)
	}
	return cat, nil
}

// countRows counts each named table that exists (for the report's "not
// migrated" lines and the tables' "read" counts).
func countRows(ctx context.Context, q pgx.Tx, cat catalog, tables ...string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range tables {
		if !cat.has(t) {
			continue
		}
		var n int64
		if err := q.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
			return nil, fmt.Errorf("seed: count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}
