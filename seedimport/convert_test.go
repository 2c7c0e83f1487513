package seedimport

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestToCelsius(t *testing.T) {
	t.Parallel()
	f := func(v float64, unit string, want float64) {
		t.Helper()
		if got := toCelsius(v, unit); math.Abs(got-want) > 1e-9 {
			t.Errorf("toCelsius(%v, %s) = %v, want %v", v, unit, got, want)
		}
	}
	f(41, Fahrenheit, 5)
	f(32, Fahrenheit, 0)
	f(-40, Fahrenheit, -40)
	f(4.2, Celsius, 4.2)
	f(-18, Celsius, -18)
}

func TestUnitKind(t *testing.T) {
	t.Parallel()
	f := func(seed, want string, ok bool) {
		t.Helper()
		if got, gotOK := unitKind(seed); got != want || gotOK != ok {
			t.Errorf("unitKind(%q) = %q, %v; want %q, %v", seed, got, gotOK, want, ok)
		}
	}
	f("fridge", "fridge", true)
	f("freezer", "freezer", true)
	f("display_case", "display", true)
	f("walk_in_cooler", "walk_in", true)
	f("walk_in_freezer", "freezer", true) // walk_in's default range is a fridge's
	f("blast_chiller", "blast_chiller", true)
	f("hot_holding", "", false)
}

func TestPlausibleRange(t *testing.T) {
	t.Parallel()
	f := func(kind string, lo, hi float64, problem string) {
		t.Helper()
		got := plausibleRange(kind, lo, hi)
		if (problem == "") != (got == "") || !strings.Contains(got, problem) {
			t.Errorf("plausibleRange(%s, %v, %v) = %q, want %q", kind, lo, hi, got, problem)
		}
	}
	f("fridge", 0.56, 5, "")
	f("fridge", 33, 41, "outside −5…15 °C")
	f("fridge", 5, 5, "is not below")
	f("freezer", -25, -15, "")
	f("freezer", -4, 5, "not a freezer's range")
	f("blast_chiller", -40, 3.3, "")
	f("other", 100, 200, "")
}

func TestNormalizeEUI(t *testing.T) {
	t.Parallel()
	f := func(in, want string) {
		t.Helper()
		if got := normalizeEUI(in); got != want {
			t.Errorf("normalizeEUI(%q) = %q, want %q", in, got, want)
		}
	}
	f("70:b3:d5:7e:d0:05:a1:b2", "70B3D57ED005A1B2")
	f("a8-40-41-00-00-00-00-01", "A840410000000001")
	f(" A840 4100 0000 0001 ", "A840410000000001")
	f("", "")
}

func TestE164(t *testing.T) {
	t.Parallel()
	f := func(in, want string, ok bool) {
		t.Helper()
		if got, gotOK := e164(in); got != want || gotOK != ok {
			t.Errorf("e164(%q) = %q, %v; want %q, %v", in, got, gotOK, want, ok)
		}
	}
	f("+14155550100", "+14155550100", true)
	f("+1 (415) 555-0101", "+14155550101", true)
	f("+49 151.0000.0000", "+4915100000000", true)
	f("555-1234", "", false)
	f("0041791234567", "", false)
	f("call ops", "", false)
	f("+0123", "", false)
}

func TestDeriveIDIsAStableUUID(t *testing.T) {
	t.Parallel()
	a, b := deriveID("rule", "u1", "temp_high"), deriveID("rule", "u1", "temp_low")
	if a == b || a != deriveID("rule", "u1", "temp_high") {
		t.Fatalf("deriveID not stable and distinct: %s %s", a, b)
	}
	if len(a) != 36 || a[14] != '8' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Fatalf("deriveID %s is not a version 8 UUID", a)
	}
	if deriveID("ab", "c") == deriveID("a", "bc") {
		t.Fatal("deriveID parts run into each other")
	}
}

func TestDigestHourAndZones(t *testing.T) {
	t.Parallel()
	if h, ok := digestHour("07:30"); !ok || h != 7 {
		t.Errorf("digestHour(07:30) = %d, %v", h, ok)
	}
	if _, ok := digestHour("7pm"); ok {
		t.Error("digestHour(7pm) accepted")
	}
	for zone, ok := range map[string]bool{"America/New_York": true, "UTC": true, "Eastern Time": false, "": false, "Local": false, "Mars/Olympus": false} {
		if validZone(zone) != ok {
			t.Errorf("validZone(%q) = %v", zone, !ok)
		}
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	f := func(done, total int64, elapsed time.Duration, bar bool, want string) {
		t.Helper()
		if got := progressLine(done, total, elapsed, bar); got != want {
			t.Errorf("progressLine(%d, %d, %s, %v)\n got %q\nwant %q", done, total, elapsed, bar, got, want)
		}
	}
	f(250_000, 1_000_000, 2*time.Second, false, "readings 250000/1000000 (25.0%) 125000 rows/s, ETA 6s")
	f(0, 1_000_000, 0, false, "readings 0/1000000 (0.0%) 0 rows/s, ETA ?")
	f(1_000_000, 1_000_000, 4*time.Second, true, "[==============================] readings 1000000/1000000 (100.0%) 250000 rows/s, ETA 0s")
	f(500, 1000, time.Second, true, "[===============               ] readings 500/1000 (50.0%) 500 rows/s, ETA 1s")
}

func TestReadingsFilter(t *testing.T) {
	t.Parallel()
	to := time.Date(2026, 12, 1, 10, 0, 0, 123000000, time.UTC)
	from, recv := to.Add(-time.Hour), to.Add(-2*time.Hour)
	f := func(fl readingsFilter, want string) {
		t.Helper()
		if got := fl.sql(); got != want {
			t.Errorf("filter\n got %s\nwant %s", got, want)
		}
	}
	f(readingsFilter{to: &to}, "recorded_at <= '2026-12-01 10:00:00.123+00'::timestamptz")
	f(readingsFilter{to: &to, from: &from, recv: &recv, hasReceived: true},
		"recorded_at <= '2026-12-01 10:00:00.123+00'::timestamptz AND (recorded_at > '2026-12-01 09:00:00.123+00'::timestamptz OR received_at >= '2026-12-01 08:00:00.123+00'::timestamptz)")
	f(readingsFilter{to: &to, from: &from, recv: &recv}, "recorded_at <= '2026-12-01 10:00:00.123+00'::timestamptz AND recorded_at > '2026-12-01 09:00:00.123+00'::timestamptz")
}

func TestChunks(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	groups := []readingGroup{
		{UnitID: "a", Day: day, N: 100, Min: day.Add(90 * time.Minute), Max: day.Add(23 * time.Hour)},
		{UnitID: "b", Day: day, N: 20, Min: day.Add(5 * time.Hour), Max: day.Add(7 * time.Hour)},
		{UnitID: "a", Day: day.Add(48 * time.Hour), N: 6, Min: day.Add(48 * time.Hour), Max: day.Add(50 * time.Hour)},
	}
	got := chunks(groups, 6*time.Hour, map[int64]bool{day.Add(6 * time.Hour).UnixMicro(): true})
	var s []string
	for _, c := range got {
		s = append(s, c.from.Format("02T15")+"-"+c.to.Format("02T15"))
	}
	if want := "30T00-30T06 30T12-30T18 30T18-01T00 02T00-02T06"; strings.Join(s, " ") != want {
		t.Fatalf("chunks = %s, want %s", strings.Join(s, " "), want)
	}
}
