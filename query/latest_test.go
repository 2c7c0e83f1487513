package query_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/query/querytest"
)

// ingest's cache is a LatestSource.
var _ query.LatestSource = (*ingest.Latest)(nil)

func persistLatest(t *testing.T, db *querytest.DB, sensor int64, at time.Time, temp float64, hum *float64) {
	t.Helper()
	db.Exec(`INSERT INTO sensor_latest (sensor_id, time, temp_c, humidity, battery) VALUES ($1, $2, $3, $4, 87.5)`, sensor, at, temp, hum)
}

type latestFixture struct {
	db                       *querytest.DB
	org, siteA, siteB        string
	multi, freezer, ruled    string
	empty, strict, kindRuled string
	s1, s2, s3, s4, s5, s6   int64
	s1Public, s2Public       string
	now                      time.Time
	otherOrg, otherSite      string
	otherSensor              int64
}

func newLatestFixture(t *testing.T) *latestFixture {
	db := querytest.New(t)
	f := &latestFixture{db: db, now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	f.org = db.Org("latest")
	f.siteA = db.Site(f.org, "A kitchen", "Europe/Berlin")
	f.siteB = db.Site(f.org, "B bar", "Europe/Berlin")
	f.multi = db.Unit(f.org, f.siteA, "1 walk-in", "walk_in", 0, 5)
	f.freezer = db.Unit(f.org, f.siteA, "2 freezer", "freezer", -30, -15)
	f.ruled = db.Unit(f.org, f.siteA, "3 display", "display", 0, 8)
	f.empty = db.Unit(f.org, f.siteA, "4 spare", "fridge", 0, 5)
	f.strict = db.Unit(f.org, f.siteB, "5 bar fridge", "fridge", 0, 5)
	f.kindRuled = db.Unit(f.org, f.siteB, "6 chest freezer", "freezer", -30, -15)
	f.s1, f.s1Public = db.Sensor(f.org, f.multi, "walkin-door")
	f.s2, f.s2Public = db.Sensor(f.org, f.multi, "walkin-back")
	f.s3, _ = db.Sensor(f.org, f.freezer, "freezer-1")
	f.s4, _ = db.Sensor(f.org, f.ruled, "display-1")
	f.s5, _ = db.Sensor(f.org, f.strict, "bar-1")
	f.s6, _ = db.Sensor(f.org, f.kindRuled, "chest-1")
	retired, _ := db.Sensor(f.org, f.multi, "walkin-old")
	db.Exec(`UPDATE sensors SET retired_at = $2 WHERE id = $1`, retired, f.now.Add(-time.Hour))

	hum := 61.5
	persistLatest(t, db, f.s1, f.now.Add(-2*time.Minute), 3.0, &hum)
	persistLatest(t, db, f.s2, f.now.Add(-time.Minute), 6.0, nil) // newest: out of range
	persistLatest(t, db, retired, f.now, 1.0, nil)                // retired: ignored
	persistLatest(t, db, f.s3, f.now.Add(-30*time.Minute), -18, nil)
	persistLatest(t, db, f.s4, f.now.Add(-30*time.Minute), 4, nil)
	persistLatest(t, db, f.s5, f.now.Add(-time.Minute), 4.5, nil)
	persistLatest(t, db, f.s6, f.now.Add(-time.Minute), -16, nil)
	db.Rule(f.org, f.ruled, "sensor_offline", 60) // 30 minutes old is fine for it
	db.Rule(f.org, f.strict, "temp_high", 4)      // stricter than the safe 5
	db.Rule(f.org, f.strict, "temp_low", -3)      // looser than the safe 0: the range wins
	db.KindRule(f.org, "freezer", "temp_high", -17)
	db.Rule(f.org, f.freezer, "temp_high", -10) // unit rule replaces the kind rule; looser, so the range wins

	f.otherOrg = db.Org("other")
	f.otherSite = db.Site(f.otherOrg, "Other kitchen", "UTC")
	ou := db.Unit(f.otherOrg, f.otherSite, "0 other fridge", "fridge", 0, 5)
	f.otherSensor, _ = db.Sensor(f.otherOrg, ou, "walkin-door")
	persistLatest(t, db, f.otherSensor, f.now, 2, nil)
	return f
}

func (f *latestFixture) latest(t *testing.T, p query.LatestParams) map[string]query.UnitLatest {
	t.Helper()
	if p.OrgID == "" {
		p.OrgID = f.org
	}
	p.Now = func() time.Time { return f.now }
	got, err := query.Latest(context.Background(), f.db.Pool, p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]query.UnitLatest{}
	for _, u := range got {
		m[u.UnitID] = u
	}
	if len(m) != len(got) {
		t.Fatalf("a unit listed twice: %+v", got)
	}
	return m
}

type memSource map[int64]ingest.LatestValue

func (m memSource) Get(id int64) (ingest.LatestValue, bool) { v, ok := m[id]; return v, ok }

func TestLatestFromTable(t *testing.T) {
	t.Parallel()
	f := newLatestFixture(t)
	all := f.latest(t, query.LatestParams{})
	if len(all) != 6 {
		t.Fatalf("organisation has 6 units, got %d: %+v", len(all), all)
	}
	check := func(unit, status string, temp float64, inRange, offline bool) query.UnitLatest {
		t.Helper()
		u := all[unit]
		if u.Status != status || u.InRange != inRange || u.Offline != offline {
			t.Fatalf("%s: status %s in range %v offline %v, want %s %v %v (%+v)", u.UnitName, u.Status, u.InRange, u.Offline, status, inRange, offline, u)
		}
		if status != query.StatusNoData && u.Reading.TempC != temp {
			t.Fatalf("%s: reading %+v, want %v", u.UnitName, u.Reading, temp)
		}
		return u
	}
	m := check(f.multi, query.StatusOutOfRange, 6, false, false)
	if m.Reading.Sensor != f.s2Public || m.AgeSeconds != 60 || m.Reading.Humidity != nil || *m.Reading.Battery != 87.5 {
		t.Fatalf("walk-in: newest sensor's reading expected: %+v", m.Reading)
	}
	fr := check(f.freezer, query.StatusOffline, -18, true, true)
	if fr.OfflineAfterSeconds != 900 || fr.HighC != -15 || fr.HighSource != query.SourceUnit {
		t.Fatalf("freezer limits %+v", fr)
	}
	r := check(f.ruled, query.StatusOK, 4, true, false)
	if r.OfflineAfterSeconds != 3600 || r.OfflineSource != query.SourceRule {
		t.Fatalf("offline rule not applied: %+v", r)
	}
	check(f.empty, query.StatusNoData, 0, false, true)
	s := check(f.strict, query.StatusOutOfRange, 4.5, false, false)
	if s.HighC != 4 || s.HighSource != query.SourceRule || s.LowC != 0 || s.LowSource != query.SourceUnit {
		t.Fatalf("strict limits %+v", s)
	}
	k := check(f.kindRuled, query.StatusOutOfRange, -16, false, false)
	if k.HighC != -17 || k.HighSource != query.SourceRule {
		t.Fatalf("kind rule limits %+v", k)
	}

	// Ordered by site name, then unit name.
	got, err := query.Latest(context.Background(), f.db.Pool, query.LatestParams{OrgID: f.org, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range got {
		names = append(names, u.UnitName)
	}
	if want := []string{"1 walk-in", "2 freezer", "3 display", "4 spare", "5 bar fridge", "6 chest freezer"}; !equal(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}

	site := f.latest(t, query.LatestParams{SiteID: f.siteB})
	if len(site) != 2 || site[f.strict].SiteName != "B bar" {
		t.Fatalf("site B: %+v", site)
	}
	f.latest(t, query.LatestParams{OfflineAfter: time.Hour})
	if u := f.latest(t, query.LatestParams{OfflineAfter: time.Hour})[f.freezer]; u.Offline || u.Status != query.StatusOK {
		t.Fatalf("OfflineAfter 1h: freezer %+v", u)
	}
}

func TestLatestFromMemory(t *testing.T) {
	t.Parallel()
	f := newLatestFixture(t)
	mem := memSource{
		f.s1: {TimeMicros: f.now.Add(-10 * time.Second).UnixMicro(), TempC: 2.5, Humidity: 55, Battery: math.NaN()},
		f.s3: {TimeMicros: f.now.Add(-time.Hour).UnixMicro(), TempC: -25, Humidity: math.NaN(), Battery: math.NaN()}, // older than the table
		f.s5: {TimeMicros: f.now.Add(-20 * time.Minute).UnixMicro(), TempC: 9, Humidity: math.NaN(), Battery: math.NaN()},
	}
	all := f.latest(t, query.LatestParams{Source: mem})
	m := all[f.multi]
	if m.Reading.Sensor != f.s1Public || m.Reading.TempC != 2.5 || *m.Reading.Humidity != 55 || m.Reading.Battery != nil || m.Status != query.StatusOK {
		t.Fatalf("walk-in should show the in-memory reading: %+v %+v", m, m.Reading)
	}
	if fr := all[f.freezer]; fr.Reading.TempC != -18 {
		t.Fatalf("freezer: the newer persisted value should win: %+v", fr.Reading)
	}
	if s := all[f.strict]; s.Reading.TempC != 4.5 {
		t.Fatalf("bar fridge: the newer persisted value should win: %+v", s.Reading)
	}

	// The real cache, with nothing persisted for a sensor: memory only.
	cache := ingest.NewLatest()
	f.db.Exec(`DELETE FROM sensor_latest WHERE sensor_id = $1`, f.s4)
	cache.Update([]ingest.Row{{TimeMicros: f.now.Add(-3 * time.Minute).UnixMicro(), SensorID: f.s4, TempC: 9.5, Humidity: math.NaN(), Battery: 40}})
	u := f.latest(t, query.LatestParams{Source: cache})[f.ruled]
	if u.Reading == nil || u.Reading.TempC != 9.5 || *u.Reading.Battery != 40 || u.Status != query.StatusOutOfRange || u.AgeSeconds != 180 {
		t.Fatalf("display from ingest.Latest: %+v %+v", u, u.Reading)
	}
}

// TestLatestTenantIsolation: another organisation's site, a missing one and
// a malformed id are ErrNotFound; without a site only the caller's units.
func TestLatestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := newLatestFixture(t)
	ctx := context.Background()
	for _, site := range []string{f.otherSite, "00000000-0000-0000-0000-000000000000", "nope"} {
		got, err := query.Latest(ctx, f.db.Pool, query.LatestParams{OrgID: f.org, SiteID: site})
		if !errors.Is(err, query.ErrNotFound) || got != nil {
			t.Fatalf("site %q: %+v, %v; want ErrNotFound", site, got, err)
		}
	}
	mem := memSource{f.otherSensor: {TimeMicros: f.now.UnixMicro(), TempC: 99}}
	for _, u := range f.latest(t, query.LatestParams{Source: mem}) {
		if u.SiteID == f.otherSite || (u.Reading != nil && u.Reading.TempC == 99) {
			t.Fatalf("another organisation's unit or reading leaked: %+v", u)
		}
	}
	other := f.latest(t, query.LatestParams{OrgID: f.otherOrg})
	if len(other) != 1 {
		t.Fatalf("other org sees %d units", len(other))
	}
	// An empty site of the caller is an empty list, not an error.
	empty := f.db.Site(f.org, "C empty", "UTC")
	if got := f.latest(t, query.LatestParams{SiteID: empty}); len(got) != 0 {
		t.Fatalf("empty site: %+v", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
