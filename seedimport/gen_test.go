package seedimport

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// A seed-shaped database for the tests: the seed's DDL (testdata) and a
// generated history covering what the mapping has to get right.

//go:embed testdata/seed_freshstaged.sql
var freshStagedDDL string

//go:embed testdata/seed_frostguard.sql
var frostGuardDDL string

const (
	shapeFresh = "freshstaged"
	shapeFrost = "frostguard"
)

type genUnit struct {
	id, name, typ, org, site, area string
	// tempUnit is the unit's temp_unit (fresh-staged); limits are in it.
	tempUnit     string
	lo, hi       *float64
	device       string
	baseC        float64
	noDevice     bool
	orphan       bool
	excursionAgo time.Duration // readings at 9 °C from then for an hour
	currentHigh  bool          // the last readings are at 9 °C
}

// seedFixture is a seed database and the ids of what the tests look at.
type seedFixture struct {
	t     testing.TB
	url   string
	pool  *pgxpool.Pool
	shape string
	rng   *rand.Rand
	end   time.Time
	days  int
	every time.Duration

	orgA, orgB, orgC            string
	siteA1, siteA2, siteB1      string
	uX, uY, uZ, uW              string // Stack Auth user ids
	pX, pY, pZ                  string // their profiles
	units                       map[string]*genUnit
	unassignedTTN, unassigned   string // devices without a unit
	inactiveDevice, movedDevice string
	alerts                      map[string]string // name → seed alert id
	policyIDs                   map[string]string // name → seed notification policy id
	readings                    int64             // rows in sensor_readings
	dupAt                       time.Time
}

func (f *seedFixture) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(f.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (f *seedFixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("seed fixture: %v\n%s", err, sql)
	}
}

// temp is a °C value in the seed's readings unit.
func (f *seedFixture) temp(c float64) float64 {
	if f.shape == shapeFrost {
		return math.Round((c*9/5+32)*100) / 100
	}
	return math.Round(c*100) / 100
}

// newSeed builds a seed database of shape with days of history, one reading
// per unit every `every`, ending a couple of minutes ago.
func newSeed(t testing.TB, shape string, days int, every time.Duration) *seedFixture {
	t.Helper()
	url, pool := pgtest.EmptyDB(t, pgtest.WithMode(schema.Postgres))
	f := &seedFixture{t: t, url: url, pool: pool, shape: shape, rng: rand.New(rand.NewPCG(7, uint64(len(shape)))),
		end: time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Minute), days: days, every: every,
		units: map[string]*genUnit{}, alerts: map[string]string{}}
	f.exec(freshStagedDDL)
	if shape == shapeFrost {
		f.exec(frostGuardDDL)
	}
	f.people()
	f.places()
	f.devices()
	f.history()
	f.alerting()
	f.records()
	return f
}

func (f *seedFixture) people() {
	f.orgA, f.orgB, f.orgC = f.uuid(), f.uuid(), f.uuid()
	f.exec(`INSERT INTO organizations (id, name, slug, timezone, sensor_limit) VALUES ($1, 'Bistro Alpha', 'alpha', 'America/New_York', 25),
	        ($2, 'Beta Foods', 'beta', 'Europe/Berlin', 10)`, f.orgA, f.orgB)
	f.exec(`INSERT INTO organizations (id, name, slug, deleted_at) VALUES ($1, 'Closed Co', 'closed', now() - interval '30 days')`, f.orgC)
	f.uX, f.uY, f.uZ, f.uW = f.uuid(), f.uuid(), f.uuid(), f.uuid()
	f.pX, f.pY, f.pZ = f.uuid(), f.uuid(), f.uuid()
	f.exec(`INSERT INTO profiles (id, user_id, organization_id, email, full_name, phone, sms_enabled, digest_daily, digest_daily_time, timezone)
	        VALUES ($1, $2, $3, 'xavier@alpha.example', 'Xavier Ng', '+1 (415) 555-0101', true, true, '07:30', 'America/New_York')`, f.pX, f.uX, f.orgA)
	f.exec(`INSERT INTO profiles (id, user_id, organization_id, email, full_name, phone, sms_enabled, digest_weekly, digest_site_ids, timezone)
	        VALUES ($1, $2, $3, 'yara@beta.example', 'Yara Olsen', '555-1234', true, true, '["x"]', 'Mars/Olympus')`, f.pY, f.uY, f.orgB)
	f.exec(`INSERT INTO profiles (id, user_id, organization_id, email, full_name) VALUES ($1, $2, $3, 'zed', NULL)`, f.pZ, f.uZ, f.orgA)
	f.exec(`INSERT INTO user_roles (user_id, organization_id, role) VALUES ($1, $3, 'owner'), ($1, $4, 'staff'), ($2, $4, 'manager')`,
		f.uX, f.uY, f.orgA, f.orgB)
	f.exec(`INSERT INTO user_roles (user_id, organization_id, role) VALUES ($1, $3, 'viewer'), ($2, $3, 'admin')`, f.uZ, f.uW, f.orgA)
	f.exec(`INSERT INTO subscriptions (organization_id, plan, status, stripe_customer_id, stripe_subscription_id, current_period_end)
	        VALUES ($1, 'pro', 'active', 'cus_A', 'sub_A', now() + interval '20 days')`, f.orgA)
	f.exec(`INSERT INTO subscriptions (organization_id, plan, status, updated_at) VALUES ($1, 'starter', 'trial', now() - interval '90 days'),
	        ($1, 'haccp', 'active', now() - interval '1 day')`, f.orgB)
	f.exec(`INSERT INTO escalation_contacts (id, organization_id, profile_id, name, phone, priority) VALUES ($1, $2, $3, 'Xavier', '+14155550100', 0)`,
		f.uuid(), f.orgA, f.pX)
	f.exec(`INSERT INTO escalation_contacts (id, organization_id, name, phone, email, priority) VALUES ($1, $2, 'Ops desk', 'call ops', 'ops@alpha.example', 2)`,
		f.uuid(), f.orgA)
	f.exec(`INSERT INTO escalation_contacts (id, organization_id, name, phone, priority, is_active) VALUES ($1, $2, 'Nobody', '12', 1, false)`,
		f.uuid(), f.orgB)
}

func (f *seedFixture) places() {
	f.siteA1, f.siteA2, f.siteB1 = f.uuid(), f.uuid(), f.uuid()
	f.exec(`INSERT INTO sites (id, organization_id, name, address, city, state, postal_code, country, timezone)
	        VALUES ($1, $2, 'Main Street', '1 Main St', 'Springfield', 'OR', '97477', 'US', 'America/Los_Angeles')`, f.siteA1, f.orgA)
	f.exec(`INSERT INTO sites (id, organization_id, name, timezone, is_active) VALUES ($1, $2, 'Harbour', 'Eastern Time', false)`, f.siteA2, f.orgA)
	f.exec(`INSERT INTO sites (id, organization_id, name, timezone) VALUES ($1, $2, 'Werk 1', 'Europe/Berlin'), ($3, $4, 'Old Place', 'UTC')`,
		f.siteB1, f.orgB, f.uuid(), f.orgC)
	areaA1, areaA2, areaB1, orphan := f.uuid(), f.uuid(), f.uuid(), f.uuid()
	f.exec(`INSERT INTO areas (id, site_id, name) VALUES ($1, $2, 'Kitchen'), ($3, $4, 'Bar'), ($5, $6, 'Halle')`,
		areaA1, f.siteA1, areaA2, f.siteA2, areaB1, f.siteB1)
	f.exec(`INSERT INTO areas (id, site_id, name, is_active) VALUES ($1, $2, 'Lost area', false)`, orphan, f.uuid())
	fl := func(v float64) *float64 { return &v }
	add := func(name, typ, org, site, area, unit string, lo, hi *float64, baseC float64) *genUnit {
		u := &genUnit{id: f.uuid(), name: name, typ: typ, org: org, site: site, area: area, tempUnit: unit, lo: lo, hi: hi, baseC: baseC}
		f.units[name] = u
		return u
	}
	add("fridge-1", "fridge", f.orgA, f.siteA1, areaA1, "F", fl(33), fl(41), 3).excursionAgo = 6 * time.Hour
	add("fridge-2", "fridge", f.orgA, f.siteA1, areaA1, "F", fl(33), fl(41), 3)
	add("freezer-1", "freezer", f.orgA, f.siteA2, areaA2, "C", fl(-25), fl(-15), -20)
	add("walk-in-1", "walk_in_cooler", f.orgA, f.siteA2, areaA2, "C", fl(0), fl(5), 3)
	add("walk-in-freezer-1", "walk_in_freezer", f.orgA, f.siteA2, areaA2, "F", fl(-10), fl(0), -20).noDevice = true
	add("display-1", "display_case", f.orgB, f.siteB1, areaB1, "F", fl(33), fl(41), 3).currentHigh = true
	add("blast-1", "blast_chiller", f.orgB, f.siteB1, areaB1, "F", fl(-40), fl(38), -10)
	add("odd-fridge", "fridge", f.orgB, f.siteB1, areaB1, "C", fl(33), fl(41), 36) // limits typed in °F, unit says C
	add("orphan-unit", "fridge", f.orgA, "", orphan, "F", fl(33), fl(41), 3).orphan = true
	for _, name := range []string{"fridge-1", "fridge-2", "freezer-1", "walk-in-1", "walk-in-freezer-1", "display-1", "blast-1", "odd-fridge", "orphan-unit"} {
		u := f.units[name]
		if f.shape == shapeFrost {
			// FrostGuard: decimal °F limits, the low one optional.
			var lo, hi *float64
			if u.lo != nil {
				lo, hi = fl(f.limitF(*u.lo, u.tempUnit)), fl(f.limitF(*u.hi, u.tempUnit))
			}
			if name == "walk-in-1" {
				lo = nil
			}
			f.exec(`INSERT INTO units (id, area_id, name, unit_type, temp_limit_low, temp_limit_high) VALUES ($1, $2, $3, $4, $5, $6)`,
				u.id, u.area, u.name, u.typ, lo, hi)
			continue
		}
		f.exec(`INSERT INTO units (id, area_id, name, unit_type, temp_min, temp_max, temp_unit) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			u.id, u.area, u.name, u.typ, int(*u.lo), int(*u.hi), u.tempUnit)
	}
}

// limitF is a fresh-staged limit as FrostGuard stored it (°F).
func (f *seedFixture) limitF(v float64, unit string) float64 {
	if unit == "C" {
		return math.Round((v*9/5+32)*100) / 100
	}
	return v
}

func (f *seedFixture) devices() {
	i := 0
	for _, name := range []string{"fridge-1", "fridge-2", "freezer-1", "walk-in-1", "display-1", "blast-1", "odd-fridge", "orphan-unit"} {
		u := f.units[name]
		u.device = f.uuid()
		i++
		eui := fmt.Sprintf("70:b3:d5:7e:d0:00:%02x:%02x", i, i*3)
		if name == "blast-1" {
			eui = "" // no EUI at all
		}
		f.exec(`INSERT INTO devices (id, unit_id, device_eui, name, device_type, battery, last_seen_at, status)
		        VALUES ($1, $2, $3, $4, 'lht65', 88, $5, 'active')`, u.device, u.id, eui, name+" probe", f.end)
		if name == "fridge-1" || name == "display-1" {
			f.exec(`INSERT INTO lora_sensors (device_id, app_eui, dev_eui, app_key, network_server_id) VALUES ($1, '0000000000000000', $2, 'secret-app-key', 'org-a-app')`,
				u.device, fmt.Sprintf("a8-40-41-00-00-00-00-%02x", i))
		}
	}
	f.unassignedTTN, f.unassigned, f.inactiveDevice, f.movedDevice = f.uuid(), f.uuid(), f.uuid(), f.uuid()
	f.exec(`INSERT INTO devices (id, device_eui, name) VALUES ($1, 'AA00000000000001', 'spare (TTN)'), ($2, 'AA00000000000002', 'spare')`, f.unassignedTTN, f.unassigned)
	f.exec(`INSERT INTO lora_sensors (device_id, app_eui, dev_eui, network_server_id) VALUES ($1, '0', 'AA00000000000001', 'org-a-app')`, f.unassignedTTN)
	f.exec(`INSERT INTO devices (id, unit_id, device_eui, name, is_active) VALUES ($1, $2, 'AA00000000000003', 'old probe', false)`,
		f.inactiveDevice, f.units["fridge-2"].id)
	// Moved: now in freezer-1, but its first day of readings was in fridge-2.
	f.exec(`INSERT INTO devices (id, unit_id, device_eui, name) VALUES ($1, $2, 'AA00000000000004', 'moved probe')`, f.movedDevice, f.units["freezer-1"].id)
	f.exec(`INSERT INTO ttn_connections (organization_id, application_id, webhook_secret, ttn_webhook_secret_encrypted) VALUES ($1, 'org-a-app', 'whsec-alpha-0001', 'b2JmdXNjYXRlZA==')`, f.orgA)
	f.exec(`INSERT INTO ttn_connections (organization_id, application_id, webhook_secret, is_active) VALUES ($1, 'org-b-app', 'whsec-beta-0002', false)`, f.orgB)
}

// history writes the readings: each unit every f.every, a compressor cycle
// around its base temperature, excursions, duplicates and a probe fault.
func (f *seedFixture) history() {
	start := f.end.Add(-time.Duration(f.days) * 24 * time.Hour)
	battery := "battery"
	if f.shape == shapeFrost {
		battery = "battery_level"
	}
	var b strings.Builder
	var n int64
	flush := func() {
		if b.Len() == 0 {
			return
		}
		f.exec(`INSERT INTO sensor_readings (id, unit_id, device_id, temperature, humidity, ` + battery + `, recorded_at, received_at) VALUES ` +
			strings.TrimSuffix(b.String(), ","))
		b.Reset()
	}
	row := func(unit string, device *string, c float64, at time.Time) {
		dev := "NULL"
		if device != nil {
			dev = "'" + *device + "'"
		}
		fmt.Fprintf(&b, "('%s','%s',%s,%.2f,%.2f,%d,'%s','%s'),", f.uuid(), unit, dev, f.temp(c), 40+10*math.Sin(float64(at.Unix())/5000), 90,
			at.Format(time.RFC3339Nano), at.Add(2*time.Second).Format(time.RFC3339Nano))
		n++
		if n%2000 == 0 {
			flush()
		}
	}
	for _, name := range []string{"fridge-1", "fridge-2", "freezer-1", "walk-in-1", "walk-in-freezer-1", "display-1", "blast-1", "odd-fridge", "orphan-unit"} {
		u := f.units[name]
		for at := start; !at.After(f.end); at = at.Add(f.every) {
			c := u.baseC + 0.8*math.Sin(float64(at.Unix())/1800)
			if u.excursionAgo > 0 && !at.Before(f.end.Add(-u.excursionAgo)) && at.Before(f.end.Add(-u.excursionAgo+time.Hour)) {
				c = 9
			}
			if u.currentHigh && at.After(f.end.Add(-2*f.every-time.Second)) {
				c = 9
			}
			var dev *string
			if !u.noDevice {
				dev = &u.device
			}
			at := at.Add(time.Duration(f.rng.IntN(1000)) * time.Millisecond) // the seed keeps milliseconds
			row(u.id, dev, c, at)
		}
	}
	// The moved device's first day in fridge-2, the retired probe's too.
	for at := start; at.Before(start.Add(24 * time.Hour)); at = at.Add(f.every) {
		row(f.units["fridge-2"].id, &f.movedDevice, 2.5, at.Add(7*time.Second))
		row(f.units["fridge-2"].id, &f.inactiveDevice, 3.5, at.Add(11*time.Second))
	}
	// Two more readings of fridge-1's probe at one instant (one differs),
	// and a disconnected probe's error code.
	f.dupAt = start.Add(5 * f.every).Add(123 * time.Millisecond)
	fridge := f.units["fridge-1"]
	row(fridge.id, &fridge.device, 3.1, f.dupAt)
	row(fridge.id, &fridge.device, 3.1, f.dupAt)
	row(fridge.id, &fridge.device, 4.4, f.dupAt)
	f2 := f.units["fridge-2"]
	row(f2.id, &f2.device, 327.67, start.Add(7*f.every).Add(500*time.Millisecond))
	flush()
	f.readings = n
}

func (f *seedFixture) alerting() {
	u := f.units
	f.exec(`INSERT INTO alert_rules (organization_id, name, delay_minutes) VALUES ($1, 'Org default', 10)`, f.orgA)
	f.exec(`INSERT INTO alert_rules (organization_id, site_id, name, temp_max, delay_minutes) VALUES ($1, $2, 'Main Street max', 40, 10)`, f.orgA, f.siteA1)
	rule := f.uuid()
	f.exec(`INSERT INTO alert_rules (id, organization_id, unit_id, name, temp_min, delay_minutes, expected_reading_interval_seconds,
	        offline_trigger_multiplier, offline_trigger_additional_minutes, manual_interval_minutes)
	        VALUES ($1, $2, $3, 'Fridge 2', 35, 20, 900, 2, 5, 240)`, rule, f.orgA, u["fridge-2"].id)
	f.exec(`INSERT INTO alert_rules (organization_id, name, alert_type, door_open_warning_minutes) VALUES ($1, 'Doors', 'door_open', 5)`, f.orgB)
	f.exec(`INSERT INTO alert_rules_history (alert_rule_id, changed_by, change_type, old_values, new_values, changed_at)
	        VALUES ($1, $2, 'update', '{"delay_minutes":15}', '{"delay_minutes":20}', now() - interval '3 days'), ($1, NULL, 'create', NULL, 'x', now() - interval '4 days')`,
		rule, f.pX)
	tt := func(c float64) int { return int(math.Round(f.temp(c) * 10)) }
	add := func(name, unit, typ, sev, status string, violated *string, trigger *int, at time.Time, more string, args ...any) {
		id := f.uuid()
		f.alerts[name] = id
		f.exec(`INSERT INTO alerts (id, unit_id, alert_type, severity, status, threshold_violated, trigger_temperature, triggered_at, message)
		        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, unit, typ, sev, status, violated, trigger, at, name)
		if more != "" {
			f.exec(`UPDATE alerts SET `+more+` WHERE id = $1`, append([]any{id}, args...)...)
		}
	}
	s := func(v string) *string { return &v }
	i := func(v int) *int { return &v }
	exc := f.end.Add(-u["fridge-1"].excursionAgo)
	add("resolved-high", u["fridge-1"].id, "alarm_active", "warning", "resolved", s("max"), i(tt(9)), exc,
		`resolved_at = $2, metadata = '{"resolution":"door was left open"}'`, exc.Add(time.Hour))
	add("acked-low", u["fridge-2"].id, "alarm_active", "warning", "acknowledged", s("min"), i(tt(-0.5)), f.end.Add(-30*time.Hour),
		`acknowledged_at = $2, acknowledged_by = $3, metadata = '{"acknowledgementNotes":"checking the seal"}'`, f.end.Add(-29*time.Hour), f.pX)
	add("current-high", u["display-1"].id, "alarm_active", "warning", "active", nil, i(tt(9)), f.end.Add(-f.every-time.Second), "")
	add("offline", u["freezer-1"].id, "monitoring_interrupted", "critical", "escalated", nil, nil, f.end.Add(-40*time.Hour),
		`escalated_at = $2, escalation_level = 1`, f.end.Add(-39*time.Hour))
	add("battery", u["walk-in-1"].id, "low_battery", "info", "active", nil, nil, f.end.Add(-20*time.Hour), "")
	add("door", u["walk-in-1"].id, "door_open", "warning", "active", nil, nil, f.end.Add(-10*time.Hour), "")
	add("fault", u["blast-1"].id, "sensor_fault", "warning", "resolved", nil, nil, f.end.Add(-12*time.Hour),
		`resolved_at = $2, resolved_by = $3`, f.end.Add(-11*time.Hour), f.pY)
	add("open-old", u["walk-in-1"].id, "alarm_active", "warning", "active", s("max"), i(tt(7)), f.end.Add(-40*time.Hour), "")
	add("open-new", u["walk-in-1"].id, "alarm_active", "critical", "active", s("max"), i(tt(7.5)), f.end.Add(-3*time.Hour), "")
	add("orphan", u["orphan-unit"].id, "alarm_active", "warning", "active", s("max"), i(tt(9)), f.end.Add(-3*time.Hour), "")
	add("calibration", u["fridge-1"].id, "calibration_due", "info", "active", nil, nil, f.end.Add(-3*time.Hour), "")

	f.exec(`INSERT INTO corrective_actions (alert_id, unit_id, profile_id, description, action_taken, photo_url, resolved_alert, action_at)
	        VALUES ($1, $2, $3, 'Moved stock to the walk-in', 'Closed the door', 'https://photos.example/1.jpg', true, $4)`,
		f.alerts["resolved-high"], u["fridge-1"].id, f.pX, exc.Add(50*time.Minute))
	f.exec(`INSERT INTO corrective_actions (alert_id, unit_id, description, action_at) VALUES ($1, $2, 'Fixed the door', $3), ($4, $5, 'Gone', $3)`,
		f.alerts["door"], u["walk-in-1"].id, f.end.Add(-9*time.Hour), f.alerts["orphan"], u["orphan-unit"].id)
	f.exec(`INSERT INTO notification_deliveries (alert_id, profile_id, channel, recipient, status, external_id, sent_at, delivered_at, retry_count)
	        VALUES ($1, $2, 'sms', '+14155550101', 'delivered', 'telnyx-msg-1', $3, $3, 1),
	               ($1, $2, 'email', 'xavier@alpha.example', 'failed', NULL, NULL, NULL, 3),
	               ($4, NULL, 'push', 'device-token', 'sent', NULL, $3, NULL, 0),
	               ($5, NULL, 'sms', '+4915100000000', 'pending', NULL, NULL, NULL, 0),
	               ($6, NULL, 'email', 'ops@alpha.example', 'sent', NULL, $3, NULL, 0)`,
		f.alerts["resolved-high"], f.pX, exc.Add(time.Minute), f.alerts["current-high"], f.alerts["offline"], f.alerts["door"])
	f.policies()
}

// policies are the seed's notification policies: one of each scope, every
// alert type, and each setting the import maps, clamps or reports.
func (f *seedFixture) policies() {
	u := f.units
	f.policyIDs = map[string]string{}
	add := func(name, cols, vals string, args ...any) {
		id := f.uuid()
		f.policyIDs[name] = id
		f.exec(`INSERT INTO notification_policies (id, `+cols+`) VALUES ($1, `+vals+`)`, append([]any{id}, args...)...)
	}
	// The organisation's temperature policy, everything set; an older one
	// on the same scope loses to it.
	add("org-alarm", `organization_id, alert_type, initial_channels, escalation_steps, notify_roles, requires_ack, ack_deadline_minutes,
	                  reminders_enabled, reminder_interval_minutes, send_resolved_notifications, quiet_hours_enabled,
	                  quiet_hours_start_local, quiet_hours_end_local, severity_threshold, updated_at`,
		`$2, 'alarm_active', '{IN_APP_CENTER,SMS}', '[{"delay_minutes":15,"channels":["EMAIL","SMS"],"contact_priority":1,"repeat":false}]',
		 '{staff,manager}', true, 30, true, 2, true, true, '22:00:00', '7:00', 'WARNING', now() - interval '1 day'`, f.orgA)
	add("org-alarm-old", `organization_id, alert_type, initial_channels, updated_at`, `$2, 'alarm_active', '{EMAIL}', now() - interval '30 days'`, f.orgA)
	add("site-alarm", `site_id, alert_type, initial_channels, escalation_steps`,
		`$2, 'alarm_active', '{WEB_TOAST}', '[{"delay_minutes":5,"channels":["SMS"],"repeat":false}]'`, f.siteB1)
	add("unit-battery", `unit_id, alert_type, initial_channels, severity_threshold, reminders_enabled, reminder_interval_minutes,
	                     quiet_hours_enabled, quiet_hours_start_local, quiet_hours_end_local, notify_assigned_users`,
		`$2, 'low_battery', '{EMAIL}', 'CRITICAL', true, 2000, true, '08:00', '8:00', true`, u["fridge-1"].id)
	add("org-offline", `organization_id, alert_type`, `$2, 'monitoring_interrupted'`, f.orgA) // in-app only: nothing to import
	add("door", `organization_id, alert_type, initial_channels, severity_threshold, allow_warning_notifications, requires_ack`,
		`$2, 'door_open', '{SMS}', 'INFO', false, true`, f.orgB)
	add("calibration", `organization_id, alert_type, initial_channels`, `$2, 'calibration_due', '{EMAIL}'`, f.orgB)
	add("manual", `organization_id, alert_type, initial_channels`, `$2, 'missed_manual_entry', '{SMS}'`, f.orgB)
	add("fault", `organization_id, alert_type, initial_channels`, `$2, 'sensor_fault', '{SMS,EMAIL}'`, f.orgB)
	add("unknown", `organization_id, alert_type, initial_channels`, `$2, 'temperature_excursion', '{SMS}'`, f.orgA)
	add("orphan", `unit_id, alert_type, initial_channels`, `$2, 'low_battery', '{SMS}'`, u["orphan-unit"].id)
}

func (f *seedFixture) records() {
	u := f.units
	f.exec(`INSERT INTO manual_temperature_logs (unit_id, profile_id, temperature, notes, photo_url, recorded_at)
	        VALUES ($1, $2, $3, 'probe check', NULL, $4), ($1, NULL, $5, NULL, 'https://photos.example/2.jpg', $6), ($7, $2, $3, NULL, NULL, $4)`,
		u["fridge-1"].id, f.pX, f.temp(3.5), f.end.Add(-5*time.Hour), f.temp(4), f.end.Add(-4*time.Hour), u["orphan-unit"].id)
	f.exec(`INSERT INTO event_logs (organization_id, actor_id, actor_type, event_type, category, severity, title, unit_id, event_data, ip_address, recorded_at)
	        VALUES ($1, $2, 'user', 'unit.updated', 'config', 'info', 'Unit edited', $3, '{"field":"temp_max"}', '10.0.0.1', now() - interval '2 days'),
	               ($1, NULL, 'system', 'alert.resolved', 'alert', 'success', 'Resolved', NULL, '[1,2]', NULL, now() - interval '1 day')`,
		f.orgA, f.pX, u["fridge-1"].id)
	f.exec(`INSERT INTO event_logs (organization_id, actor_type, event_type, site_id, event_data, was_impersonated, acting_user_id, recorded_at)
	        VALUES ($1, 'api', 'reading.ingested', $2, NULL, true, $3, now() - interval '3 days')`, f.orgB, f.siteB1, f.uuid())
	for _, tbl := range []string{"sms_configs (organization_id, telnyx_api_key, telnyx_phone_number) VALUES ('" + f.orgA + "', 'KEY', '+15550000000')",
		"stripe_events (event_id, event_type) VALUES ('evt_1', 'invoice.paid')",
		"reading_metrics (unit_id, period_start, granularity, reading_count) VALUES ('" + u["fridge-1"].id + "', now(), 'hour', 4)",
		"door_events (unit_id, state, \"timestamp\") VALUES ('" + u["walk-in-1"].id + "', 'open', now())",
		"hubs (site_id, name) VALUES ('" + f.siteA1 + "', 'Hub')"} {
		f.exec(`INSERT INTO ` + tbl)
	}
}

// addReadings appends n readings per unit with a device after the
// history's end (new data arriving at a live seed), and returns how many.
func (f *seedFixture) addReadings(n int) int64 {
	var count int64
	for _, name := range []string{"fridge-1", "fridge-2", "freezer-1", "walk-in-1", "display-1"} {
		u := f.units[name]
		for i := 1; i <= n; i++ {
			at := f.end.Add(time.Duration(i) * 20 * time.Second)
			f.exec(`INSERT INTO sensor_readings (unit_id, device_id, temperature, recorded_at, received_at) VALUES ($1, $2, $3, $4, now())`,
				u.id, u.device, f.temp(u.baseC), at)
			count++
		}
	}
	// and one late reading, recorded in the middle of the imported history
	fr := f.units["fridge-1"]
	f.exec(`INSERT INTO sensor_readings (unit_id, device_id, temperature, recorded_at, received_at) VALUES ($1, $2, $3, $4, now())`,
		fr.id, fr.device, f.temp(2.2), f.end.Add(-13*time.Hour).Add(17*time.Millisecond))
	return count + 1
}
