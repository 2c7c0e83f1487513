package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
	var target string
	var interval time.Duration
	cmd.Flags().IntVar(&sensors, "sensors", 12, "number of sensors (at least one per unit)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"org_id","api_key","sensors",...} as JSON`)
	cmd.Flags().BoolVar(&simulate, "simulate", false, "keep posting realistic readings to --target")
	cmd.Flags().StringVar(&target, "target", "http://127.0.0.1:8080", "base URL of a running freshtrack serve")
	cmd.Flags().DurationVar(&interval, "interval", 10*time.Second, "each sensor's reporting period when simulating")
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
		pool.Close()
		if err != nil {
			return err
		}
		if asJSON {
			if err := printJSON(e, f); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(e.stdout, "demo organisation: %s\nsite:              %s\nsensors:           %d in %d units\napi key:           %s\n\n",
				f.OrgID, f.SiteID, len(f.Sensors), len(f.Units), f.APIKey)
			fmt.Fprintf(e.stdout, "post a reading:\n  curl -s -X POST %s/v1/readings -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n    -d '{\"readings\":[{\"sensor\":\"%s\",\"time\":\"'$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)'\",\"temp_c\":3.4}]}'\n\n",
				target, f.APIKey, f.Sensors[0])
		}
		if !simulate {
			return nil
		}
		log := newLogger(cfg, e.stderr)
		log.Info("simulating the demo fleet", "target", target, "sensors", len(f.Sensors), "interval", interval)
		return demo.Simulate(cmd.Context(), f, demo.SimulateOptions{Target: target, Interval: interval, Logger: log})
	}
	return cmd
}
