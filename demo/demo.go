package demo

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
)

// OrgName is the demo organisation's name.
const OrgName = "FreshTrack Demo Kitchen"

// Fleet is what Create made: everything a client needs to post readings.
type Fleet struct {
	OrgID   string   `json:"org_id"`
	SiteID  string   `json:"site_id"`
	APIKey  string   `json:"api_key"`
	Sensors []string `json:"sensors"`
	Units   []Unit   `json:"units"`
}

// Unit is one demo unit and the sensors in it.
type Unit struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	SafeMin float64  `json:"safe_min_c"`
	SafeMax float64  `json:"safe_max_c"`
	Sensors []string `json:"sensors"`
	// Warming marks the fridge that drifts into an excursion.
	Warming bool `json:"warming,omitempty"`
}

var unitPlan = []struct {
	name, area, kind string
	min, max         float64
	warming          bool
}{
	{"Walk-in cooler", "Storage", "walk_in", 0, 5, false},
	{"Prep fridge 1", "Kitchen", "fridge", 0, 5, false},
	{"Prep fridge 2", "Kitchen", "fridge", 0, 5, true},
	{"Chest freezer", "Storage", "freezer", -30, -18, false},
	{"Ice cream display", "Front", "display", -25, -12, false},
	{"Hot-holding cabinet", "Kitchen", "hot_holding", 57, 90, false},
}

// Create makes a new demo organisation with one site, three areas, six units
// (fridges, freezers, a hot-holding cabinet), sensors spread over them
// (at least one per unit) and an API key.
func Create(ctx context.Context, pool *pgxpool.Pool, sensors int) (Fleet, error) {
	if sensors < len(unitPlan) {
		sensors = len(unitPlan)
	}
	if sensors > 100_000 {
		return Fleet{}, fmt.Errorf("at most 100000 demo sensors, got %d", sensors)
	}
	if err := retirePrevious(ctx, pool); err != nil {
		return Fleet{}, err
	}
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: OrgName, Actor: "demo"})
	if err != nil {
		return Fleet{}, err
	}
	f := Fleet{OrgID: org.ID}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO sites (org_id, name, timezone, address) VALUES ($1, 'Downtown Bistro', 'Europe/Berlin', 'Hauptstraße 1, Berlin') RETURNING id`, org.ID).Scan(&f.SiteID); err != nil {
			return err
		}
		areas := map[string]string{}
		for _, p := range unitPlan {
			if _, ok := areas[p.area]; ok {
				continue
			}
			var id string
			if err := tx.QueryRow(ctx, `INSERT INTO areas (org_id, site_id, name) VALUES ($1, $2, $3) RETURNING id`, org.ID, f.SiteID, p.area).Scan(&id); err != nil {
				return err
			}
			areas[p.area] = id
		}
		for _, p := range unitPlan {
			u := Unit{Name: p.name, Kind: p.kind, SafeMin: p.min, SafeMax: p.max, Warming: p.warming}
			if err := tx.QueryRow(ctx, `
				INSERT INTO units (org_id, site_id, area_id, name, kind, safe_min_c, safe_max_c)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
				org.ID, f.SiteID, areas[p.area], p.name, p.kind, p.min, p.max).Scan(&u.ID); err != nil {
				return err
			}
			f.Units = append(f.Units, u)
		}
		short := strings.ToUpper(strings.ReplaceAll(org.ID, "-", ""))[:8]
		for i := range sensors {
			// Looks like a LoRaWAN dev_eui: the sensors could come in through TTN too.
			ext := fmt.Sprintf("A84041%s%02X", short[:8], i%256)
			if i >= 256 {
				ext = fmt.Sprintf("A84041%s%06X", short[:4], i)
			}
			u := &f.Units[i%len(f.Units)]
			if _, err := tx.Exec(ctx, `INSERT INTO sensors (org_id, external_id, unit_id, name, model) VALUES ($1, $2, $3, $4, 'LHT65N')`,
				org.ID, ext, u.ID, fmt.Sprintf("%s sensor %d", u.Name, len(u.Sensors)+1)); err != nil {
				return err
			}
			u.Sensors = append(u.Sensors, ext)
			f.Sensors = append(f.Sensors, ext)
		}
		// The warming fridge alerts two minutes after it passes 5 °C, so the
		// demo shows an alert within minutes rather than the default 15.
		for _, u := range f.Units {
			if u.Warming {
				if _, err := tx.Exec(ctx, `INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, hysteresis, severity)
					VALUES ($1, $2, 'temp_high', 5, 120, 0.5, 'critical')`, org.ID, u.ID); err != nil {
					return err
				}
			}
		}
		// People to notify: staff on shift by SMS, a manager by email.
		if _, err := tx.Exec(ctx, `INSERT INTO contacts (org_id, site_id, name, phone, role) VALUES ($1, $2, 'Sam (line cook)', '+15550100001', 'staff')`, org.ID, f.SiteID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO contacts (org_id, site_id, name, email, role) VALUES ($1, $2, 'Alex (kitchen manager)', 'alex@demo.freshtrack.local', 'manager')`, org.ID, f.SiteID); err != nil {
			return err
		}
		key, err := auth.CreateAPIKey(ctx, tx, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "demo gateway", Actor: "demo"})
		if err != nil {
			return err
		}
		f.APIKey = key.Key
		return nil
	})
	if err != nil {
		return Fleet{}, fmt.Errorf("create demo fleet: %w", err)
	}
	return f, nil
}

// retirePrevious deletes the demo organisations that earlier runs created
// (their simulators are gone, so their sensors would alarm as offline
// forever): their open alerts are closed with an auto_resolved event, their
// keys revoked and the organisations soft-deleted, history kept.
func retirePrevious(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			WITH old AS (
				SELECT o.id FROM organizations o
				 WHERE o.deleted_at IS NULL AND o.name = $1
				   AND EXISTS (SELECT 1 FROM audit_log a WHERE a.org_id = o.id AND a.action = 'organization.create' AND a.actor = 'demo')),
			closed AS (
				UPDATE alerts SET status = 'resolved', resolved_at = now(), auto_resolved = true
				 WHERE org_id IN (SELECT id FROM old) AND status <> 'resolved' RETURNING org_id, id),
			events AS (
				INSERT INTO alert_events (org_id, alert_id, kind, details)
				SELECT org_id, id, 'auto_resolved', '{"reason": "demo organisation replaced by a new demo run"}' FROM closed),
			keys AS (
				UPDATE api_keys SET revoked_at = now() WHERE org_id IN (SELECT id FROM old) AND revoked_at IS NULL)
			UPDATE organizations SET deleted_at = now(), updated_at = now() WHERE id IN (SELECT id FROM old)`, OrgName)
		if err != nil {
			return fmt.Errorf("retire previous demo organisations: %w", err)
		}
		return nil
	})
}
