package seedimport

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// loadTargetState reads what the plan needs to know of FreshTrack's
// database: people and sensors it already has, open alerts, organisation
// rules and policies, and audit entries earlier runs imported.
func loadTargetState(ctx context.Context, db database.Querier, issuer string, d *seedData) (*targetState, error) {
	ts := &targetState{usersBySubject: map[string]string{}, userIDs: map[string]string{}, sensorsByPublic: map[string][2]string{},
		sensorsByExt: map[[2]string]string{}, openAlerts: map[[2]string]string{}, orgRules: map[[3]string]string{},
		audited: map[string]bool{}, notificationPolicies: map[[4]string]string{}}
	var orgs, users, devices, alerts []string
	for _, o := range d.orgs {
		orgs = append(orgs, o.ID)
	}
	for _, p := range d.profiles {
		users = append(users, p.UserID)
	}
	for _, r := range d.roles {
		users = append(users, r.UserID)
	}
	for _, dv := range d.devices {
		devices = append(devices, dv.ID)
	}
	for _, a := range d.alerts {
		alerts = append(alerts, a.ID)
	}
	read := func(what, sql string, args []any, scan []any, each func()) error {
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("read FreshTrack's %s: %w", what, err)
		}
		if _, err := pgx.ForEachRow(rows, scan, func() error { each(); return nil }); err != nil {
			return fmt.Errorf("read FreshTrack's %s: %w", what, err)
		}
		return nil
	}
	var a, b, c, kind string
	var site, unit *string
	steps := []struct {
		what, sql string
		args      []any
		scan      []any
		each      func()
	}{
		{"users", `SELECT subject, id::text FROM users WHERE issuer = $1`, []any{issuer}, []any{&a, &b},
			func() { ts.usersBySubject[a] = b }},
		{"users", `SELECT id::text, issuer || E'\x1f' || subject FROM users WHERE id = ANY($1::text[]::uuid[])`, []any{users}, []any{&a, &b},
			func() { ts.userIDs[a] = b }},
		{"sensors", `SELECT public_id::text, org_id::text, external_id FROM sensors WHERE public_id = ANY($1::text[]::uuid[])`, []any{devices},
			[]any{&a, &b, &c}, func() { ts.sensorsByPublic[a] = [2]string{b, c} }},
		{"sensors", `SELECT org_id::text, external_id, public_id::text FROM sensors WHERE org_id = ANY($1::text[]::uuid[])`, []any{orgs},
			[]any{&a, &b, &c}, func() { ts.sensorsByExt[[2]string{a, b}] = c }},
		{"alerts", `SELECT unit_id::text, rule_id::text, id::text FROM alerts
			 WHERE status <> 'resolved' AND org_id = ANY($1::text[]::uuid[]) AND NOT (id = ANY($2::text[]::uuid[]))`,
			[]any{orgs, alerts}, []any{&a, &b, &c}, func() { ts.openAlerts[[2]string{a, b}] = c }},
		{"notification policies", `SELECT org_id::text, site_id::text, unit_id::text, coalesce(alert_kind, ''), id::text
			 FROM notification_policies WHERE org_id = ANY($1::text[]::uuid[])`,
			[]any{orgs}, []any{&a, &site, &unit, &kind, &c}, func() { ts.notificationPolicies[[4]string{a, deref(site), deref(unit), kind}] = c }},
		{"audit trail", `SELECT replace(details->>'imported_from', 'freshtrack_pro.', '') || ':' || (details->>'original_id') FROM audit_log
			 WHERE org_id = ANY($1::text[]::uuid[]) AND details ? 'imported_from' AND details ? 'original_id'`,
			[]any{orgs}, []any{&a}, func() { ts.audited[a] = true }},
	}
	for _, s := range steps {
		if err := read(s.what, s.sql, s.args, s.scan, s.each); err != nil {
			return nil, err
		}
	}
	if err := loadOrgRules(ctx, db, orgs, ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// loadOrgRules reads the organisations' rules by unit kind, an enabled row
// first where a kind has several.
func loadOrgRules(ctx context.Context, db database.Querier, orgs []string, ts *targetState) error {
	rows, err := db.Query(ctx, `
		SELECT org_id::text, unit_kind, kind, id::text FROM alert_rules
		 WHERE unit_id IS NULL AND org_id = ANY($1::text[]::uuid[])
		 ORDER BY enabled, created_at DESC, id DESC`, orgs)
	if err != nil {
		return fmt.Errorf("read FreshTrack's alert rules: %w", err)
	}
	var org, unitKind, kind, id string
	_, err = pgx.ForEachRow(rows, []any{&org, &unitKind, &kind, &id}, func() error {
		ts.orgRules[[3]string{org, unitKind, kind}] = id // later rows (enabled) win
		return nil
	})
	if err != nil {
		return fmt.Errorf("read FreshTrack's alert rules: %w", err)
	}
	return nil
}

// schemaHasImportTables reports whether the target was migrated with this
// binary's import tables.
func schemaHasImportTables(ctx context.Context, db database.Querier) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT to_regclass('import_runs') IS NOT NULL AND to_regclass('import_chunks') IS NOT NULL`).Scan(&ok)
	return ok, err
}
