package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/config"
	"github.com/freshtrack/freshtrack/internal/database"
)

// dbCommand is a command that needs only the database settings.
func dbCommand(e env, cmd *cobra.Command) *config.Config {
	var cfg config.Config
	cfg.Bind(cmd.PersistentFlags(), config.GroupDatabase, config.GroupLog)
	return &cfg
}

// printJSON prints v as --json does: snake_case keys, the API's wire form
// where the API has one.
func printJSON(e env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newOrgCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organisations"}
	cfg := dbCommand(e, cmd)
	var name string
	var autoRegister, asJSON bool
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an organisation and print its id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			org, err := auth.CreateOrganization(cmd.Context(), pool, auth.CreateOrganizationParams{Name: name, AutoRegisterSensors: autoRegister, Actor: "cli"})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, org)
			}
			fmt.Fprintf(e.stdout, "created organisation %q\nid: %s\n", org.Name, org.ID)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "organisation name (required)")
	create.Flags().BoolVar(&autoRegister, "auto-register-sensors", false, "accept readings from unknown sensors, registering them as unassigned")
	create.Flags().BoolVar(&asJSON, "json", false, "print the organisation as JSON")
	_ = create.MarkFlagRequired("name")
	cmd.AddCommand(create)
	return cmd
}

func newAPIKeyCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage device API keys"}
	cfg := dbCommand(e, cmd)
	var org, name string
	var scopes []string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create --org ORG_ID --name NAME",
		Short: "Create an API key and print it (it is shown only once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			k, err := auth.CreateAPIKey(cmd.Context(), pool, auth.CreateAPIKeyParams{OrgID: org, Name: name, Scopes: scopes, Actor: "cli"})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, k.View())
			}
			fmt.Fprintf(e.stdout, "%s\n\nThis is the only time the key is shown. Devices send it as\n  Authorization: Bearer %s\n", k.Key, k.Key)
			return nil
		},
	}
	create.Flags().StringVar(&org, "org", "", "organisation id (required)")
	create.Flags().StringVar(&name, "name", "", "a name for the key, e.g. the gateway it goes on (required)")
	create.Flags().StringSliceVar(&scopes, "scope", []string{"ingest"}, "scopes: ingest, read")
	create.Flags().BoolVar(&asJSON, "json", false, "print the key and its metadata as JSON")
	_ = create.MarkFlagRequired("org")
	_ = create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list --org ORG_ID",
		Short: "List an organisation's API keys (prefixes only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			keys, err := auth.ListAPIKeys(cmd.Context(), pool, org)
			if err != nil {
				return err
			}
			if asJSON {
				views := make([]auth.APIKeyView, len(keys))
				for i, k := range keys {
					views[i] = k.View()
				}
				return printJSON(e, views)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tREVOKED")
			for _, k := range keys {
				revoked := ""
				if k.RevokedAt != nil {
					revoked = k.RevokedAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\tftk_%s_…\t%v\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.Scopes, k.CreatedAt.Format("2006-01-02 15:04"), revoked)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&org, "org", "", "organisation id (required)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = list.MarkFlagRequired("org")

	revoke := newRevokeCmd(e, cfg, "revoke --org ORG_ID KEY_ID", "Revoke an API key; devices using it are refused within seconds", auth.RevokeAPIKey)
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// newRevokeCmd is a `revoke --org ORG_ID ID` subcommand: revoke revokes the
// organisation's credential id, recording the CLI as the actor.
func newRevokeCmd(e env, cfg *config.Config, use, short string, revoke func(ctx context.Context, db database.Querier, orgID, id, actor string) error) *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, err := loadAndConnect(cmd, e, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := revoke(cmd.Context(), pool, org, args[0], "cli"); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organisation id (required)")
	_ = cmd.MarkFlagRequired("org")
	return cmd
}
