package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/auth"
)

// defaultDevAuthKey is where serve --dev-auth, demo and dev-token find the
// development issuer's key unless told otherwise.
const defaultDevAuthKey = ".freshtrack/dev-issuer.pem"

func newDevTokenCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev-token --org ORG --role ROLE [--email E]",
		Short: "Mint an access token for a server started with --dev-auth",
		Long: `Dev-token makes sure a user with --email exists and is a member of --org with
--role, then prints an ES256 access token signed by the development issuer of a
'freshtrack serve --dev-auth' listening on --addr (the same key file and address
as the server). Use it as 'Authorization: Bearer <token>'.`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	var org, role, email, name, addr, keyFile string
	var ttl time.Duration
	f := cmd.Flags()
	f.StringVar(&org, "org", "", "organisation id (required)")
	f.StringVar(&role, "role", "", "viewer, staff, manager, admin or owner (required)")
	f.StringVar(&email, "email", "", "the user's email (default: <role>@dev.freshtrack.local)")
	f.StringVar(&name, "name", "", "the user's display name")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "the server's listen address [$FRESHTRACK_ADDR]")
	f.StringVar(&keyFile, "dev-auth-key", defaultDevAuthKey, "the development issuer's key file [$FRESHTRACK_DEV_AUTH_KEY]")
	f.DurationVar(&ttl, "ttl", 12*time.Hour, "how long the token is valid")
	_ = cmd.MarkFlagRequired("org")
	_ = cmd.MarkFlagRequired("role")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
			return err
		}
		r, err := auth.ParseRole(role)
		if err != nil {
			return err
		}
		if !auth.IsLoopback(addr) {
			return fmt.Errorf("--addr %s is not a loopback address; the development issuer only runs on loopback", addr)
		}
		if ttl <= 0 || ttl > 30*24*time.Hour {
			return fmt.Errorf("--ttl must be between 1s and 720h, got %s", ttl)
		}
		pool, err := openPool(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		defer pool.Close()
		tok, err := mintDevToken(cmd.Context(), pool, keyFile, addr, org, r, email, name, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, tok)
		return nil
	}
	return cmd
}

// mintDevToken makes email a member of org with role and signs a token for
// them with the development issuer of a server on addr.
func mintDevToken(ctx context.Context, pool *pgxpool.Pool, keyFile, addr, org string, role auth.Role, email, name string, ttl time.Duration) (string, error) {
	if email == "" {
		email = string(role) + "@dev.freshtrack.local"
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if name == "" {
		name = "Dev " + string(role)
	}
	dev, err := auth.LoadDevIssuer(keyFile, auth.DevIssuerURL(addr))
	if err != nil {
		return "", err
	}
	if _, err := auth.GetOrganization(ctx, pool, org); err != nil {
		return "", fmt.Errorf("organisation %s: %w", org, err)
	}
	subject := "dev|" + email
	u, err := auth.UpsertUser(ctx, pool, dev.Issuer(), subject, email, name)
	if err != nil {
		return "", err
	}
	if err := auth.GrantMembership(ctx, pool, org, u.ID, role); err != nil {
		return "", fmt.Errorf("membership: %w", err)
	}
	return dev.Mint(subject, email, name, ttl)
}

func newAuditCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Inspect the tamper-evident audit trail"}
	cfg := dbCommand(e, cmd)
	var org string
	verify := &cobra.Command{
		Use:   "verify --org ORG",
		Short: "Recompute an organisation's audit hash chain; fails at the first altered or missing row",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := loadAndConnect(cmd, e, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			n, head, err := auth.VerifyAudit(cmd.Context(), pool, org)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "audit trail intact: %d rows, head hash %x\n", n, head)
			return nil
		},
	}
	verify.Flags().StringVar(&org, "org", "", "organisation id (required)")
	_ = verify.MarkFlagRequired("org")
	cmd.AddCommand(verify)
	return cmd
}
