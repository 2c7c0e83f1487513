package config

import (
	"log/slog"
	"strings"
	"testing"
)

func TestDirectURLSplitsTheDatabase(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil, map[string]string{"DATABASE_URL": "postgres://app@pgbouncer:6432/ft"})
	if err != nil {
		t.Fatal(err)
	}
	if c.PooledDatabase() || c.SessionDatabaseURL() != "postgres://app@pgbouncer:6432/ft" {
		t.Fatalf("without a direct URL: pooled %v, session URL %q; want DATABASE_URL serving both", c.PooledDatabase(), c.SessionDatabaseURL())
	}
	c, err = load(t, []string{"--database-direct-url", "postgres://app:direct-pw@db:5432/ft"},
		map[string]string{"DATABASE_URL": "postgres://app@pgbouncer:6432/ft", "FRESHTRACK_DATABASE_DIRECT_URL": "postgres://app@elsewhere/ft"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.PooledDatabase() || c.SessionDatabaseURL() != "postgres://app:direct-pw@db:5432/ft" {
		t.Fatalf("with the flag: pooled %v, session URL %q; want the flag's URL", c.PooledDatabase(), c.SessionDatabaseURL())
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	if out := b.String(); strings.Contains(out, "direct-pw") || !strings.Contains(out, "db:5432") {
		t.Fatalf("log line leaks the direct URL's password or lost its host: %s", out)
	}
}

func TestSetsQueryExecMode(t *testing.T) {
	t.Parallel()
	f := func(conn string, want bool) {
		t.Helper()
		if got := SetsQueryExecMode(conn); got != want {
			t.Errorf("SetsQueryExecMode(%q) = %v, want %v", conn, got, want)
		}
	}
	f("postgres://app@pgbouncer:6432/ft?sslmode=disable", false)
	f("postgres://app@pgbouncer:6432/ft?sslmode=disable&default_query_exec_mode=cache_describe", true)
	f("postgresql://app@pgbouncer/ft?default_query_exec_mode=simple_protocol", true)
	f("postgres://app@pgbouncer/default_query_exec_mode", false)
	f("host=pgbouncer port=6432 user=app", false)
	f("host=pgbouncer default_query_exec_mode=exec", true)
	f("default_query_exec_mode = describe_exec host=pgbouncer", true)
	f("host=pgbouncer application_name=my_default_query_exec_mode", false)
}
