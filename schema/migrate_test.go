package schema_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

var quiet = slog.New(slog.DiscardHandler)

func tables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, pool := pgtest.EmptyDB(t, pgtest.WithMode(mode))

			st, err := schema.ReadStatus(ctx, pool)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode != "" || st.Version != 0 || st.Current() {
				t.Fatalf("empty database status = %+v", st)
			}

			for round := 1; round <= 2; round++ {
				st, err = schema.Up(ctx, pool, schema.MigrateOptions{Storage: string(mode), Logger: quiet})
				if err != nil {
					t.Fatalf("round %d: up: %v", round, err)
				}
				if st.Mode != mode || !st.Current() || st.Version != schema.LatestVersion() {
					t.Fatalf("round %d: status after up = %+v", round, st)
				}
				for _, want := range []string{"organizations", "readings", "readings_5m", "readings_1h", "readings_1d", "alerts", "audit_log", "river_job"} {
					if !slices.Contains(tables(t, pool), want) {
						t.Fatalf("round %d: table %s missing after up", round, want)
					}
				}
				// A second up is a no-op.
				if _, err := schema.Up(ctx, pool, schema.MigrateOptions{Storage: "auto", Logger: quiet}); err != nil {
					t.Fatalf("round %d: second up: %v", round, err)
				}
				if err := schema.Down(ctx, pool, 0, quiet); err != nil {
					t.Fatalf("round %d: down: %v", round, err)
				}
				if left := tables(t, pool); len(left) != 0 {
					t.Fatalf("round %d: tables left after down to zero: %v", round, left)
				}
			}
		})
	}
}

func TestDownOneStepThenServeCheckRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	if _, err := schema.CheckCurrent(ctx, pool); err != nil {
		t.Fatalf("fresh clone not current: %v", err)
	}
	if err := schema.Down(ctx, pool, 1, quiet); err != nil {
		t.Fatal(err)
	}
	st, err := schema.CheckCurrent(ctx, pool)
	if !errors.Is(err, schema.ErrOutdated) {
		t.Fatalf("CheckCurrent after down 1 = %v, want ErrOutdated", err)
	}
	if !strings.Contains(err.Error(), "freshtrack migrate up") {
		t.Fatalf("error does not say what to do: %v", err)
	}
	if v := schema.Versions(); st.Version != v[len(v)-2] {
		t.Fatalf("version after down 1 = %d", st.Version)
	}
	// And back up, keeping the mode.
	st, err = schema.Up(ctx, pool, schema.MigrateOptions{Logger: quiet})
	if err != nil || !st.Current() || st.Mode != pgtest.DefaultMode() {
		t.Fatalf("up again: %+v, %v", st, err)
	}
}

func TestModeIsKeptAndConflictsAreRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ mode, other schema.Mode }{{schema.Postgres, schema.Timescale}, {schema.Timescale, schema.Postgres}} {
		t.Run(string(c.mode), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.NewDB(t, pgtest.WithMode(c.mode))
			_, err := schema.Up(ctx, pool, schema.MigrateOptions{Storage: string(c.other), Logger: quiet})
			if err == nil || !strings.Contains(err.Error(), string(c.mode)+" mode") {
				t.Fatalf("up with FRESHTRACK_STORAGE=%s on a %s-mode database = %v, want a refusal", c.other, c.mode, err)
			}
			store, err := schema.OpenStore(ctx, pool, quiet)
			if err != nil {
				t.Fatal(err)
			}
			if store.Mode() != c.mode {
				t.Fatalf("mode = %s", store.Mode())
			}
		})
	}
}

func TestTimescaleRequiredButMissing(t *testing.T) {
	t.Parallel()
	if ok, _ := pgtest.PostgresHasTimescale(); ok {
		t.Skip("the postgres-mode test server (TEST_DATABASE_URL) has TimescaleDB too; the refusal path needs one without it")
	}
	ctx := context.Background()
	_, pool := pgtest.EmptyDB(t, pgtest.WithMode(schema.Postgres))
	_, err := schema.Up(ctx, pool, schema.MigrateOptions{Storage: "timescale", Logger: quiet})
	if !errors.Is(err, schema.ErrTimescaleUnavailable) {
		t.Fatalf("up with FRESHTRACK_STORAGE=timescale = %v, want ErrTimescaleUnavailable", err)
	}
	st, err := schema.Up(ctx, pool, schema.MigrateOptions{Storage: "auto", Logger: quiet})
	if err != nil || st.Mode != schema.Postgres {
		t.Fatalf("auto falls back to postgres: %+v %v", st, err)
	}
}

func TestEveryModeHasTheSameVersions(t *testing.T) {
	t.Parallel()
	pg := schema.Fingerprint(schema.Postgres)
	ts := schema.Fingerprint(schema.Timescale)
	if pg == ts {
		t.Fatal("the two modes' migrations are identical; the mode-specific files are not picked up")
	}
	if err := schema.CheckModeVersions(); err != nil {
		t.Fatal(err)
	}
}
