package digest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/query/querytest"
	"github.com/freshtrack/freshtrack/schema"
)

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at is a wall time in Berlin.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, berlin)
}

// kitchen is an organisation with a site in Berlin, a walk-in cooler that
// went warm on 2026-11-25, a freezer that has been silent since the night,
// their alerts, and a member, Ana. Another organisation has data too.
type kitchen struct {
	db                  *querytest.DB
	org, other          string
	site                string
	walkIn, freezer     string
	walkInS, freezerS   int64
	ana, carl           string
	warmAlert, offAlert string
}

// digestDay is the day the daily digests of the tests cover, and now the
// time they run at.
var (
	dayStart = at(2026, 11, 25, 0, 0)
	dayEnd   = at(2026, 11, 26, 0, 0)
	now      = at(2026, 11, 26, 7, 30)
)

func newKitchen(t *testing.T, opts ...pgtest.Option) *kitchen {
	t.Helper()
	db := querytest.New(t, opts...)
	k := &kitchen{db: db}
	k.org = db.Org("Bistro Group")
	k.site = db.Site(k.org, "Main St Kitchen", "Europe/Berlin")
	k.walkIn = db.Unit(k.org, k.site, "Walk-in Cooler 1", "walk_in", 0, 5)
	k.freezer = db.Unit(k.org, k.site, "Freezer 2", "freezer", -25, -15)
	db.Unit(k.org, k.site, "Spare Fridge", "fridge", 0, 5) // no sensor
	k.walkInS, _ = db.Sensor(k.org, k.walkIn, "walkin-1")
	k.freezerS, _ = db.Sensor(k.org, k.freezer, "freezer-2")
	k.ana = db.User("Ana", "ana@example.com")
	k.carl = db.User("Carl", "carl@example.com")
	join(t, db.Pool, k.org, k.ana, "manager")
	join(t, db.Pool, k.org, k.carl, "staff")

	db.MustWrite(
		querytest.R(k.walkInS, at(2026, 11, 24, 20, 0), -5), // the day before: not in the digest
		querytest.R(k.walkInS, at(2026, 11, 25, 0, 0), 3.0),
		querytest.R(k.walkInS, at(2026, 11, 25, 14, 0), 9.4),
		querytest.R(k.walkInS, at(2026, 11, 25, 20, 0), 2.1),
		querytest.R(k.walkInS, at(2026, 11, 25, 23, 59), 3.3),
		querytest.R(k.walkInS, at(2026, 11, 26, 0, 0), 20), // the day after: not in it either
		querytest.R(k.freezerS, at(2026, 11, 25, 3, 0), -18),
		querytest.R(k.freezerS, at(2026, 11, 25, 4, 0), -19.5),
	)
	exec(t, db.Pool, `INSERT INTO sensor_latest (sensor_id, time, temp_c) VALUES ($1, $2, 3.1), ($3, $4, -19.5)`,
		k.walkInS, now.Add(-2*time.Minute), k.freezerS, at(2026, 11, 26, 4, 0))

	warm := db.Rule(k.org, k.walkIn, "temp_high", 5)
	off := db.Rule(k.org, k.freezer, "sensor_offline", 30)
	k.warmAlert = one[string](t, db.Pool, `
		INSERT INTO alerts (org_id, unit_id, rule_id, sensor_id, kind, severity, status, started_at, opened_at, peak_c, resolved_at)
		VALUES ($1, $2, $3, $4, 'temp_high', 'critical', 'resolved', $5, $6, 9.4, $7) RETURNING id::text`,
		k.org, k.walkIn, warm, k.walkInS, at(2026, 11, 25, 13, 55), at(2026, 11, 25, 14, 5), at(2026, 11, 25, 16, 10))
	k.offAlert = one[string](t, db.Pool, `
		INSERT INTO alerts (org_id, unit_id, rule_id, sensor_id, kind, severity, started_at, opened_at)
		VALUES ($1, $2, $3, $4, 'sensor_offline', 'warning', $5, $5) RETURNING id::text`,
		k.org, k.freezer, off, k.freezerS, at(2026, 11, 25, 22, 0))
	// An old alert resolved days ago: in no section.
	exec(t, db.Pool, `
		INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, status, started_at, opened_at, peak_c, resolved_at)
		VALUES ($1, $2, $3, 'temp_high', 'warning', 'resolved', $4, $4, 7.7, $5)`,
		k.org, k.walkIn, warm, at(2026, 11, 20, 9, 0), at(2026, 11, 20, 10, 0))

	// Another organisation with its own warm fridge.
	k.other = db.Org("Other Org")
	os := db.Site(k.other, "Elsewhere", "Europe/Berlin")
	ou := db.Unit(k.other, os, "Other Fridge", "fridge", 0, 5)
	osen, _ := db.Sensor(k.other, ou, "other-1")
	db.MustWrite(querytest.R(osen, at(2026, 11, 25, 12, 0), 30))
	or := db.Rule(k.other, ou, "temp_high", 5)
	exec(t, db.Pool, `
		INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at, opened_at, peak_c)
		VALUES ($1, $2, $3, 'temp_high', 'critical', $4, $4, 30)`, k.other, ou, or, at(2026, 11, 25, 12, 0))
	join(t, db.Pool, k.other, k.ana, "owner")
	return k
}

func TestLoadContent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		mode    schema.Mode
		refresh bool
	}{
		{"postgres, readings only", schema.Postgres, false},
		{"postgres, hourly rollups", schema.Postgres, true},
		{"timescale", schema.Timescale, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			k := newKitchen(t, pgtest.WithMode(c.mode))
			if c.refresh {
				k.db.Refresh(now)
			}
			p := Schedule{Frequency: Daily, LocalHour: 7, Location: berlin}.Current(now)
			if !p.Start.Equal(dayStart) || !p.End.Equal(dayEnd) {
				t.Fatalf("period = [%s, %s)", p.Start, p.End)
			}
			got, err := Load(context.Background(), k.db.Pool, LoadParams{OrgID: k.org, Frequency: Daily, Period: p,
				Location: berlin, BaseURL: "https://freshtrack.example/", Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if got.OrgName != "Bistro Group" || got.BaseURL != "https://freshtrack.example" {
				t.Errorf("org %q, base URL %q", got.OrgName, got.BaseURL)
			}
			ids := func(as []Alert) []string {
				var out []string
				for _, a := range as {
					out = append(out, a.ID)
				}
				return out
			}
			if g := ids(got.Opened); len(g) != 2 || g[0] != k.warmAlert || g[1] != k.offAlert || got.OpenedTotal != 2 {
				t.Errorf("opened = %v (total %d), want the warm-up then the offline alert", g, got.OpenedTotal)
			}
			if g := ids(got.Resolved); len(g) != 1 || g[0] != k.warmAlert {
				t.Errorf("resolved = %v, want the warm-up alert", g)
			}
			if g := ids(got.Excursions); len(g) != 1 || g[0] != k.warmAlert || *got.Excursions[0].PeakC != 9.4 || *got.Excursions[0].ThresholdC != 5 {
				t.Errorf("excursions = %+v, want the warm-up alert with its peak and limit", got.Excursions)
			}
			var offline []string
			for _, u := range got.Offline {
				offline = append(offline, u.UnitName+"="+u.Status)
			}
			if strings.Join(offline, ",") != "Freezer 2=offline,Spare Fridge=no_data" {
				t.Errorf("offline = %v", offline)
			}
			want := map[string]string{"Walk-in Cooler 1": "2.1 9.4 4", "Freezer 2": "-19.5 -18.0 2", "Spare Fridge": "none"}
			if len(got.Units) != len(want) {
				t.Errorf("units = %+v", got.Units)
			}
			for _, u := range got.Units {
				s := "none"
				if u.MinC != nil {
					s = strings.Join([]string{ftoa(*u.MinC), ftoa(*u.MaxC), itoa(u.Count)}, " ")
				}
				if s != want[u.UnitName] {
					t.Errorf("%s: min max count = %s, want %s", u.UnitName, s, want[u.UnitName])
				}
				if out := u.UnitName == "Walk-in Cooler 1"; u.OutOfRange() != out {
					t.Errorf("%s: OutOfRange = %v, want %v", u.UnitName, u.OutOfRange(), out)
				}
			}
		})
	}
}

func ftoa(f float64) string {
	b, _ := json.Marshal(f)
	s := string(b)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestLoadContentRollupsOnly shows the extremes come from the hourly
// series: rows there without raw readings behind them count.
func TestLoadContentRollupsOnly(t *testing.T) {
	t.Parallel()
	// Hand-written rollup rows need postgres mode's rollup tables (a
	// continuous aggregate takes no INSERT).
	db := querytest.New(t, pgtest.WithMode(schema.Postgres))
	org := db.Org("Rollups")
	site := db.Site(org, "S", "Europe/Berlin")
	unit := db.Unit(org, site, "Fridge", "fridge", 0, 5)
	sensor, _ := db.Sensor(org, unit, "s-1")
	// Hourly rows as the refresh job writes them, inside and outside the
	// day, and a watermark after the day.
	exec(t, db.Pool, `INSERT INTO readings_1h (sensor_id, bucket, t_min, t_max, t_sum, n) VALUES
		($1, $2, 1.5, 4.0, 30, 10), ($1, $3, 0.5, 6.5, 40, 12), ($1, $4, -9, 99, 0, 1), ($1, $5, -9, 99, 0, 1)`,
		sensor, dayStart, dayEnd.Add(-time.Hour), dayStart.Add(-time.Hour), dayEnd)
	exec(t, db.Pool, `UPDATE rollup_state SET watermark = $1`, now)
	got, err := Load(context.Background(), db.Pool, LoadParams{OrgID: org, Frequency: Daily,
		Period: Period{Start: dayStart, End: dayEnd}, Location: berlin, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Units) != 1 || *got.Units[0].MinC != 0.5 || *got.Units[0].MaxC != 6.5 || got.Units[0].Count != 22 || !got.Units[0].OutOfRange() {
		t.Errorf("units = %+v, want 0.5 to 6.5 over 22 readings, out of range", got.Units)
	}
}

// TestLoadContentHalfHourZone shows a +05:30 day is cut at 18:30Z exactly
// (5-minute series), not at the hour.
func TestLoadContentHalfHourZone(t *testing.T) {
	t.Parallel()
	kolkata := mustZone(t, "Asia/Kolkata")
	db := querytest.New(t)
	org := db.Org("Mumbai Kitchens")
	site := db.Site(org, "Bandra", "Asia/Kolkata")
	unit := db.Unit(org, site, "Cold Room", "walk_in", 0, 5)
	sensor, _ := db.Sensor(org, unit, "cr-1")
	db.MustWrite(
		querytest.R(sensor, utc("2026-11-24T18:25:00Z"), 11), // 23:55 IST on the 24th
		querytest.R(sensor, utc("2026-11-24T18:35:00Z"), 4),  // 00:05 IST on the 25th
		querytest.R(sensor, utc("2026-11-25T18:25:00Z"), 1),  // 23:55 IST
		querytest.R(sensor, utc("2026-11-25T18:35:00Z"), -7), // the 26th
	)
	kNow := utc("2026-11-26T02:00:00Z")
	db.Refresh(kNow)
	p := Schedule{Frequency: Daily, LocalHour: 7, Location: kolkata}.Current(kNow)
	got, err := Load(context.Background(), db.Pool, LoadParams{OrgID: org, Frequency: Daily, Period: p, Location: kolkata,
		Now: func() time.Time { return kNow }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Units) != 1 || got.Units[0].MinC == nil || *got.Units[0].MinC != 1 || *got.Units[0].MaxC != 4 || got.Units[0].Count != 2 {
		t.Errorf("units = %+v, want 1 to 4 over 2 readings", got.Units)
	}
	subject, _, _ := Render(got)
	if subject != "FreshTrack daily digest — Mumbai Kitchens — 2026-11-25" {
		t.Errorf("subject = %q", subject)
	}
}

// sentDigest is a digests_sent row with its notification and River job.
type sentDigest struct {
	user, frequency, recipient, dedupe string
	start, end                         time.Time
	args                               notify.SendArgs
}

func sentDigests(t *testing.T, k *kitchen) []sentDigest {
	t.Helper()
	rows, err := k.db.Pool.Query(context.Background(), `
		SELECT d.user_id::text, d.frequency, d.period_start, d.period_end, n.recipient, n.dedupe_key, j.args
		  FROM digests_sent d
		  JOIN notifications n ON n.id = d.notification_id
		  JOIN river_job j ON j.kind = 'notify_send' AND j.args->>'notification_id' = n.id::text
		 ORDER BY d.sent_at, d.user_id, d.frequency`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []sentDigest
	for rows.Next() {
		var s sentDigest
		var args []byte
		if err := rows.Scan(&s.user, &s.frequency, &s.start, &s.end, &s.recipient, &s.dedupe, &args); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(args, &s.args); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	counts := one[[]int64](t, k.db.Pool, `SELECT ARRAY[(SELECT count(*) FROM digests_sent), (SELECT count(*) FROM notifications),
		(SELECT count(*) FROM river_job WHERE kind = 'notify_send')]`)
	if n := int64(len(out)); counts[0] != n || counts[1] != n || counts[2] != n {
		t.Fatalf("%d digests with notification and job, but digests_sent, notifications, notify_send jobs = %v", n, counts)
	}
	return out
}

func runDue(t *testing.T, s *Sender, want int) {
	t.Helper()
	n, err := s.RunDue(context.Background())
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	if n != want {
		t.Fatalf("RunDue sent %d, want %d", n, want)
	}
}

func TestRunDueAfterLocalHourOncePerPeriod(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	// Subscribed on the 25th at noon: the first digest is the one due on
	// the 26th at 07:00 Berlin, for the 25th.
	subscribe(t, k.db.Pool, k.org, k.ana, Daily, 7, 1, "Europe/Berlin", "ana@example.com", at(2026, 11, 25, 12, 0))
	clk := &clock{t: at(2026, 11, 26, 6, 59)}
	s := newSender(t, k.db.Pool, clk.Now)

	runDue(t, s, 0)
	clk.Set(at(2026, 11, 26, 7, 0))
	runDue(t, s, 1)
	runDue(t, s, 0)
	clk.Set(at(2026, 11, 26, 23, 59))
	runDue(t, s, 0)
	// A restart: a new Sender and River client on the same database.
	runDue(t, newSender(t, k.db.Pool, clk.Now), 0)
	clk.Set(at(2026, 11, 27, 6, 59))
	runDue(t, s, 0)
	clk.Set(at(2026, 11, 27, 7, 4))
	runDue(t, newSender(t, k.db.Pool, clk.Now), 1)
	runDue(t, s, 0)

	got := sentDigests(t, k)
	if len(got) != 2 {
		t.Fatalf("%d digests sent, want 2", len(got))
	}
	if !got[0].start.Equal(dayStart) || !got[0].end.Equal(dayEnd) || !got[1].start.Equal(dayEnd) || !got[1].end.Equal(at(2026, 11, 27, 0, 0)) {
		t.Errorf("periods [%s, %s) and [%s, %s)", got[0].start, got[0].end, got[1].start, got[1].end)
	}
	if got[0].recipient != "ana@example.com" || got[0].dedupe != "digest:"+k.org+":"+k.ana+":daily:2026-11-24T23:00:00Z" {
		t.Errorf("notification to %q with dedupe key %q", got[0].recipient, got[0].dedupe)
	}
	a := got[0].args
	if a.Subject != "FreshTrack daily digest — Bistro Group — 2026-11-25" {
		t.Errorf("subject = %q", a.Subject)
	}
	for _, want := range []string{
		"2026-11-25 14:05  CRITICAL temperature high: Walk-in Cooler 1 (Main St Kitchen), now resolved",
		"2026-11-25 22:00  WARNING sensor offline: Freezer 2 (Main St Kitchen), now triggered",
		"2026-11-25 16:10  temperature high: Walk-in Cooler 1 (Main St Kitchen), opened 2026-11-25 14:05",
		"Walk-in Cooler 1 (Main St Kitchen): temperature high, peak 9.4°C (limit 5.0°C), from 2026-11-25 13:55 to 2026-11-25 16:10",
		"Freezer 2 (Main St Kitchen): last reading -19.5°C at 2026-11-26 04:00 (3 h ago)",
		"Spare Fridge (Main St Kitchen): no reading yet",
		"Walk-in Cooler 1 (Main St Kitchen): 2.1°C – 9.4°C (safe 0.0°C – 5.0°C, 4 readings), OUT OF RANGE",
		"Freezer 2 (Main St Kitchen): -19.5°C – -18.0°C (safe -25.0°C – -15.0°C, 2 readings)",
		"https://freshtrack.example/o/" + k.org + "/alerts/" + k.warmAlert,
		"https://freshtrack.example/v1/orgs/" + k.org + "/digest",
	} {
		if !strings.Contains(a.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, a.Text)
		}
	}
	for _, bad := range []string{"Other Fridge", "Other Org", "7.7°C", "30.0°C"} {
		if strings.Contains(a.Text, bad) || strings.Contains(a.HTML, bad) {
			t.Errorf("digest mentions %q, which is not in its organisation or period:\n%s", bad, a.Text)
		}
	}
	for _, want := range []string{"Walk-in Cooler 1 (Main St Kitchen)", "Freezer 2 (Main St Kitchen): last reading", `href="https://freshtrack.example/o/` + k.org + `/alerts/` + k.warmAlert + `"`} {
		if !strings.Contains(a.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, a.HTML)
		}
	}
	if !strings.Contains(got[1].args.Text, "0 alerts opened") {
		t.Errorf("second digest (a quiet day, the offline alert still open):\n%s", got[1].args.Text)
	}
}

func TestRunDueConcurrentInstances(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	long := at(2026, 10, 1, 0, 0)
	// 2026-11-26 is a Thursday (4): the weekly digest is due too.
	subscribe(t, k.db.Pool, k.org, k.ana, Daily, 7, 1, "Europe/Berlin", "ana@example.com", long)
	subscribe(t, k.db.Pool, k.org, k.ana, Weekly, 6, 4, "Europe/Berlin", "ana@example.com", long)
	subscribe(t, k.db.Pool, k.org, k.carl, Daily, 0, 1, "Asia/Kolkata", "carl@example.com", long)
	subscribe(t, k.db.Pool, k.other, k.ana, Daily, 7, 1, "Europe/Berlin", "ana+other@example.com", long)
	clk := &clock{t: now}

	const instances = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		start = make(chan struct{})
	)
	for range instances {
		s := newSender(t, k.db.Pool, clk.Now)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 3 {
				n, err := s.RunDue(context.Background())
				if err != nil {
					t.Errorf("RunDue: %v", err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if total != 4 {
		t.Errorf("%d instances sent %d digests together, want 4", instances, total)
	}
	got := sentDigests(t, k)
	if len(got) != 4 {
		t.Fatalf("%d digests recorded, want 4", len(got))
	}
	seen := map[string]bool{}
	for _, d := range got {
		key := d.recipient + " " + d.frequency
		if seen[key] {
			t.Errorf("%s sent twice", key)
		}
		seen[key] = true
		if d.frequency == Weekly && (!d.start.Equal(at(2026, 11, 19, 0, 0)) || !d.end.Equal(at(2026, 11, 26, 0, 0)) ||
			!strings.Contains(d.args.Subject, "weekly digest — Bistro Group — 2026-11-19 – 2026-11-25")) {
			t.Errorf("weekly digest [%s, %s) %q", d.start, d.end, d.args.Subject)
		}
		if d.recipient == "carl@example.com" && !d.start.Equal(utc("2026-11-24T18:30:00Z")) {
			t.Errorf("Carl's Kolkata day starts at %s", d.start.UTC())
		}
	}

	// A restart of every instance sends nothing more.
	runDue(t, newSender(t, k.db.Pool, clk.Now), 0)
}

func TestRunDueSkipsDisabledAndNonMembers(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	long := at(2026, 10, 1, 0, 0)
	subscribe(t, k.db.Pool, k.org, k.ana, Daily, 7, 1, "Europe/Berlin", "ana@example.com", long)
	subscribe(t, k.db.Pool, k.org, k.carl, Daily, 7, 1, "Europe/Berlin", "carl@example.com", long)
	subscribe(t, k.db.Pool, k.other, k.ana, Daily, 7, 1, "Europe/Berlin", "ana@example.com", long)
	exec(t, k.db.Pool, `UPDATE digest_subscriptions SET enabled = false WHERE org_id = $1 AND user_id = $2`, k.org, k.ana)
	exec(t, k.db.Pool, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, k.org, k.carl)
	exec(t, k.db.Pool, `UPDATE organizations SET deleted_at = now() WHERE id = $1`, k.other)
	clk := &clock{t: now}
	s := newSender(t, k.db.Pool, clk.Now)
	runDue(t, s, 0)
	if got := sentDigests(t, k); len(got) != 0 {
		t.Fatalf("%d digests sent", len(got))
	}

	// Carl rejoins: his digest goes out; it is not recorded while he was away.
	join(t, k.db.Pool, k.org, k.carl, "staff")
	runDue(t, s, 1)
	// Ana resumes hers.
	exec(t, k.db.Pool, `UPDATE digest_subscriptions SET enabled = true WHERE org_id = $1 AND user_id = $2`, k.org, k.ana)
	runDue(t, s, 1)
	runDue(t, s, 0)
}

func TestRunDueNeverOverlapsPeriods(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	subscribe(t, k.db.Pool, k.org, k.ana, Daily, 7, 1, "Europe/Berlin", "ana@example.com", at(2026, 10, 1, 0, 0))
	clk := &clock{t: now}
	s := newSender(t, k.db.Pool, clk.Now)
	runDue(t, s, 1)
	// Moving to New York: its 25 November (05:00Z to 05:00Z) overlaps the
	// Berlin day already sent, so it is skipped; its 26th is not.
	exec(t, k.db.Pool, `UPDATE digest_subscriptions SET timezone = 'America/New_York'`)
	clk.Set(utc("2026-11-26T13:00:00Z"))
	runDue(t, s, 0)
	clk.Set(utc("2026-11-27T13:00:00Z"))
	runDue(t, s, 1)
	// Deleting and subscribing again does not resend a period.
	exec(t, k.db.Pool, `DELETE FROM digest_subscriptions`)
	subscribe(t, k.db.Pool, k.org, k.ana, Daily, 7, 1, "America/New_York", "ana@example.com", at(2026, 10, 1, 0, 0))
	runDue(t, s, 0)
}

func TestRunDueCatchesUpWithinThePeriod(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	subscribe(t, k.db.Pool, k.org, k.ana, Weekly, 7, 1, "Europe/Berlin", "ana@example.com", at(2026, 10, 1, 0, 0))
	// Nothing ran on Monday 23 November; on Thursday that week's digest
	// still goes out, once.
	clk := &clock{t: now}
	s := newSender(t, k.db.Pool, clk.Now)
	runDue(t, s, 1)
	runDue(t, s, 0)
	got := sentDigests(t, k)
	if len(got) != 1 || !got[0].start.Equal(at(2026, 11, 16, 0, 0)) || !got[0].end.Equal(at(2026, 11, 23, 0, 0)) {
		t.Fatalf("sent %+v", got)
	}
}

func TestNewRequiresPoolAndJobs(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New without a pool succeeded")
	}
}
