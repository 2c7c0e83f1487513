package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// fixture creates an organisation with a site, a fridge and a temp_high rule.
func fixture(t *testing.T, tx pgx.Tx) (org, unit, rule string) {
	t.Helper()
	ctx := context.Background()
	err := tx.QueryRow(ctx, `
		WITH o AS (INSERT INTO organizations (name) VALUES ('Test Kitchen') RETURNING id),
		     s AS (INSERT INTO sites (org_id, name, timezone) SELECT id, 'Main', 'Europe/Berlin' FROM o RETURNING org_id, id),
		     u AS (INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
		           SELECT org_id, id, 'Fridge 1', 'fridge', 0, 5 FROM s RETURNING org_id, id),
		     r AS (INSERT INTO alert_rules (org_id, unit_id, kind, threshold) SELECT org_id, id, 'temp_high', 5 FROM u RETURNING org_id, unit_id, id)
		SELECT org_id, unit_id, id FROM r`).Scan(&org, &unit, &rule)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return org, unit, rule
}

func TestDatabaseAllowsOneOpenAlertPerUnitAndRule(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	ctx := context.Background()
	org, unit, rule := fixture(t, tx)
	open := `INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at) VALUES ($1, $2, $3, 'temp_high', 'warning', now()) RETURNING id`
	var first string
	if err := tx.QueryRow(ctx, open, org, unit, rule).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	var second string
	err := tx.QueryRow(ctx, open, org, unit, rule).Scan(&second)
	if pgCode(err) != "23505" {
		t.Fatalf("second open alert for the same unit and rule = %v, want unique violation", err)
	}
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	// Acknowledged is still open.
	if _, err := tx.Exec(ctx, `UPDATE alerts SET status = 'acknowledged', acknowledged_at = now() WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, open, org, unit, rule).Scan(&second); pgCode(err) != "23505" {
		t.Fatalf("open alert beside an acknowledged one = %v, want unique violation", err)
	}
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	// Once resolved, a new excursion may open a new alert.
	if _, err := tx.Exec(ctx, `UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, open, org, unit, rule).Scan(&second); err != nil {
		t.Fatalf("new alert after resolution: %v", err)
	}
}

func TestAuditLogIsAppendOnlyAndChained(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	ctx := context.Background()
	org, _, _ := fixture(t, tx)
	for _, action := range []string{"site.create", "unit.update", "alert.ack"} {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, actor, action, details) VALUES ($1, 'user:1', $2, '{"k":1}')`, org, action); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT prev_hash, hash FROM audit_log WHERE org_id = $1 ORDER BY id`, org)
	if err != nil {
		t.Fatal(err)
	}
	type link struct{ prev, hash []byte }
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (link, error) {
		var l link
		return l, r.Scan(&l.prev, &l.hash)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 3 || len(links[0].prev) != 0 || len(links[0].hash) != 32 {
		t.Fatalf("chain = %x", links)
	}
	for i := 1; i < len(links); i++ {
		if string(links[i].prev) != string(links[i-1].hash) {
			t.Fatalf("row %d does not chain to row %d", i, i-1)
		}
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET action = 'nothing.happened' WHERE org_id = '` + org + `'`,
		`DELETE FROM audit_log WHERE org_id = '` + org + `'`,
		`TRUNCATE audit_log`,
	} {
		if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
		_, err := tx.Exec(ctx, stmt)
		if pgCode(err) != "42501" {
			t.Fatalf("%s = %v, want refusal (42501)", stmt, err)
		}
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTenantReferencesStayInsideTheOrganisation(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	ctx := context.Background()
	_, unitA, _ := fixture(t, tx)
	orgB, _, _ := fixture(t, tx)
	// A sensor of organisation B cannot be assigned to organisation A's unit.
	_, err := tx.Exec(ctx, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, 'eui-1', $2)`, orgB, unitA)
	if pgCode(err) != "23503" {
		t.Fatalf("cross-organisation unit reference = %v, want foreign key violation", err)
	}
}
