package demo_test

import (
	"context"
	"testing"

	"github.com/freshtrack/freshtrack/demo"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestCreateReplacesThePreviousDemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	first, err := demo.Create(ctx, pool, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Units) != 6 || len(first.Sensors) != 6 || first.APIKey == "" {
		t.Fatalf("fleet = %+v", first)
	}
	// An organisation that merely shares the name is not the demo's.
	var lookalike string
	if err := pool.QueryRow(ctx, `INSERT INTO organizations (name) VALUES ($1) RETURNING id`, demo.OrgName).Scan(&lookalike); err != nil {
		t.Fatal(err)
	}
	var unit, rule string
	if err := pool.QueryRow(ctx, `SELECT unit_id, id FROM alert_rules WHERE org_id = $1`, first.OrgID).Scan(&unit, &rule); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at) VALUES ($1, $2, $3, 'temp_high', 'critical', now())`, first.OrgID, unit, rule); err != nil {
		t.Fatal(err)
	}
	second, err := demo.Create(ctx, pool, 6)
	if err != nil {
		t.Fatal(err)
	}
	var deleted, lookalikeDeleted bool
	var open, revoked int
	err = pool.QueryRow(ctx, `
		SELECT (SELECT deleted_at IS NOT NULL FROM organizations WHERE id = $1),
		       (SELECT deleted_at IS NOT NULL FROM organizations WHERE id = $2),
		       (SELECT count(*) FROM alerts WHERE org_id = $1 AND status <> 'resolved'),
		       (SELECT count(*) FROM api_keys WHERE org_id = $1 AND revoked_at IS NOT NULL)`, first.OrgID, lookalike).
		Scan(&deleted, &lookalikeDeleted, &open, &revoked)
	if err != nil {
		t.Fatal(err)
	}
	if !deleted || lookalikeDeleted || open != 0 || revoked != 1 || second.OrgID == first.OrgID {
		t.Fatalf("after a second demo: first deleted=%v, look-alike deleted=%v, open alerts %d, revoked keys %d", deleted, lookalikeDeleted, open, revoked)
	}
}
