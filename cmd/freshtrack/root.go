package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/internal/reqid"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// env is what a command may touch of the outside world, so tests can run
// commands in-process with their own output and environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// self is how this binary was started (os.Args[0], ./bin/freshtrack
	// under make run), for the command lines it prints; "" is
	// "freshtrack".
	self string
}

func run(ctx context.Context, args []string, e env) error {
	root := newRootCmd(e)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCmd(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "freshtrack",
		Short: "FreshTrack keeps cold food safe: sensor ingest, alerts, dashboards and HACCP reports",
		Long: `FreshTrack stores every temperature reading from fridge, freezer and hot-holding
sensors, turns excursions into alerts that reach a person, and serves dashboards
and HACCP reports.

Every flag can also be set with an environment variable, shown in brackets in
each command's --help; flags win over the environment.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.AddCommand(
		newServeCmd(e),
		newMigrateCmd(e),
		newOrgCmd(e),
		newAPIKeyCmd(e),
		newLegacySecretCmd(e),
		newBillingCmd(e),
		newDemoCmd(e),
		newBenchCmd(e),
		newReportCmd(e),
		newExportCmd(e),
		newImportCmd(e),
		newDevTokenCmd(e),
		newAuditCmd(e),
		newEvalCmd(e),
		newVersionCmd(e),
	)
	return root
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}

func newVersionCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the schema version this binary expects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			goVersion := "unknown"
			if bi != nil {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(e.stdout, "freshtrack %s (%s, schema %d)\n", buildVersion(), goVersion, latestSchema())
			return nil
		},
	}
}

// newLogger builds the process logger from configuration.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(reqid.Handler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(reqid.Handler(slog.NewTextHandler(w, opts)))
}

// loadAndConnect applies the environment to cmd's flags, validates the
// configuration and connects to the database: the start of every command
// that works on the database.
func loadAndConnect(cmd *cobra.Command, e env, cfg *config.Config) (*pgxpool.Pool, error) {
	if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
		return nil, err
	}
	return openPool(cmd.Context(), cfg)
}

// openPool connects to DATABASE_URL, the pool for ordinary work, and checks
// the connection, with a message that says what to do when it fails. When
// a direct URL is set, DATABASE_URL is a transaction pooler (PgBouncer 1.18
// keeps no prepared statements across transactions): the pool then sends
// every statement unnamed in one round trip (pgx's exec mode), unless the
// URL chooses a mode itself.
func openPool(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	pc.MaxConns = int32(cfg.DBMaxConns)
	pc.MinConns = 2
	if cfg.PooledDatabase() && !config.SetsQueryExecMode(cfg.DatabaseURL) {
		pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return connect(ctx, pc, cfg.DatabaseURL, "DATABASE_URL")
}

// sessionPoolConns is the size of the direct URL's pool in serve: one
// connection held for the life of the process (the evaluation backlog's
// claim), River's fetches, completions and leader work, and a rollup
// refresh at a time. LISTEN connections (River's, the live tail) leave the
// pool when they start and do not count.
const sessionPoolConns = 8

// openSessionPool connects to where what needs a session goes: the direct
// URL, or DATABASE_URL when there is none, in pgx's default mode. A
// command that only needs it (migrate, import) uses it for everything.
func openSessionPool(ctx context.Context, cfg *config.Config, maxConns int) (*pgxpool.Pool, error) {
	env := "DATABASE_URL"
	if cfg.PooledDatabase() {
		env = "FRESHTRACK_DATABASE_DIRECT_URL"
	}
	pc, err := pgxpool.ParseConfig(cfg.SessionDatabaseURL())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env, err)
	}
	pc.MaxConns = int32(maxConns)
	return connect(ctx, pc, cfg.SessionDatabaseURL(), env)
}

func connect(ctx context.Context, pc *pgxpool.Config, url, env string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", config.Redact(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w (is PostgreSQL running? set %s)", config.Redact(url), err, env)
	}
	return pool, nil
}
