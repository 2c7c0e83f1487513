package records_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is an organisation with a person, a site, units of several
// kinds and a sensor, and another organisation with the same, in one
// rolled-back transaction.
type fixture struct {
	tx                        pgx.Tx
	org, user                 string
	fridge, chiller, hotHold  string
	sensor                    string // public id
	otherOrg, otherUnit       string
	otherSensor, otherChiller string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{tx: pgtest.Tx(t)}
	q := func(dst *string, sql string, args ...any) {
		t.Helper()
		if err := f.tx.QueryRow(ctx, sql, args...).Scan(dst); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	q(&f.user, `INSERT INTO users (issuer, subject, email, name) VALUES ('test', gen_random_uuid()::text, 'cook@example.com', 'Cook') RETURNING id`)
	for _, o := range []struct{ org, unit, chiller, sensor *string }{{&f.org, &f.fridge, &f.chiller, &f.sensor}, {&f.otherOrg, &f.otherUnit, &f.otherChiller, &f.otherSensor}} {
		q(o.org, `INSERT INTO organizations (name) VALUES ('Bistro') RETURNING id`)
		var site string
		q(&site, `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Main', 'UTC') RETURNING id`, *o.org)
		q(o.unit, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Fridge', 'fridge', 0, 5) RETURNING id`, *o.org, site)
		q(o.chiller, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Chiller', 'blast_chiller', -40, 5) RETURNING id`, *o.org, site)
		q(o.sensor, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, 'S-1', $2) RETURNING public_id`, *o.org, *o.unit)
		if o.org == &f.org {
			q(&f.hotHold, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Pass', 'hot_holding', 63, 90) RETURNING id`, *o.org, site)
		}
	}
	return f
}

// audits counts the organisation's audit rows of an action.
func (f *fixture) audits(t *testing.T, action string) int {
	t.Helper()
	var n int
	if err := f.tx.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = $2`, f.org, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
