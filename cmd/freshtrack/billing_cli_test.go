package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestBillingCommands: plans lists the configuration, set-limit gives an
// organisation a contract limit that status shows, and a bad plan list
// stops with the variable's name.
func TestBillingCommands(t *testing.T) {
	t.Parallel()
	url, pool := pgtest.NewDBURL(t)
	ctx := context.Background()
	cli := func(env map[string]string, args ...string) (string, error) {
		t.Helper()
		env["DATABASE_URL"] = url
		e, out, _ := testEnv(env)
		err := run(ctx, args, e)
		return out.String(), err
	}
	out, err := cli(map[string]string{"FRESHTRACK_BILLING_PLANS": "pro=price_9:25,enterprise=:900"}, "billing", "plans")
	if err != nil || !regexp.MustCompile(`(?m)^pro\s+price_9\s+25$`).MatchString(out) || !strings.Contains(out, "(no plan)") || !strings.Contains(out, "unlimited") || !strings.Contains(out, "Stripe: not configured") {
		t.Errorf("billing plans: %v\n%s", err, out)
	}
	if _, err := cli(map[string]string{"FRESHTRACK_BILLING_PLANS": "pro=25"}, "billing", "plans"); err == nil || !strings.Contains(err.Error(), "FRESHTRACK_BILLING_PLANS") {
		t.Errorf("a bad plan list: %v", err)
	}
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Contract Foods"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id) VALUES ($1, 'a'), ($1, 'b'), ($1, 'unit:0c8b7a4e-1111-4222-8333-444455556666')`, org.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(map[string]string{}, "billing", "set-limit", "--org", org.ID, "--sensors", "500"); err != nil {
		t.Fatal(err)
	}
	out, err = cli(map[string]string{"FRESHTRACK_STRIPE_SECRET_KEY": "sk_test_x"}, "billing", "status", "--org", org.ID, "--json")
	var st struct {
		Plan     string `json:"plan"`
		Sensors  int    `json:"sensors"`
		Limit    int    `json:"limit"`
		Contract bool   `json:"contract"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Plan != "free" || st.Sensors != 2 || st.Limit != 500 || !st.Contract {
		t.Errorf("billing status after set-limit: %v %s", err, out)
	}
	if _, err := cli(map[string]string{}, "billing", "set-limit", "--org", org.ID, "--sensors", "none"); err != nil {
		t.Fatal(err)
	}
	out, err = cli(map[string]string{"FRESHTRACK_STRIPE_SECRET_KEY": "sk_test_x"}, "billing", "status", "--org", org.ID)
	if err != nil || !strings.Contains(out, "sensors: 2 of 10") {
		t.Errorf("billing status with the contract limit cleared (Stripe's free 10): %v\n%s", err, out)
	}
	if _, err := cli(map[string]string{}, "billing", "set-limit", "--org", org.ID, "--sensors", "-4"); err == nil {
		t.Error("a negative limit was accepted")
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'billing.contract_limit'`, org.ID).Scan(&audits); err != nil || audits != 2 {
		t.Errorf("%d contract-limit audit rows", audits)
	}
}
