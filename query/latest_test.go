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
	db.Rule(f.org, f.strict, "temp_low", -3)      // looser than the safe 0: a rule's own threshold is the limit
	db.KindRule(f.org, "freezer", "temp_high", -17)
	db.Rule(f.org, f.freezer, "temp_high", -10) // unit rule replaces the kind rule, looser or not

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
	if m.Reading.Sensor != f.s2Public || m.AgeSeconds != 60 || m.Reading.Humidity != nil || *m.Reading.Battery != 87.5 || m.LiveProbes != 2 ||
		len(m.FaultySensors) != 0 {
		t.Fatalf("walk-in: the out-of-range probe's reading expected: %+v %+v", m, m.Reading)
	}
	fr := check(f.freezer, query.StatusOffline, -18, false, true) // no live probe: not in range
	if fr.OfflineAfterSeconds != 900 || fr.HighC != -10 || fr.HighSource != query.SourceRule || !fr.HighAlerts || fr.LowAlerts || fr.LiveProbes != 0 {
		t.Fatalf("freezer limits %+v", fr)
	}
	r := check(f.ruled, query.StatusOK, 4, true, false)
	if r.OfflineAfterSeconds != 3600 || r.OfflineSource != query.SourceRule {
		t.Fatalf("offline rule not applied: %+v", r)
	}
	check(f.empty, query.StatusNoData, 0, false, true)
	s := check(f.strict, query.StatusOutOfRange, 4.5, false, false)
	if s.HighC != 4 || s.HighSource != query.SourceRule || s.LowC != -3 || s.LowSource != query.SourceRule || !s.HighAlerts || !s.LowAlerts {
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
	if u := f.latest(t, query.LatestParams{OfflineAfter: time.Hour})[f.freezer]; u.Offline || u.Status != query.StatusOK || !u.InRange {
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
	// The newer in-memory 2.5 °C of one probe does not mask the other
	// probe's 6 °C a minute ago: still out of range, showing that probe.
	if m.Reading.Sensor != f.s2Public || m.Reading.TempC != 6 || m.Status != query.StatusOutOfRange || m.LiveProbes != 2 {
		t.Fatalf("walk-in should be out of range on its warm probe: %+v %+v", m, m.Reading)
	}
	mem[f.s2] = ingest.LatestValue{TimeMicros: f.now.Add(-5 * time.Second).UnixMicro(), TempC: 4, Humidity: math.NaN(), Battery: math.NaN()}
	m = f.latest(t, query.LatestParams{Source: mem})[f.multi]
	if m.Reading.Sensor != f.s2Public || m.Reading.TempC != 4 || m.Status != query.StatusOK || !m.InRange {
		t.Fatalf("walk-in back in range should show the newest reading: %+v %+v", m, m.Reading)
	}
	delete(mem, f.s2)
	f.db.Exec(`UPDATE sensor_latest SET temp_c = 4 WHERE sensor_id = $1`, f.s2)
	m = f.latest(t, query.LatestParams{Source: mem})[f.multi]
	if m.Reading.Sensor != f.s1Public || m.Reading.TempC != 2.5 || *m.Reading.Humidity != 55 || m.Reading.Battery != nil || m.Status != query.StatusOK {
		t.Fatalf("walk-in should show the newest, in-memory reading: %+v %+v", m, m.Reading)
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

// probeUnit is a unit of its own site with two probes, for the judgment of
// a unit by its probes.
type probeUnit struct {
	f            *latestFixture
	site, unit   string
	a, b         int64
	aPub, bPub   string
	latest       func(t *testing.T, mem query.LatestSource) query.UnitLatest
	reading      func(sensor int64, age time.Duration, temp float64)
	fault        func(sensor int64, age time.Duration)
	clearRecords func()
}

func newProbeUnit(t *testing.T, f *latestFixture, name string) *probeUnit {
	u := &probeUnit{f: f}
	u.site = f.db.Site(f.org, "Z "+name, "UTC")
	u.unit = f.db.Unit(f.org, u.site, name, "walk_in", 0, 5)
	u.a, u.aPub = f.db.Sensor(f.org, u.unit, name+"-a")
	u.b, u.bPub = f.db.Sensor(f.org, u.unit, name+"-b")
	u.latest = func(t *testing.T, mem query.LatestSource) query.UnitLatest {
		t.Helper()
		got := f.latest(t, query.LatestParams{SiteID: u.site, Source: mem})
		return got[u.unit]
	}
	u.reading = func(sensor int64, age time.Duration, temp float64) {
		f.db.Exec(`INSERT INTO sensor_latest (sensor_id, time, temp_c) VALUES ($1, $2, $3)
			ON CONFLICT (sensor_id) DO UPDATE SET time = excluded.time, temp_c = excluded.temp_c`, sensor, f.now.Add(-age), temp)
	}
	u.fault = func(sensor int64, age time.Duration) {
		f.db.Exec(`INSERT INTO sensor_faults (sensor_id, time, code) VALUES ($1, $2, 327.67)`, sensor, f.now.Add(-age))
	}
	u.clearRecords = func() {
		f.db.Exec(`DELETE FROM sensor_latest WHERE sensor_id IN ($1, $2)`, u.a, u.b)
		f.db.Exec(`DELETE FROM sensor_faults WHERE sensor_id IN ($1, $2)`, u.a, u.b)
	}
	return u
}

// TestLatestProbes: a unit with several probes is judged conservatively
// from its live probes (safety.Unit): out of range while any live probe is,
// a probe silent past the offline threshold or whose newest record is an
// error code counts for nothing, and a faulty probe is a sensor_fault.
func TestLatestProbes(t *testing.T) {
	t.Parallel()
	f := newLatestFixture(t)
	u := newProbeUnit(t, f, "walk-in")
	type want struct {
		status       string
		reading      int64 // the sensor shown; 0 for none
		temp         float64
		live         int
		inRange, off bool
		faulty       []string
		age          float64
	}
	check := func(name string, mem query.LatestSource, w want) {
		t.Helper()
		got := u.latest(t, mem)
		pub := map[int64]string{u.a: u.aPub, u.b: u.bPub}
		ok := got.Status == w.status && got.LiveProbes == w.live && got.InRange == w.inRange && got.Offline == w.off &&
			len(got.FaultySensors) == len(w.faulty)
		for i := range w.faulty {
			ok = ok && i < len(got.FaultySensors) && got.FaultySensors[i] == w.faulty[i]
		}
		if w.reading == 0 {
			ok = ok && got.Reading == nil
		} else {
			ok = ok && got.Reading != nil && got.Reading.Sensor == pub[w.reading] && got.Reading.TempC == w.temp && got.AgeSeconds == w.age
		}
		if !ok {
			t.Errorf("%s: %+v reading %+v; want %+v", name, got, got.Reading, w)
		}
	}

	check("no record", nil, want{status: query.StatusNoData, off: true})

	u.reading(u.a, time.Minute, 8)
	u.reading(u.b, 30*time.Second, 3)
	check("one probe above, a newer one in range", nil, want{status: query.StatusOutOfRange, reading: u.a, temp: 8, live: 2, age: 60})
	u.reading(u.a, time.Minute, 3)
	u.reading(u.b, 30*time.Second, -1)
	check("one probe below", nil, want{status: query.StatusOutOfRange, reading: u.b, temp: -1, live: 2, age: 30})
	u.reading(u.a, time.Minute, 5.5)
	check("both out: the furthest out shown", nil, want{status: query.StatusOutOfRange, reading: u.b, temp: -1, live: 2, age: 30})
	u.reading(u.a, 2*time.Minute, 9)
	u.reading(u.b, time.Minute, 4)
	mem := memSource{u.a: {TimeMicros: f.now.Add(-10 * time.Second).UnixMicro(), TempC: 4.5, Humidity: math.NaN(), Battery: math.NaN()}}
	check("the in-memory value replaces an older persisted one", mem, want{status: query.StatusOK, reading: u.a, temp: 4.5, live: 2, inRange: true, age: 10})
	check("without it, the persisted 9 °C is out of range", memSource{}, want{status: query.StatusOutOfRange, reading: u.a, temp: 9, live: 2, age: 120})

	// A probe silent past the threshold (15 minutes) is dead.
	u.reading(u.a, 16*time.Minute, 9)
	u.reading(u.b, time.Minute, 4)
	check("a silent probe out of range does not count", nil, want{status: query.StatusOK, reading: u.b, temp: 4, live: 1, inRange: true, age: 60})
	u.reading(u.a, 15*time.Minute, 9)
	check("exactly the threshold is still live", nil, want{status: query.StatusOutOfRange, reading: u.a, temp: 9, live: 2, age: 900})
	u.reading(u.a, 20*time.Minute, 9)
	u.reading(u.b, 16*time.Minute, 4)
	check("every probe silent", nil, want{status: query.StatusOffline, reading: u.b, temp: 4, off: true, age: 960})

	// Error codes (sensor_faults newer than the probe's newest reading).
	u.reading(u.a, 2*time.Minute, 9)
	u.reading(u.b, time.Minute, 4)
	u.fault(u.a, time.Minute)
	check("a faulty probe's last value does not count", nil,
		want{status: query.StatusSensorFault, reading: u.b, temp: 4, live: 1, inRange: true, faulty: []string{u.aPub}, age: 60})
	u.reading(u.b, time.Minute, 6)
	check("out of range takes precedence over a fault", nil,
		want{status: query.StatusOutOfRange, reading: u.b, temp: 6, live: 1, faulty: []string{u.aPub}, age: 60})
	u.reading(u.b, time.Minute, 4)
	mem = memSource{u.a: {TimeMicros: f.now.Add(-30 * time.Second).UnixMicro(), TempC: 2, Humidity: math.NaN(), Battery: math.NaN()}}
	check("a reading in memory after the fault: measuring again", mem, want{status: query.StatusOK, reading: u.a, temp: 2, live: 2, inRange: true, age: 30})
	u.fault(u.b, 10*time.Second)
	check("every probe faulty: heard from, so not offline, but nothing in range", nil,
		want{status: query.StatusSensorFault, reading: u.b, temp: 4, faulty: []string{u.aPub, u.bPub}, age: 60})

	u.clearRecords()
	u.fault(u.a, time.Minute)
	check("only an error code ever", nil, want{status: query.StatusSensorFault, faulty: []string{u.aPub}})
	u.clearRecords()
	u.fault(u.a, time.Hour)
	check("only an old error code", nil, want{status: query.StatusOffline, off: true, faulty: []string{u.aPub}})
	u.clearRecords()
	u.reading(u.a, time.Minute, 327.67) // stored as a reading by an earlier version
	u.reading(u.b, time.Minute, 3)
	check("an error code among the readings", nil, want{status: query.StatusSensorFault, reading: u.b, temp: 3, live: 1, inRange: true, faulty: []string{u.aPub}, age: 60})
	u.clearRecords()
	u.fault(u.a, 2*time.Minute)
	u.reading(u.a, time.Minute, 3)
	check("a fault older than the newest reading", nil, want{status: query.StatusOK, reading: u.a, temp: 3, live: 1, inRange: true, age: 60})
}

// TestLatestRules: limits are safety.LimitsFor over the organisation's
// alert_rules rows, selected as alerting selects them.
func TestLatestRules(t *testing.T) {
	t.Parallel()
	f := newLatestFixture(t)
	db := f.db
	site := db.Site(f.org, "R rules", "UTC")
	unit := func(name, kind string, min, max float64, temp float64) string {
		id := db.Unit(f.org, site, name, kind, min, max)
		s, _ := db.Sensor(f.org, id, name)
		persistLatest(t, db, s, f.now.Add(-time.Minute), temp, nil)
		return id
	}
	rule := func(unitID, unitKind, kind string, threshold *float64, enabled bool) {
		var u, k *string
		if unitID != "" {
			u = &unitID
		}
		if unitKind != "" {
			k = &unitKind
		}
		db.Exec(`INSERT INTO alert_rules (org_id, unit_id, unit_kind, kind, threshold, enabled) VALUES ($1, $2, $3, $4, $5, $6)`,
			f.org, u, k, kind, threshold, enabled)
	}
	v := func(x float64) *float64 { return &x }

	// Organisation rules for hot holding that follow the safe range.
	hot := unit("hot", "hot_holding", 63, 90, 60)
	rule("", "hot_holding", "temp_low", nil, true)
	rule("", "hot_holding", "temp_high", nil, true)
	// A fridge whose own disabled temp_high row switches the kind's rule off
	// for it, and whose sensor_offline row is disabled too.
	off := unit("off", "fridge", 0, 5, 4.5)
	rule("", "fridge", "temp_high", v(4), true)
	rule("", "fridge", "sensor_offline", v(60), true)
	rule(off, "", "temp_high", v(3), false)
	rule(off, "", "sensor_offline", v(5), false)
	// Another fridge: the kind's rules.
	kindF := unit("kind", "fridge", 0, 5, 4.5)
	// A display with several rules of a kind: the strictest.
	many := unit("many", "display", 0, 8, 6.5)
	rule(many, "", "temp_high", v(7), true)
	rule(many, "", "temp_high", nil, true)
	rule(many, "", "temp_high", v(6), true)
	rule(many, "", "temp_low", v(-2), true)
	rule(many, "", "sensor_offline", v(20), true)
	rule(many, "", "sensor_offline", v(10), true)
	rule(many, "", "sensor_offline", v(30), false)

	all := f.latest(t, query.LatestParams{SiteID: site})
	type limits struct {
		low, high             float64
		lowSrc, highSrc       string
		lowAlerts, highAlerts bool
		offline               float64
		offlineSrc, status    string
	}
	for id, w := range map[string]limits{
		hot:   {63, 90, query.SourceUnit, query.SourceUnit, true, true, 900, query.SourceUnit, query.StatusOutOfRange},
		off:   {0, 5, query.SourceUnit, query.SourceUnit, false, false, 900, query.SourceUnit, query.StatusOK},
		kindF: {0, 4, query.SourceUnit, query.SourceRule, false, true, 3600, query.SourceRule, query.StatusOutOfRange},
		many:  {-2, 6, query.SourceRule, query.SourceRule, true, true, 600, query.SourceRule, query.StatusOutOfRange},
	} {
		u := all[id]
		got := limits{u.LowC, u.HighC, u.LowSource, u.HighSource, u.LowAlerts, u.HighAlerts, u.OfflineAfterSeconds, u.OfflineSource, u.Status}
		if got != w {
			t.Errorf("%s: %+v, want %+v", u.UnitName, got, w)
		}
	}
}
