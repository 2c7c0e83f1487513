package compat

import (
	"testing"
	"time"
)

func TestParseDatetime(t *testing.T) {
	t.Parallel()
	f := func(s string, want time.Time, ok bool) {
		t.Helper()
		got, gotOK := parseDatetime(s)
		if gotOK != ok || ok && !got.Equal(want) {
			t.Fatalf("parseDatetime(%q) = %v, %v; want %v, %v", s, got, gotOK, want, ok)
		}
	}
	day := time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC)
	f("2026-01-20T10:00:00Z", day, true)
	f("2026-01-20T10:00:00.5Z", day.Add(500*time.Millisecond), true)
	f("2026-01-20T10:00:00.123456Z", day.Add(123456*time.Microsecond), true)
	f("2026-01-20T10:00:00.1234567891234Z", day.Add(123456789), true)
	f("2024-02-29T23:59:59Z", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), true)
	f("2026-02-29T00:00:00Z", time.Time{}, false)
	f("2026-01-20T24:00:00Z", time.Time{}, false)
	f("2026-01-20T10:00:60Z", time.Time{}, false)
	f("2026-01-20T10:00:00+00:00", time.Time{}, false)
	f("2026-01-20T10:00:00z", time.Time{}, false)
	f("2026-01-20t10:00:00Z", time.Time{}, false)
	f("2026-01-20T10:00Z", time.Time{}, false)
	f("2026-01-20T10:00:00.Z", time.Time{}, false)
	f("2026-01-20T10:00:00,5Z", time.Time{}, false)
	f("2026-1-20T10:00:00Z", time.Time{}, false)
	f("", time.Time{}, false)
}

func TestJSONKind(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{`{}`: "object", ` [1]`: "array", `"x"`: "string", `true`: "boolean", `false`: "boolean",
		`null`: "null", `-1`: "number", `2e3`: "number", ``: "undefined"} {
		if got := jsonKind([]byte(raw)); got != want {
			t.Errorf("jsonKind(%q) = %q, want %q", raw, got, want)
		}
	}
}
