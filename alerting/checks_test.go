package alerting_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestManualChecks: a check is validated, stored against a unit of the
// organisation only, with its audit row, and listed newest first.
func TestManualChecks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t) // a database of its own: alerting has no TestMain for pgtest.Tx
	newUnit := func() (org, unit string) {
		t.Helper()
		err := db.QueryRow(ctx, `
			WITH o AS (INSERT INTO organizations (name) VALUES ('Checks') RETURNING id),
			     s AS (INSERT INTO sites (org_id, name, timezone) SELECT id, 'Main', 'UTC' FROM o RETURNING org_id, id),
			     u AS (INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) SELECT org_id, id, 'Fridge', 'fridge', 0, 5 FROM s RETURNING org_id, id)
			SELECT org_id, id FROM u`).Scan(&org, &unit)
		if err != nil {
			t.Fatal(err)
		}
		return org, unit
	}
	org, unit := newUnit()
	otherOrg, otherUnit := newUnit()
	var user string
	if err := db.QueryRow(ctx, `INSERT INTO users (issuer, subject, email) VALUES ('https://issuer.test', 'checker', 'checker@example.com') RETURNING id`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	temp := func(v float64) *float64 { return &v }
	future := time.Now().Add(time.Hour)

	for _, c := range []struct {
		p     alerting.ManualCheckParams
		field string
	}{
		{alerting.ManualCheckParams{}, "temp_c"},
		{alerting.ManualCheckParams{TempC: temp(250)}, "temp_c"},
		{alerting.ManualCheckParams{TempC: temp(3), CheckedAt: &future}, "checked_at"},
		{alerting.ManualCheckParams{TempC: temp(3), Notes: string(make([]byte, 4001))}, "notes"},
	} {
		c.p.OrgID, c.p.UnitID, c.p.UserID = org, unit, user
		var ve *alerting.ValidationError
		if _, err := alerting.RecordManualCheck(ctx, db, c.p); !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("RecordManualCheck(%+v) = %v, want a ValidationError naming %s", c.p, err, c.field)
		}
	}
	for _, u := range []string{otherUnit, "not-a-uuid"} {
		if _, err := alerting.RecordManualCheck(ctx, db, alerting.ManualCheckParams{OrgID: org, UnitID: u, UserID: user, TempC: temp(3)}); !errors.Is(err, alerting.ErrNotFound) {
			t.Errorf("a check of unit %s = %v, want ErrNotFound", u, err)
		}
		if _, err := alerting.ListManualChecks(ctx, db, org, u); !errors.Is(err, alerting.ErrNotFound) {
			t.Errorf("the checks of unit %s = %v, want ErrNotFound", u, err)
		}
	}
	if items, err := alerting.ListManualChecks(ctx, db, otherOrg, otherUnit); err != nil || items == nil || len(items) != 0 {
		t.Errorf("no checks yet = %v, %v; want an empty list", items, err)
	}

	earlier := time.Now().Add(-time.Hour)
	for _, p := range []alerting.ManualCheckParams{
		{TempC: temp(4.5), CheckedAt: &earlier, Notes: "door seal"},
		{TempC: temp(3.2)},
	} {
		p.OrgID, p.UnitID, p.UserID, p.Actor = org, unit, user, "user:"+user
		if _, err := alerting.RecordManualCheck(ctx, db, p); err != nil {
			t.Fatal(err)
		}
	}
	items, err := alerting.ListManualChecks(ctx, db, org, unit)
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		TempC     float64 `json:"temp_c"`
		CheckedBy string  `json:"checked_by"`
		Notes     *string `json:"notes"`
	}
	var got []check
	for _, it := range items {
		var x check
		if err := json.Unmarshal(it, &x); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if len(got) != 2 || got[0].TempC != 3.2 || got[0].Notes != nil || got[1].TempC != 4.5 || got[1].Notes == nil || got[0].CheckedBy != user {
		t.Errorf("checks = %+v, want 3.2 (no notes) then 4.5, by %s", got, user)
	}
	var audited int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'manual_check.create' AND target_id = $2`, org, unit).Scan(&audited); err != nil || audited != 2 {
		t.Errorf("audit rows = %d, %v; want 2", audited, err)
	}
}
