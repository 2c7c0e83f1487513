package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

type auditRow struct {
	Actor, Action, TargetType, TargetID string
	Details                             map[string]any
}

// auditRows returns an organisation's audit log, oldest first.
func auditRows(t *testing.T, db database.Querier, orgID string) []auditRow {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT actor, action, target_type, target_id, details FROM audit_log WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.Actor, &r.Action, &r.TargetType, &r.TargetID, &r.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateAndGetOrganization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)

	org, err := auth.CreateOrganization(ctx, tx, auth.CreateOrganizationParams{Name: "  Harbour Kitchen  ", AutoRegisterSensors: true, Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if org.ID == "" || org.Name != "Harbour Kitchen" || !org.Settings.AutoRegisterSensors || org.Settings.TTN != nil || org.CreatedAt.IsZero() {
		t.Fatalf("created %+v", org)
	}
	got, err := auth.GetOrganization(ctx, tx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != org.ID || got.Name != org.Name || got.Settings.AutoRegisterSensors != true || !got.CreatedAt.Equal(org.CreatedAt) {
		t.Fatalf("got %+v, want %+v", got, org)
	}
	var settings string
	if err := tx.QueryRow(ctx, `SELECT settings::text FROM organizations WHERE id = $1`, org.ID).Scan(&settings); err != nil {
		t.Fatal(err)
	}
	if settings != `{"auto_register_sensors": true}` {
		t.Fatalf("settings = %s", settings)
	}

	audit := auditRows(t, tx, org.ID)
	if len(audit) != 1 {
		t.Fatalf("audit rows = %+v, want one", audit)
	}
	if a := audit[0]; a.Actor != "cli" || a.Action != "organization.create" || a.TargetType != "organization" || a.TargetID != org.ID || a.Details["name"] != "Harbour Kitchen" {
		t.Fatalf("audit row = %+v", a)
	}

	// The actor defaults to "system".
	other, err := auth.CreateOrganization(ctx, tx, auth.CreateOrganizationParams{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Settings.AutoRegisterSensors {
		t.Fatalf("settings = %+v, want auto-registration off", other.Settings)
	}
	if audit := auditRows(t, tx, other.ID); len(audit) != 1 || audit[0].Actor != "system" {
		t.Fatalf("audit rows = %+v, want one by system", audit)
	}
}

func TestOrganizationSettingsReadTTNFieldNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org, err := auth.CreateOrganization(ctx, tx, auth.CreateOrganizationParams{Name: "Bakery"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `UPDATE organizations SET settings = settings || '{"ttn": {"temperature": ["TempC_SHT", "temp"], "battery": ["BatV"]}}' WHERE id = $1`, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := auth.GetOrganization(ctx, tx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	ttn := got.Settings.TTN
	if ttn == nil || strings.Join(ttn.Temperature, ",") != "TempC_SHT,temp" || len(ttn.Humidity) != 0 || strings.Join(ttn.Battery, ",") != "BatV" {
		t.Fatalf("ttn = %+v", ttn)
	}
}

func TestGetOrganizationNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	deleted, err := auth.CreateOrganization(ctx, tx, auth.CreateOrganizationParams{Name: "Closed"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE organizations SET deleted_at = now() WHERE id = $1`, deleted.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		deleted.ID,
		"6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e11", // never existed
		"",
		"not-a-uuid",
		"6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e1",    // short
		"6f1c1a527d3e4c559a590d8f0c3b1e11",       // no dashes
		"6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e1g",   // not hex
		"{6f1c1a52-7d3e-4c55-9a59-0d8f0c3b1e11}", // braces
	} {
		if _, err := auth.GetOrganization(ctx, tx, id); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("GetOrganization(%q) = %v, want ErrNotFound", id, err)
		}
	}
	// Nothing above broke the transaction.
	if _, err := auth.GetOrganization(ctx, tx, "6F1C1A52-7D3E-4C55-9A59-0D8F0C3B1E11"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("upper-case id = %v, want ErrNotFound from the database", err)
	}
}

func TestCreateOrganizationValidatesName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	f := func(name, wantReason string) {
		t.Helper()
		_, err := auth.CreateOrganization(ctx, tx, auth.CreateOrganizationParams{Name: name})
		var verr *auth.ValidationError
		if !errors.As(err, &verr) || verr.Field != "name" || !strings.Contains(verr.Reason, wantReason) {
			t.Errorf("CreateOrganization(name %q) = %v, want a name error saying %q", name, err, wantReason)
		}
	}
	f("", "empty")
	f(" \t ", "empty")
	f(strings.Repeat("x", 201), "at most 200")
	f(strings.Repeat("é", 201), "at most 200")
	f("Bad\x00Name", "control")
	f("Line\nbreak", "control")
	f("\xff\xfe", "UTF-8")

	// 200 characters (400 bytes) is fine.
	if _, err := auth.CreateOrganization(ctx, tx, auth.CreateOrganizationParams{Name: strings.Repeat("é", 200)}); err != nil {
		t.Fatalf("200-character name: %v", err)
	}
}
