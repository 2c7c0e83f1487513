package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/auth"
)

// newLegacySecretCmd manages the FreshTrack Pro secrets an import kept as
// ingest credentials: they are created by the import only.
func newLegacySecretCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "legacy-secret", Short: "List and revoke the FreshTrack Pro secrets kept as ingest credentials"}
	cfg := dbCommand(e, cmd)
	var org string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list --org ORG_ID",
		Short: "List an organisation's FreshTrack Pro secrets (never the secrets themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			secrets, err := auth.ListLegacySecrets(cmd.Context(), pool, org)
			if err != nil {
				return err
			}
			if asJSON {
				views := make([]auth.LegacySecretView, len(secrets))
				for i, s := range secrets {
					views[i] = s.View()
				}
				return printJSON(e, views)
			}
			when := func(t *time.Time) string {
				if t == nil {
					return "-"
				}
				return t.Format("2006-01-02 15:04")
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSOURCE\tCREATED\tLAST USED\tREVOKED")
			for _, s := range secrets {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Source, s.CreatedAt.Format("2006-01-02 15:04"),
					when(s.LastUsedAt), when(s.RevokedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&org, "org", "", "organisation id (required)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = list.MarkFlagRequired("org")

	revoke := newRevokeCmd(e, cfg, "revoke --org ORG_ID SECRET_ID", "Revoke a FreshTrack Pro secret; devices and TTN webhooks using it are refused within seconds", auth.RevokeLegacySecret)
	cmd.AddCommand(list, revoke)
	return cmd
}
