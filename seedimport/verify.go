package seedimport

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/freshtrack/freshtrack/auth"
)

// Verify compares the seed with what the imports stored: per table, the
// rows the mapping says FreshTrack must hold (the same plan the import
// built, from a new snapshot of the seed) against the rows it holds, by
// count and an order-independent checksum of their projection; and for
// readings, per unit and UTC day, the count and checksum of
// unit|time|round(temp_c, 2) computed in SQL on both sides. The result is
// recorded in each imported organisation's audit trail as import.completed.

// VerifyResult is what Verify found.
type VerifyResult struct {
	// Result is PASS when every line passes, else FAIL.
	Result string `json:"result"`
	// Source is the seed's URL without its password.
	Source string `json:"source"`
	// CheckedAt is when the check ran; SnapshotAt the seed's snapshot.
	CheckedAt  time.Time `json:"checked_at"`
	SnapshotAt time.Time `json:"snapshot_at"`
	// RunID is the last finished import run compared with.
	RunID int64 `json:"run_id"`
	// ReadingsTo is the newest reading time that run covers.
	ReadingsTo *time.Time `json:"readings_to"`
	// Tables are the per-table lines, Days one line per UTC day of
	// readings, Readings one per unit and day.
	Tables   []VerifyLine   `json:"tables"`
	Days     []DayLine      `json:"days"`
	Readings []ReadingsLine `json:"readings"`
	// Failures counts the failing lines of all three lists.
	Failures int `json:"failures"`
	// Seconds is how long the check took.
	Seconds float64 `json:"seconds"`
}

// VerifyLine is one table.
type VerifyLine struct {
	Table string `json:"table"`
	From  string `json:"from"`
	// SourceRows are the seed's rows read; Expected the rows FreshTrack must
	// hold after the mapping's skips and merges; Target the rows it holds.
	SourceRows       int64  `json:"source_rows"`
	Expected         int64  `json:"expected"`
	Target           int64  `json:"target"`
	ExpectedChecksum string `json:"expected_checksum"`
	TargetChecksum   string `json:"target_checksum"`
	Result           string `json:"result"`
}

// ReadingsLine is one unit's readings of one UTC day.
type ReadingsLine struct {
	UnitID         string `json:"unit_id"`
	OrgID          string `json:"org_id"`
	Day            string `json:"day"`
	SourceCount    int64  `json:"source_count"`
	TargetCount    int64  `json:"target_count"`
	SourceChecksum string `json:"source_checksum"`
	TargetChecksum string `json:"target_checksum"`
	Result         string `json:"result"`
}

// DayLine sums a day's ReadingsLines.
type DayLine struct {
	Day         string `json:"day"`
	Units       int    `json:"units"`
	SourceCount int64  `json:"source_count"`
	TargetCount int64  `json:"target_count"`
	Failing     int    `json:"failing_units"`
	Result      string `json:"result"`
}

// checksum is an order-independent sum of 64-bit row hashes: the first 8
// bytes of each projection's MD5 read as a signed big-endian integer, the
// same as ('x' || left(md5(p), 16))::bit(64)::bigint summed in SQL.
type checksum struct {
	n   int64
	sum big.Int
}

func (c *checksum) add(projection string) {
	h := md5.Sum([]byte(projection))
	c.sum.Add(&c.sum, big.NewInt(int64(binary.BigEndian.Uint64(h[:8]))))
	c.n++
}

func (c *checksum) String() string { return c.sum.String() }

// sqlHash is the SQL side of checksum.add for the projection expression p.
func sqlHash(p string) string { return `('x' || left(md5(` + p + `), 16))::bit(64)::bigint` }

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// Verify compares the seed at o.Source with FreshTrack's database.
func Verify(ctx context.Context, o Options) (*VerifyResult, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	last, err := lastRun(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	o.ReadingsUnit = last.Unit
	src, err := openSource(ctx, o.Source)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	res := &VerifyResult{Source: redactURL(o.Source), CheckedAt: o.Now().UTC(), SnapshotAt: src.At, RunID: last.ID, ReadingsTo: last.ReadingsTo,
		Tables: []VerifyLine{}, Days: []DayLine{}, Readings: []ReadingsLine{}}
	d, err := loadSeed(ctx, src.tx, src.cat)
	if err != nil {
		return nil, err
	}
	scope := readingsFilter{to: last.ReadingsTo, batteryColumn: "NULL"}
	if last.ReadingsTo == nil {
		scope.to = ptr(time.Unix(0, 0).UTC())
	}
	if d.readings, err = prepass(ctx, src.tx, scope); err != nil {
		return nil, err
	}
	ts, err := loadTargetState(ctx, o.Target, o.Issuer, d)
	if err != nil {
		return nil, err
	}
	ts.audited = map[string]bool{} // every imported entry is expected, not only new ones
	rep := newReport("verify", o.Source)
	p := buildPlan(o, d, ts, rep)
	if err := verifyTables(ctx, o, d, p, res); err != nil {
		return nil, err
	}
	if err := verifyReadings(ctx, o, src, d, last, p, res); err != nil {
		return nil, err
	}
	for _, l := range res.Tables {
		res.Failures += b2i(l.Result != "PASS")
	}
	for _, l := range res.Days {
		res.Failures += b2i(l.Result != "PASS")
	}
	for _, l := range res.Readings {
		res.Failures += b2i(l.Result != "PASS")
	}
	res.Result = passFail(res.Failures == 0)
	res.Seconds = time.Since(start).Seconds()
	if err := recordVerify(ctx, o, p, res); err != nil {
		return res, err
	}
	return res, nil
}

// projection is one table's expected rows and how to read them back.
type projection struct {
	table, from string
	source      int64
	keys        []string // the rows' keys, the filter of the SQL
	rows        []string // their projections
	// sql counts and checksums the target rows whose key is in $1.
	sql string
}

func verifyTables(ctx context.Context, o Options, d *seedData, p *plan, res *VerifyResult) error {
	var ps []projection
	add := func(table, from string, source int64, keyExpr, projExpr, fromWhere string, each func(add func(key, proj string))) {
		pr := projection{table: table, from: from, source: source,
			sql: `SELECT count(*), coalesce(sum(` + sqlHash(projExpr) + `), 0)::text FROM ` + fromWhere + ` AND (` + keyExpr + `) = ANY($1::text[])`}
		each(func(k, v string) { pr.keys = append(pr.keys, k); pr.rows = append(pr.rows, v) })
		ps = append(ps, pr)
	}
	j := func(parts ...string) string { return strings.Join(parts, "|") }
	add("organizations", "organizations", int64(len(d.orgs)), "id::text", "id::text || '|' || name", "organizations WHERE true",
		func(f func(string, string)) {
			for _, r := range p.orgs {
				f(r.ID, j(r.ID, r.Name))
			}
		})
	add("users", "profiles + user_roles", int64(len(p.users)), "id::text", "id::text || '|' || issuer || '|' || subject", "users WHERE true",
		func(f func(string, string)) {
			for _, r := range p.users {
				f(r.ID, j(r.ID, r.Issuer, r.Subject))
			}
		})
	add("memberships", "user_roles", int64(len(d.roles)), "org_id::text || '|' || user_id::text", "org_id::text || '|' || user_id::text || '|' || role::text",
		"memberships WHERE true", func(f func(string, string)) {
			for _, r := range p.members {
				f(j(r.OrgID, r.UserID), j(r.OrgID, r.UserID, r.Role))
			}
		})
	add("subscriptions", "subscriptions", int64(len(d.subs)), "org_id::text", "org_id::text || '|' || plan || '|' || status", "subscriptions WHERE true",
		func(f func(string, string)) {
			for _, r := range p.subs {
				f(r.OrgID, j(r.OrgID, r.Plan, r.Status))
			}
		})
	add("sites", "sites", int64(len(d.sites)), "id::text", "id::text || '|' || org_id::text || '|' || timezone", "sites WHERE true",
		func(f func(string, string)) {
			for _, r := range p.sites {
				f(r.ID, j(r.ID, r.OrgID, r.Timezone))
			}
		})
	add("areas", "areas", int64(len(d.areas)), "id::text", "id::text || '|' || org_id::text || '|' || site_id::text", "areas WHERE true",
		func(f func(string, string)) {
			for _, r := range p.areas {
				f(r.ID, j(r.ID, r.OrgID, r.SiteID))
			}
		})
	add("units", "units", int64(len(d.units)), "id::text", "id::text || '|' || org_id::text || '|' || site_id::text || '|' || kind", "units WHERE true",
		func(f func(string, string)) {
			for _, r := range p.units {
				f(r.ID, j(r.ID, r.OrgID, r.SiteID, r.Kind))
			}
		})
	add("sensors", "devices + units", int64(len(d.devices)), "org_id::text || '|' || external_id",
		"org_id::text || '|' || external_id || '|' || coalesce(unit_id::text, '')", "sensors WHERE true",
		func(f func(string, string)) {
			for _, r := range p.sensors {
				f(j(r.OrgID, r.External), j(r.OrgID, r.External, deref(r.UnitID)))
			}
		})
	add("alert_rules", "units + alert_rules", int64(len(d.rules)), "id::text",
		"id::text || '|' || org_id::text || '|' || unit_id::text || '|' || kind || '|' || confirm_seconds", "alert_rules WHERE true",
		func(f func(string, string)) {
			for _, r := range p.rules {
				f(r.ID, j(r.ID, r.OrgID, r.UnitID, r.Kind, strconv.Itoa(r.ConfirmSeconds)))
			}
		})
	add("contacts", "escalation_contacts + profiles", int64(len(d.contacts)), "id::text", "id::text || '|' || org_id::text || '|' || role::text",
		"contacts WHERE true", func(f func(string, string)) {
			for _, r := range p.contacts {
				f(r.ID, j(r.ID, r.OrgID, r.Role))
			}
		})
	add("notification_policies", "notification_policies", int64(len(d.policies)), "id::text",
		`id::text || '|' || org_id::text || '|' || coalesce(site_id::text, '') || '|' || coalesce(unit_id::text, '') || '|' || coalesce(alert_kind, '')
		 || '|' || jsonb_array_length(steps) || '|' || ack_deadline_minutes || '|' || reminder_minutes || '|' || notify_on_resolve
		 || '|' || coalesce(quiet_start || '-' || quiet_end, '') || '|' || min_severity`, "notification_policies WHERE true",
		func(f func(string, string)) {
			for _, r := range p.policies {
				quiet := ""
				if r.QuietStart != nil && r.QuietEnd != nil {
					quiet = *r.QuietStart + "-" + *r.QuietEnd
				}
				f(r.ID, j(r.ID, r.OrgID, deref(r.SiteID), deref(r.UnitID), r.Kind, strconv.Itoa(r.StepCount), strconv.Itoa(r.AckDeadline),
					strconv.Itoa(r.ReminderMinutes), strconv.FormatBool(r.NotifyOnResolve), quiet, r.MinSeverity))
			}
		})
	add("alerts", "alerts", int64(len(d.alerts)), "id::text",
		"id::text || '|' || org_id::text || '|' || unit_id::text || '|' || rule_id::text || '|' || kind || '|' || status", "alerts WHERE true",
		func(f func(string, string)) {
			for _, r := range p.alerts {
				f(r.ID, j(r.ID, r.OrgID, r.UnitID, r.RuleID, r.Kind, r.Status))
			}
		})
	add("alert_events", "alerts (lifecycle)", int64(len(d.alerts)), "alert_id::text || '|' || kind", "alert_id::text || '|' || kind",
		"alert_events WHERE details->>'imported' = 'true'", func(f func(string, string)) {
			for _, r := range p.events {
				f(j(r.AlertID, r.Kind), j(r.AlertID, r.Kind))
			}
		})
	add("corrective_actions", "corrective_actions", int64(len(d.actions)), "id::text",
		"id::text || '|' || org_id::text || '|' || unit_id::text || '|' || coalesce(alert_id::text, '')", "corrective_actions WHERE true",
		func(f func(string, string)) {
			for _, r := range p.actions {
				f(r.ID, j(r.ID, r.OrgID, r.UnitID, deref(r.AlertID)))
			}
		})
	add("notifications", "notification_deliveries", int64(len(d.deliveries)), "id::text",
		"id::text || '|' || org_id::text || '|' || channel || '|' || status", "notifications WHERE true",
		func(f func(string, string)) {
			for _, r := range p.notifications {
				f(r.ID, j(r.ID, r.OrgID, r.Channel, r.Status))
			}
		})
	add("manual_checks", "manual_temperature_logs", int64(len(d.manual)), "id::text", "id::text || '|' || org_id::text || '|' || unit_id::text",
		"manual_checks WHERE true", func(f func(string, string)) {
			for _, r := range p.checks {
				f(r.ID, j(r.ID, r.OrgID, r.UnitID))
			}
		})
	add("digest_subscriptions", "profiles", int64(len(d.profiles)), "org_id::text || '|' || user_id::text || '|' || frequency",
		"org_id::text || '|' || user_id::text || '|' || frequency", "digest_subscriptions WHERE true", func(f func(string, string)) {
			for _, r := range p.digests {
				f(j(r.OrgID, r.UserID, r.Frequency), j(r.OrgID, r.UserID, r.Frequency))
			}
		})
	add("audit_log", "event_logs + alert_rules_history", int64(len(d.events)+len(d.history)),
		"replace(details->>'imported_from', 'freshtrack_pro.', '') || ':' || (details->>'original_id')",
		"org_id::text || '|' || replace(details->>'imported_from', 'freshtrack_pro.', '') || ':' || (details->>'original_id') || '|' || action",
		"audit_log WHERE details ? 'imported_from'", func(f func(string, string)) {
			for _, r := range p.audits {
				f(r.Original, j(r.OrgID, r.Original, r.Action))
			}
		})
	for _, pr := range ps {
		var want checksum
		for _, row := range pr.rows {
			want.add(row)
		}
		var n int64
		var got string
		if err := o.Target.QueryRow(ctx, pr.sql, pr.keys).Scan(&n, &got); err != nil {
			return fmt.Errorf("verify %s: %w", pr.table, err)
		}
		res.Tables = append(res.Tables, VerifyLine{Table: pr.table, From: pr.from, SourceRows: pr.source, Expected: want.n, Target: n,
			ExpectedChecksum: want.String(), TargetChecksum: got, Result: passFail(n == want.n && got == want.String())})
	}
	return nil
}

// recordVerify writes import.completed into each imported organisation's
// audit trail: the result, every table line and the organisation's readings.
func recordVerify(ctx context.Context, o Options, p *plan, res *VerifyResult) error {
	type orgReadings struct {
		UnitDays       int    `json:"unit_days"`
		Failing        int    `json:"failing_unit_days"`
		SourceRows     int64  `json:"source_rows"`
		TargetRows     int64  `json:"target_rows"`
		SourceChecksum string `json:"source_checksum"`
		TargetChecksum string `json:"target_checksum"`
		srcSum, dstSum big.Int
	}
	byOrg := map[string]*orgReadings{}
	for _, org := range p.orgs {
		byOrg[org.ID] = &orgReadings{}
	}
	for _, l := range res.Readings {
		r := byOrg[l.OrgID]
		if r == nil {
			continue
		}
		r.UnitDays++
		r.Failing += b2i(l.Result != "PASS")
		r.SourceRows += l.SourceCount
		r.TargetRows += l.TargetCount
		var a, b big.Int
		a.SetString(l.SourceChecksum, 10)
		b.SetString(l.TargetChecksum, 10)
		r.srcSum.Add(&r.srcSum, &a)
		r.dstSum.Add(&r.dstSum, &b)
	}
	for _, org := range slices.Sorted(maps.Keys(byOrg)) {
		r := byOrg[org]
		r.SourceChecksum, r.TargetChecksum = r.srcSum.String(), r.dstSum.String()
		err := auth.WriteAudit(ctx, o.Target, auth.AuditEntry{OrgID: org, Actor: "system", Action: "import.completed",
			TargetType: "organization", TargetID: org, Details: map[string]any{
				"source": res.Source, "result": res.Result, "run_id": res.RunID, "checked_at": res.CheckedAt,
				"snapshot_at": res.SnapshotAt, "readings_to": res.ReadingsTo, "tables": res.Tables, "readings": r,
			}})
		if err != nil {
			return fmt.Errorf("record the verification: %w", err)
		}
	}
	return nil
}
