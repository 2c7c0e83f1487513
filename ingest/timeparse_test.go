package ingest

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// strictRFC3339 is the RFC 3339 date-time syntax (section 5.6), which
// parseRFC3339Micros implements, independently written.
var strictRFC3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

// checkRFC3339 compares parseRFC3339Micros with time.Parse on s and returns
// a description of any disagreement. time.Parse does not accept a
// lower-case t or z, so it is given s with those upper-cased; and its lenient
// layout fallback accepts inputs that are not RFC 3339 (a one-digit hour, a
// comma before the fraction, an offset of 24 hours or more or with 60
// minutes or more), which parseRFC3339Micros must refuse.
func checkRFC3339(s string) string {
	got, ok := parseRFC3339Micros([]byte(s))
	upper := s
	if strictRFC3339.MatchString(s) {
		upper = strings.ToUpper(s)
	}
	want, err := time.Parse(time.RFC3339Nano, upper)
	switch {
	case ok && err != nil:
		return fmt.Sprintf("parseRFC3339Micros(%q) = %d, true; time.Parse: %v", s, got, err)
	case ok && !strictRFC3339.MatchString(s):
		return fmt.Sprintf("parseRFC3339Micros(%q) = %d, true; not RFC 3339 syntax", s, got)
	case ok && got != floorMicros(want):
		return fmt.Sprintf("parseRFC3339Micros(%q) = %d (%s); time.Parse %s (%d)", s, got,
			time.UnixMicro(got).UTC().Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), floorMicros(want))
	case !ok && err == nil && strictRFC3339.MatchString(s) && !badOffset(s):
		return fmt.Sprintf("parseRFC3339Micros(%q) failed; time.Parse accepted it as %s", s, want.Format(time.RFC3339Nano))
	}
	return ""
}

// badOffset reports whether s ends in a ±hh:mm offset with hh > 23 or mm > 59.
func badOffset(s string) bool {
	if len(s) < 6 || (s[len(s)-6] != '+' && s[len(s)-6] != '-') {
		return false
	}
	return s[len(s)-5:len(s)-3] > "23" || s[len(s)-2:] > "59"
}

// floorMicros is t in unix microseconds, rounded toward negative infinity
// (time.Time.UnixMicro truncates toward zero before 1970).
func floorMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).After(t) {
		us--
	}
	return us
}

func TestParseRFC3339Micros(t *testing.T) {
	f := func(s string, wantOK bool) {
		t.Helper()
		if msg := checkRFC3339(s); msg != "" {
			t.Fatal(msg)
		}
		if _, ok := parseRFC3339Micros([]byte(s)); ok != wantOK {
			t.Fatalf("parseRFC3339Micros(%q) ok = %v, want %v", s, ok, wantOK)
		}
	}
	// Valid.
	f("2026-11-26T03:04:05Z", true)
	f("2026-11-26T03:04:05.1Z", true)
	f("2026-11-26T03:04:05.12Z", true)
	f("2026-11-26T03:04:05.123Z", true)
	f("2026-11-26T03:04:05.1234Z", true)
	f("2026-11-26T03:04:05.12345Z", true)
	f("2026-11-26T03:04:05.123456Z", true)
	f("2026-11-26T03:04:05.1234567Z", true)
	f("2026-11-26T03:04:05.12345678Z", true)
	f("2026-11-26T03:04:05.123456789Z", true)
	f("2026-11-26T03:04:05.1234567891Z", true) // digits past the ninth ignored, as time.Parse does
	f("2026-11-26T03:04:05.000000000000000000000000001Z", true)
	f("2026-11-26T03:04:05.999999999Z", true)
	f("2026-11-26T03:04:05+01:00", true)
	f("2026-11-26T03:04:05.5-01:30", true)
	f("2026-11-26T03:04:05+23:59", true)
	f("2026-11-26T03:04:05-23:59", true)
	f("2026-11-26T03:04:05-00:00", true)
	f("2026-11-26t03:04:05z", true)
	f("2026-11-26t03:04:05.5+05:45", true)
	f("0000-01-01T00:00:00Z", true)
	f("0000-01-01T00:00:00+01:00", true) // year -1 in UTC
	f("0000-02-29T00:00:00Z", true)      // year 0 is a leap year
	f("1969-12-31T23:59:59.999999Z", true)
	f("1970-01-01T00:00:00Z", true)
	f("1600-02-29T12:00:00Z", true)
	f("2000-02-29T12:00:00Z", true)
	f("2024-02-29T12:00:00Z", true)
	f("9999-12-31T23:59:59.999999999Z", true)
	f("9999-12-31T23:59:59-23:59", true)
	f("2026-01-31T00:00:00Z", true)
	f("2026-04-30T00:00:00Z", true)
	f("2026-12-31T23:59:59Z", true)

	// Invalid.
	f("", false)
	f("2026-11-26", false)
	f("2026-11-26T03:04:05", false)
	f("2026-11-26T03:04Z", false)
	f("2026-11-26 03:04:05Z", false)
	f("2026-11-26T03:04:05.Z", false)
	f("2026-11-26T03:04:05,5Z", false) // time.Parse's fallback accepts it
	f("2026-11-26T3:04:05Z", false)    // time.Parse's fallback accepts it
	f("2026-11-26T03:04:05ZZ", false)
	f("2026-11-26T03:04:05+01", false)
	f("2026-11-26T03:04:05+0100", false)
	f("2026-11-26T03:04:05+01:00:00", false)
	f("2026-11-26T03:04:05 Z", false)
	f(" 2026-11-26T03:04:05Z", false)
	f("2026-11-26T03:04:05Z ", false)
	f("2026-11-26T03:04:05+24:00", false)
	f("2026-11-26T03:04:05+01:60", false)
	f("2026-11-26T03:04:05*01:00", false)
	f("2026-11-26T03:04:05.5.5Z", false)
	f("2026-00-26T03:04:05Z", false)
	f("2026-13-26T03:04:05Z", false)
	f("2026-11-00T03:04:05Z", false)
	f("2026-11-31T03:04:05Z", false)
	f("2026-02-29T03:04:05Z", false)
	f("1900-02-29T03:04:05Z", false)
	f("2100-02-29T03:04:05Z", false)
	f("2026-11-26T24:00:00Z", false)
	f("2026-11-26T23:60:00Z", false)
	f("2026-11-26T23:59:60Z", false) // no leap seconds, like time.Parse
	f("+2026-11-26T03:04:05Z", false)
	f("-001-11-26T03:04:05Z", false)
	f("12026-11-26T03:04:05Z", false)
	f("2026-1a-26T03:04:05Z", false)
	f("2026/11/26T03:04:05Z", false)
	f("2026-11-26T03-04-05Z", false)
	f("２026-11-26T03:04:05Z", false)
	f("2026-11-26T03:04:05.１Z", false)
}

// TestParseRFC3339Calendar checks every day number 00-32 of every month of
// years around the leap-year rules, against time.Parse.
func TestParseRFC3339Calendar(t *testing.T) {
	for _, year := range []int{0, 1, 4, 100, 399, 400, 1582, 1899, 1900, 1969, 1970, 1972, 2000, 2023, 2024, 2026, 2100, 2400, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				s := fmt.Sprintf("%04d-%02d-%02dT12:34:56.789Z", year, month, day)
				if msg := checkRFC3339(s); msg != "" {
					t.Fatal(msg)
				}
			}
		}
	}
}

// TestParseRFC3339Random compares random valid and nearly valid timestamps
// with time.Parse.
func TestParseRFC3339Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 100_000 {
		sec := rng.Int64N(253402300800+62167219200) - 62167219200
		tm := time.Unix(sec, rng.Int64N(1e9)).UTC()
		var s string
		if rng.IntN(2) == 0 {
			off := (rng.IntN(47*60) - 23*60 - 59) * 60
			tm = tm.In(time.FixedZone("", off))
		}
		digits := rng.IntN(12)
		s = tm.Format("2006-01-02T15:04:05")
		if digits > 0 {
			s += "." + fmt.Sprintf("%09d", tm.Nanosecond()) + "123"[:max(0, digits-9)]
			s = s[:20+digits]
		}
		s += tm.Format("Z07:00")
		if rng.IntN(10) == 0 { // mutate one byte
			b := []byte(s)
			b[rng.IntN(len(b))] = "0123456789:-+.TZtz "[rng.IntN(19)]
			s = string(b)
		}
		if msg := checkRFC3339(s); msg != "" {
			t.Fatal(msg)
		}
	}
}

func TestParseUnixMillisMicros(t *testing.T) {
	f := func(num string, want int64, wantOK bool) {
		t.Helper()
		got, ok := parseUnixMillisMicros([]byte(num))
		if ok != wantOK || got != want {
			t.Fatalf("parseUnixMillisMicros(%q) = %d, %v; want %d, %v", num, got, ok, want, wantOK)
		}
		if ok {
			if ref := ratMillisToMicros(num); ref.Cmp(big.NewInt(got)) != 0 {
				t.Fatalf("parseUnixMillisMicros(%q) = %d; exact floor is %s", num, got, ref)
			}
		}
	}
	f("0", 0, true)
	f("-0", 0, true)
	f("1", 1000, true)
	f("1795662245123", 1795662245123000, true)
	f("1795662245123.4", 1795662245123400, true)
	f("1795662245123.456", 1795662245123456, true)
	f("1795662245123.4569999", 1795662245123456, true)
	f("1.795662245123456e12", 1795662245123456, true)
	f("1.7956622451234569e12", 1795662245123456, true)
	f("1795662245123456e-3", 1795662245123456, true)
	f("1795662245123456789e-6", 1795662245123456, true)
	f("17956622451E2", 1795662245100000, true)
	f("0.001", 1, true)
	f("0.0009", 0, true)
	f("-0.0009", -1, true)
	f("-0.001", -1, true)
	f("-1.5", -1500, true)
	f("-1.0000001", -1001, true)
	f("0e999999", 0, true)
	f("0.0000e5", 0, true)
	f("1e-999", 0, true)
	f("-1e-999", -1, true)
	f("253402300799999.999", maxReadingMicros, true) // 9999-12-31T23:59:59.999999Z
	f("253402300800000", 0, false)                   // 10000-01-01
	f("-62167219200000", minReadingMicros, true)     // 0000-01-01
	f("-62167219200000.001", 0, false)               //
	f("9223372036854775807", 0, false)               // overflow, not wrapped
	f("99999999999999999999999999999", 0, false)     //
	f("1e20", 0, false)                              //
	f("1e999999", 0, false)                          // exponent too large
	f("1e1000000", 0, false)                         //
	f("00", 0, false)                                // not JSON numbers
	f("01", 0, false)
	f("1.", 0, false)
	f(".5", 0, false)
	f("+1", 0, false)
	f("-", 0, false)
	f("", 0, false)
	f("1e", 0, false)
	f("1e+", 0, false)
	f("1.5.5", 0, false)
	f("NaN", 0, false)
	f("Infinity", 0, false)
	f("0x10", 0, false)
	f("1 ", 0, false)
}

// ratMillisToMicros is the exact floor(num × 1000) for a JSON number.
func ratMillisToMicros(num string) *big.Int {
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		panic(num)
	}
	r.Mul(r, big.NewRat(1000, 1))
	q := new(big.Int)
	m := new(big.Int)
	q.DivMod(r.Num(), r.Denom(), m) // Euclidean: floor for a positive denominator
	return q
}
