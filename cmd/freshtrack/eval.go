package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/insight/corpus"
	"github.com/freshtrack/freshtrack/insight/eval"
)

func newEvalCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "eval", Short: "Measure the alert rules against a labelled corpus"}
	var (
		o      corpus.Options
		asJSON bool
	)
	alerts := &cobra.Command{
		Use:   "alerts",
		Short: "Compare the threshold rules with the full food-safety rule set on a generated corpus",
		Long: `Alerts generates a seeded corpus of units (fridges, freezers with defrost cycles,
walk-ins, displays, blast chillers, hot holding) with labelled events (slow and
sudden failures, defrosts that run long, doors left open, flapping units, cooling
cycles that miss a stage, probe faults, silent sensors), and runs over it the
baseline (the threshold rules alone) and the full rule set (the same rules with
the learned defrost pattern, plus the food-safety detectors). It prints per kind
the recall and precision of each, false alarms per unit-week by cause, and the
trend warning's lead over the threshold alert on slow failures. The first days
of each unit are history the detectors learn from, scored for neither.

No database is needed; the same --seed, --units and --weeks give the same result.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Units < 1 || o.Units > 1000 {
				return fmt.Errorf("--units %d: want 1 to 1000", o.Units)
			}
			if o.Weeks < 1 || o.Weeks > 52 {
				return fmt.Errorf("--weeks %d: want 1 to 52", o.Weeks)
			}
			r := eval.Run(o)
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return eval.Print(e.stdout, r)
		},
	}
	f := alerts.Flags()
	f.Uint64Var(&o.Seed, "seed", 1, "the corpus's seed")
	f.IntVar(&o.Units, "units", 24, "units in the corpus (one trace each, the scenarios in turn)")
	f.IntVar(&o.Weeks, "weeks", 4, "weeks of data per unit")
	f.BoolVar(&asJSON, "json", false, "write the report as JSON")
	cmd.AddCommand(alerts)
	return cmd
}
