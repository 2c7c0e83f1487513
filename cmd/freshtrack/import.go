package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/seedimport"
)

func newImportCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Import data from the system FreshTrack replaces"}
	cfg := dbCommand(e, cmd)
	var (
		o            seedimport.Options
		verify, asJS bool
	)
	seed := &cobra.Command{
		Use:   "seed --from URL --oidc-issuer ISSUER",
		Short: "Import a FreshTrack Pro database, or verify an import",
		Long: `Seed imports a FreshTrack Pro database (the seed) into the database in DATABASE_URL,
reading the seed only, in read-only REPEATABLE READ transactions sharing one snapshot,
so it can run while the seed is live. Organisations, people (by their Stack Auth
ids, with --oidc-issuer as their issuer), sites, areas, units, sensors, alert rules,
contacts, escalation policies, alerts with their history, corrective actions,
notifications, manual checks, the audit trail and digest subscriptions are upserted
by id; readings are copied with COPY in time order, a chunk (--chunk, a day by
default) per transaction. A report says, table by table, what was read, written,
merged and skipped, and why.

Interrupted, it continues where it stopped when run again, storing nothing twice.
--since imports only what the seed received after the last finished import (the
delta after a freeze) and refreshes every other table. --dry-run reads the seed and
reports what an import would do, listing units whose converted safe range looks
wrong, and writes nothing. --verify compares the seed with FreshTrack table by
table and, for readings, unit by unit and UTC day by day (counts and checksums),
prints PASS or FAIL per line, records the result in each organisation's audit
trail (import.completed) and exits non-zero on any FAIL.

--oidc-issuer must be exactly FRESHTRACK_OIDC_ISSUER, the issuer serve accepts
tokens from: people are found by issuer and subject when they sign in.
--readings-unit says what the seed's temperatures are in: C for a fresh-staged
database, F for one that came from FrostGuard; unit limits are read in each
unit's own temp_unit. See "Moving from FreshTrack Pro" in the README.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A salt is a secret: from the environment rather than the command line.
			if v := e.getenv("SEED_TTN_ENCRYPTION_SALT"); v != "" && !cmd.Flags().Changed("ttn-encryption-salt") {
				o.TTNEncryptionSalt = v
			}
			if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
				return err
			}
			if err := checkIssuer(e, o.Issuer); err != nil {
				return err
			}
			o.ReadingsUnit = strings.ToUpper(o.ReadingsUnit)
			if verify && (o.DryRun || o.Since) {
				return errors.New("--verify checks the imports made so far: use it without --dry-run and --since")
			}
			// A bulk load that ends by refreshing the downsampled series
			// under a session lock: on PostgreSQL itself, past any pooler.
			pool, err := openSessionPool(cmd.Context(), cfg, cfg.DBMaxConns)
			if err != nil {
				return err
			}
			defer pool.Close()
			o.Target, o.Logger, o.RetentionDays = pool, newLogger(cfg, e.stderr), cfg.RetentionDays
			// The seed's TTN webhook secrets become legacy ingest
			// credentials, so its TTN applications keep delivering.
			o.LegacySecrets = auth.CreateLegacySecret
			o.Progress, o.Terminal = e.stderr, isTerminal(e.stderr)
			if verify {
				res, err := seedimport.Verify(cmd.Context(), o)
				if err != nil {
					return err
				}
				if asJS {
					err = printJSON(e, res)
				} else {
					err = res.WriteText(e.stdout)
				}
				if err != nil {
					return err
				}
				if res.Result != "PASS" {
					return fmt.Errorf("verify: %d lines FAIL (see above); the import is not complete", res.Failures)
				}
				return nil
			}
			rep, err := seedimport.Import(cmd.Context(), o)
			if err != nil {
				if rep != nil && !asJS {
					_ = rep.WriteText(e.stderr)
				}
				return fmt.Errorf("%w (run the same command again to continue)", err)
			}
			if asJS {
				return printJSON(e, rep)
			}
			return rep.WriteText(e.stdout)
		},
	}
	f := seed.Flags()
	f.StringVar(&o.Source, "from", "", "the FreshTrack Pro database URL, read only (required)")
	f.StringVar(&o.Issuer, "oidc-issuer", "", "the exact issuer (iss) of the seed's Stack Auth access tokens; must equal FRESHTRACK_OIDC_ISSUER (required)")
	f.StringVar(&o.ReadingsUnit, "readings-unit", seedimport.Celsius, "unit of the seed's readings: C (fresh-staged) or F (from FrostGuard)")
	f.StringVar(&o.TTNEncryptionSalt, "ttn-encryption-salt", seedimport.DefaultTTNEncryptionSalt, "the seed's TTN_ENCRYPTION_SALT, to read the webhook secrets it provisioned on TTN (secret) [$SEED_TTN_ENCRYPTION_SALT]")
	f.BoolVar(&o.DryRun, "dry-run", false, "report what the import would do, and implausible converted ranges, without writing")
	f.BoolVar(&o.Since, "since", false, "import only what the seed received after the last finished import")
	f.BoolVar(&verify, "verify", false, "compare the seed with FreshTrack; exit non-zero on any FAIL")
	f.BoolVar(&asJS, "json", false, "print the report (or the verification) as JSON")
	f.IntVar(&o.Workers, "workers", 2, "chunks of readings copied at once")
	f.DurationVar(&o.Chunk, "chunk", 24*time.Hour, "readings per transaction, as a span of time dividing a day")
	for _, name := range []string{"from", "oidc-issuer"} {
		_ = seed.MarkFlagRequired(name)
	}
	cmd.AddCommand(seed)
	return cmd
}

// checkIssuer refuses an --oidc-issuer that is not the configured one: the
// imported users rows would never match a sign-in, and the first sign-in of
// each person would make a second, empty one.
func checkIssuer(e env, issuer string) error {
	var c config.Config
	fs := pflag.NewFlagSet("oidc", pflag.ContinueOnError)
	c.Bind(fs, config.GroupAuth)
	if err := c.Load(fs, e.getenv); err != nil {
		return err
	}
	switch {
	case c.OIDCIssuer == "":
		return errors.New("FRESHTRACK_OIDC_ISSUER is not set: set it (and FRESHTRACK_OIDC_AUDIENCE) to what serve accepts tokens from, so that imported people sign in as themselves")
	case c.OIDCIssuer != issuer:
		hint := ""
		if strings.TrimRight(c.OIDCIssuer, "/") == strings.TrimRight(issuer, "/") {
			hint = " (they differ in a trailing slash, which the iss claim does not forgive)"
		}
		return fmt.Errorf("--oidc-issuer %q is not FRESHTRACK_OIDC_ISSUER %q%s: people are found by issuer and subject, so no imported person would match a sign-in; pass the exact issuer of the seed's Stack Auth tokens and configure serve with the same",
			issuer, c.OIDCIssuer, hint)
	}
	return nil
}
