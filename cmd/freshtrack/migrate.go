package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/schema"
)

func latestSchema() uint { return schema.LatestVersion() }

func newMigrateCmd(e env) *cobra.Command {
	var cfg config.Config
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create, upgrade or inspect the database schema",
		Long: `Migrate applies FreshTrack's embedded migrations and River's job-queue
migrations to the database in DATABASE_URL, or in FRESHTRACK_DATABASE_DIRECT_URL
when that is set (DATABASE_URL is then a transaction pooler, and migrations
hold a session lock).

The storage mode is chosen by the first 'migrate up' and kept in the database:
timescale when the timescaledb extension can be created (and FRESHTRACK_STORAGE
is not postgres), postgres otherwise.`,
	}
	cfg.Bind(cmd.PersistentFlags(), config.GroupDatabase, config.GroupLog)
	load := func(cmd *cobra.Command) error { return cfg.Load(cmd.Flags(), e.getenv) }

	var asJSON bool
	printStatus := func(st schema.Status) error {
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		mode := string(st.Mode)
		if mode == "" {
			mode = "(none: not migrated)"
		}
		state := "current"
		switch {
		case st.Dirty:
			state = "dirty: a migration failed half-way"
		case !st.Current():
			state = "out of date: run `freshtrack migrate up`"
		}
		fmt.Fprintf(tw, "storage mode:\t%s\n", mode)
		fmt.Fprintf(tw, "schema version:\t%d of %d\n", st.Version, st.Latest)
		fmt.Fprintf(tw, "river version:\t%d of %d\n", st.RiverVersion, st.RiverLatest)
		if !st.MigratedAt.IsZero() {
			fmt.Fprintf(tw, "storage set up:\t%s\n", st.MigratedAt.UTC().Format(time.RFC3339))
		}
		if st.Mode == schema.Timescale {
			fmt.Fprintf(tw, "failing timescaledb jobs:\t%d\n", st.FailingJobs)
			for _, j := range st.JobErrors {
				fmt.Fprintf(tw, "  %s:\tlast run %s, %d failures: %s\n", j.Name, j.FailedAt.UTC().Format(time.RFC3339), j.Failures, cmp.Or(j.LastError, "(no error recorded)"))
			}
		}
		fmt.Fprintf(tw, "state:\t%s\n", state)
		return tw.Flush()
	}

	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration (FreshTrack's, then River's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := load(cmd); err != nil {
				return err
			}
			log := newLogger(&cfg, e.stderr)
			pool, err := openSessionPool(cmd.Context(), &cfg, cfg.DBMaxConns)
			if err != nil {
				return err
			}
			defer pool.Close()
			st, err := schema.Up(cmd.Context(), pool, schema.MigrateOptions{Storage: cfg.Storage, Logger: log})
			if err != nil {
				return err
			}
			return printStatus(st)
		},
	}
	up.Flags().BoolVar(&asJSON, "json", false, "print the resulting status as JSON")

	var all bool
	down := &cobra.Command{
		Use:   "down [N]",
		Short: "Roll back the last N FreshTrack migrations (default 1), or everything with --all",
		Long: `Down rolls back FreshTrack migrations. With --all it removes every FreshTrack
and River table, and all data in them: there is no undo.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := load(cmd); err != nil {
				return err
			}
			steps := 1
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 1 {
					return fmt.Errorf("N must be a positive number of migrations, got %q", args[0])
				}
				steps = n
			}
			if all {
				if len(args) == 1 {
					return fmt.Errorf("give either N or --all, not both")
				}
				steps = 0
			}
			pool, err := openSessionPool(cmd.Context(), &cfg, cfg.DBMaxConns)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := schema.Down(cmd.Context(), pool, steps, newLogger(&cfg, e.stderr)); err != nil {
				return err
			}
			st, err := schema.ReadStatus(cmd.Context(), pool)
			if err != nil {
				return err
			}
			return printStatus(st)
		},
	}
	down.Flags().BoolVar(&all, "all", false, "roll back everything, River's tables included")
	down.Flags().BoolVar(&asJSON, "json", false, "print the resulting status as JSON")

	status := &cobra.Command{
		Use:   "status",
		Short: "Show the storage mode and the schema versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := load(cmd); err != nil {
				return err
			}
			pool, err := openSessionPool(cmd.Context(), &cfg, cfg.DBMaxConns)
			if err != nil {
				return err
			}
			defer pool.Close()
			st, err := schema.ReadStatus(cmd.Context(), pool)
			if err != nil {
				return err
			}
			return printStatus(st)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")

	force := &cobra.Command{
		Use:   "force VERSION",
		Short: "Record VERSION as applied without running anything (recovery after a failed migration)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := load(cmd); err != nil {
				return err
			}
			v, err := strconv.Atoi(args[0])
			if err != nil || v < -1 {
				return fmt.Errorf("VERSION must be a migration number, got %q", args[0])
			}
			pool, err := openSessionPool(cmd.Context(), &cfg, cfg.DBMaxConns)
			if err != nil {
				return err
			}
			defer pool.Close()
			return schema.Force(cmd.Context(), pool, v, newLogger(&cfg, e.stderr))
		},
	}
	cmd.AddCommand(up, down, status, force)
	return cmd
}
