package main

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/demo"
)

func newDemoCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Create a demo organisation with a sensor fleet, and optionally simulate it",
		Long: `Demo creates an organisation with one site, fridges, freezers and a hot-holding
cabinet, a sensor per unit (or --sensors of them) and an API key, and prints them.

With --simulate it then posts a reading for every sensor each --interval through
the public HTTP API at --target, until interrupted: compressor cycles, door
openings, and one fridge ("Prep fridge 2") that slowly warms into an excursion.`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	var sensors int
	var asJSON, simulate bool
	var target, devKey string
	var interval, history time.Duration
	var devTokens bool
	cmd.Flags().IntVar(&sensors, "sensors", 6, "number of sensors (at least one per unit; the default is one per unit)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"org_id","api_key","sensors",...} as JSON`)
	cmd.Flags().BoolVar(&simulate, "simulate", false, "keep posting realistic readings to --target")
	cmd.Flags().StringVar(&target, "target", "http://127.0.0.1:8080", "base URL of a running freshtrack serve")
	cmd.Flags().DurationVar(&interval, "interval", 10*time.Second, "each sensor's reporting period when simulating")
	cmd.Flags().DurationVar(&history, "history", 0, "when simulating, first post this much in-range history (one reading per sensor every 5m), e.g. 168h for a week to chart, report and sign")
	cmd.Flags().BoolVar(&devTokens, "dev-tokens", false, "also make the demo people (manager, staff, viewer, admin) members for a --target started with serve --dev-auth, mint their tokens and print curl lines")
	cmd.Flags().StringVar(&devKey, "dev-auth-key", defaultDevAuthKey, "the development issuer's key file [$FRESHTRACK_DEV_AUTH_KEY]")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
			return err
		}
		if interval < 100*time.Millisecond {
			return fmt.Errorf("--interval must be at least 100ms, got %s", interval)
		}
		target = strings.TrimRight(target, "/")
		pool, err := openPool(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		f, err := demo.Create(cmd.Context(), pool, sensors)
		if err != nil {
			pool.Close()
			return err
		}
		var tokens map[auth.Role]string
		addr := strings.TrimPrefix(strings.TrimPrefix(target, "http://"), "https://")
		if devTokens {
			tokens = map[auth.Role]string{}
			for _, role := range []auth.Role{auth.Manager, auth.Staff, auth.Viewer, auth.Admin} {
				tok, err := mintDevToken(cmd.Context(), pool, devKey, addr, f.OrgID, role, "", "", 12*time.Hour)
				if err != nil {
					pool.Close()
					return err
				}
				tokens[role] = tok
			}
		}
		pool.Close()
		if asJSON {
			if err := printJSON(e, f); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(e.stdout, "demo organisation: %s\nsite:              %s\nsensors:           %d in %d units\napi key:           %s\n\n",
				f.OrgID, f.SiteID, len(f.Sensors), len(f.Units), f.APIKey)
			fmt.Fprintf(e.stdout, "post a reading:\n  curl -s -X POST %s/v1/readings -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n    -d '{\"readings\":[{\"sensor\":\"%s\",\"time\":\"'$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)'\",\"temp_c\":3.4}]}'\n\n",
				target, f.APIKey, f.Sensors[0])
			if tokens != nil {
				fmt.Fprintf(e.stdout, "open the web app and sign in with one click (manager, staff, viewer or admin of the demo kitchen):\n  %s/\n\n", target)
				fmt.Fprintf(e.stdout, "list the demo units as a manager (token valid 12h):\n  curl -s %s/v1/orgs/%s/units -H 'Authorization: Bearer %s'\n\n", target, f.OrgID, tokens[auth.Manager])
				fmt.Fprintf(e.stdout, "create a site as the manager:\n  curl -s -X POST %s/v1/orgs/%s/sites -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"name\":\"Second kitchen\",\"timezone\":\"Europe/Berlin\"}'\n\n", target, f.OrgID, tokens[auth.Manager])
				fmt.Fprintf(e.stdout, "staff may not create API keys (403):\n  curl -s -X POST %s/v1/orgs/%s/api-keys -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"name\":\"nope\"}'\n\n", target, f.OrgID, tokens[auth.Staff])
				for _, u := range f.Units {
					if u.Warming {
						fmt.Fprintf(e.stdout, "watch the %s live (its readings, its state and its alert as they commit; Ctrl-C to stop):\n  curl -sN '%s/v1/orgs/%s/events?unit=%s' -H 'Authorization: Bearer %s'\n\n",
							strings.ToLower(u.Name), target, f.OrgID, u.ID, tokens[auth.Viewer])
					}
				}
				line, needsEnv := devTokenLine(e, cfg.DatabaseURL, devKey, addr, f.OrgID)
				also := ""
				if needsEnv {
					also = "; with DATABASE_URL set as for the demo"
				}
				fmt.Fprintf(e.stdout, "more tokens (--role viewer, staff, manager, admin or owner%s):\n  %s\n\n", also, line)
			}
		}
		if !simulate {
			return nil
		}
		log := newLogger(cfg, e.stderr)
		log.Info("simulating the demo fleet", "target", target, "sensors", len(f.Sensors), "interval", interval)
		return demo.Simulate(cmd.Context(), f, demo.SimulateOptions{Target: target, Interval: interval, Logger: log, History: history})
	}
	return cmd
}

// devTokenLine is a dev-token command that works pasted into a shell in
// the demo's directory, which need not have the demo's environment (make
// run exports its database and address to its children only): this
// binary's path as it was started, the database, the server's address and
// the key file. A database URL with a password is not printed: needsEnv
// says the line then needs DATABASE_URL.
func devTokenLine(e env, databaseURL, keyFile, addr, org string) (line string, needsEnv bool) {
	args := []string{cmp.Or(e.self, "freshtrack"), "dev-token", "--org", org, "--role", "admin", "--addr", addr}
	if keyFile != defaultDevAuthKey {
		args = append(args, "--dev-auth-key", keyFile)
	}
	if u, err := url.Parse(databaseURL); err != nil || u.User != nil && hasPassword(u.User) {
		needsEnv = true
	} else {
		args = append(args, "--database-url", databaseURL)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " "), needsEnv
}

func hasPassword(u *url.Userinfo) bool {
	_, ok := u.Password()
	return ok
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
