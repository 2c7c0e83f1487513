package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/config"
)

// billingLimits builds the sensor limits from configuration.
func billingLimits(cfg *config.Config) (*billing.Limits, error) {
	plans, err := billing.ParsePlans(cfg.BillingPlans)
	if err != nil {
		return nil, &config.FieldError{Env: "FRESHTRACK_BILLING_PLANS", Value: cfg.BillingPlans, Allowed: err.Error()}
	}
	free, err := billing.ParseSensorLimit(cfg.BillingFreeSensors)
	if err != nil {
		return nil, &config.FieldError{Env: "FRESHTRACK_BILLING_FREE_SENSORS", Value: cfg.BillingFreeSensors, Allowed: err.Error()}
	}
	return &billing.Limits{Catalog: billing.Catalog{Plans: plans, FreeSensors: free}, Grace: cfg.BillingPastDueGrace}, nil
}

// billingService builds billing: the limits always, Stripe when a key is
// configured.
func billingService(cfg *config.Config, pool *pgxpool.Pool, jobs *river.Client[pgx.Tx], log *slog.Logger) (*billing.Service, error) {
	limits, err := billingLimits(cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.BillingConfigured() {
		log.Warn("billing is not configured (FRESHTRACK_STRIPE_SECRET_KEY): the billing routes answer 503", "sensors_without_plan", cfg.BillingFreeSensors)
	}
	return billing.New(billing.Config{Pool: pool, Jobs: jobs, Limits: limits, SecretKey: cfg.StripeSecretKey,
		WebhookSecret: cfg.StripeWebhookSecret, WebhookTolerance: cfg.StripeWebhookTolerance, APIURL: cfg.StripeAPIURL,
		TrialDays: cfg.StripeTrialDays, MeterSensors: cfg.StripeMeterSensors, MeterReadings: cfg.StripeMeterReadings,
		PublicURL: cfg.PublicURL, Logger: log})
}

func limitText(n int) string {
	if n == billing.Unlimited {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func newBillingCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "billing", Short: "Plans, sensor limits and usage metering"}
	var asJSON bool

	var dbCfg config.Config
	plans := &cobra.Command{
		Use:   "plans",
		Short: "List the configured plans and the limit without one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dbCfg.Load(cmd.Flags(), e.getenv); err != nil {
				return err
			}
			limits, err := billingLimits(&dbCfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"plans": limits.Catalog.Plans, "free_sensors": limitText(limits.Catalog.FreeSensors),
					"past_due_grace": limits.Grace.String(), "stripe_configured": dbCfg.BillingConfigured()})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PLAN\tSTRIPE PRICE\tSENSORS")
			for _, p := range limits.Catalog.Plans {
				price := p.PriceID
				if price == "" {
					price = "- (not sold through Checkout)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\n", p.Name, price, p.Sensors)
			}
			fmt.Fprintf(tw, "(no plan)\t-\t%s\n", limitText(limits.Catalog.FreeSensors))
			if err := tw.Flush(); err != nil {
				return err
			}
			stripe := "not configured (FRESHTRACK_STRIPE_SECRET_KEY): limits apply, Checkout and the portal answer 503"
			if dbCfg.BillingConfigured() {
				stripe = "configured"
			}
			fmt.Fprintf(e.stdout, "\npast-due grace: %s (then no new sensors; readings are always stored)\nStripe: %s\n", limits.Grace, stripe)
			return nil
		},
	}
	var org string
	status := &cobra.Command{
		Use:   "status --org ORG_ID",
		Short: "Show an organisation's plan, status and sensors against its limit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, &dbCfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			limits, err := billingLimits(&dbCfg)
			if err != nil {
				return err
			}
			st, err := limits.Standing(cmd.Context(), pool, org)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, st)
			}
			fmt.Fprintf(e.stdout, "plan: %s\nstatus: %s\nsensors: %d of %s", st.Plan, st.Status, st.Sensors, limitText(st.Limit))
			if st.Contract {
				fmt.Fprint(e.stdout, " (by contract)")
			}
			fmt.Fprintln(e.stdout)
			if st.GraceEndsAt != nil {
				fmt.Fprintf(e.stdout, "past due: new sensors refused from %s\n", st.GraceEndsAt.Format(time.RFC3339))
			}
			if st.Blocked != "" {
				fmt.Fprintln(e.stdout, st.Blocked)
			}
			return nil
		},
	}
	var sensors string
	setLimit := &cobra.Command{
		Use:   "set-limit --org ORG_ID --sensors N|none",
		Short: "Set an organisation's sensor limit by contract (none: back to its plan's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var limit *int
			if sensors != "none" {
				n, err := strconv.Atoi(sensors)
				if err != nil || n < 0 {
					return fmt.Errorf("--sensors %q must be a number of sensors or none", sensors)
				}
				limit = &n
			}
			pool, err := loadAndConnect(cmd, e, &dbCfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := billing.SetContractLimit(cmd.Context(), pool, org, limit, "cli"); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "contract sensor limit of %s: %s\n", org, sensors)
			return nil
		},
	}
	meter := &cobra.Command{
		Use:   "meter",
		Short: "Send the usage meters' closed hours to Stripe now (serve's workers do it hourly)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, &dbCfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			if !dbCfg.BillingConfigured() {
				return billing.ErrNotConfigured
			}
			// Insert-only: metering sends no email.
			jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
			if err != nil {
				return err
			}
			b, err := billingService(&dbCfg, pool, jobs, newLogger(&dbCfg, e.stderr))
			if err != nil {
				return err
			}
			res, err := b.Meter(cmd.Context(), time.Now())
			if asJSON {
				if perr := printJSON(e, res); perr != nil {
					return perr
				}
			} else {
				fmt.Fprintf(e.stdout, "sent %d, failed %d, skipped %d, unknown %d\n", res.Sent, res.Failed, res.Skipped, res.Unknown)
			}
			return err
		},
	}
	for _, c := range []*cobra.Command{plans, status, setLimit, meter} {
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	status.Flags().StringVar(&org, "org", "", "organisation id (required)")
	setLimit.Flags().StringVar(&org, "org", "", "organisation id (required)")
	setLimit.Flags().StringVar(&sensors, "sensors", "", "the contract's sensor limit, or none (required)")
	_ = status.MarkFlagRequired("org")
	_ = setLimit.MarkFlagRequired("org")
	_ = setLimit.MarkFlagRequired("sensors")
	dbCfg.Bind(cmd.PersistentFlags(), config.GroupDatabase, config.GroupBilling, config.GroupLog)
	cmd.AddCommand(plans, status, setLimit, meter)
	return cmd
}
