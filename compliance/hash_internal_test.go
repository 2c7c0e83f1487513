package compliance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"
)

// referenceCanonicalBody is CanonicalBody as first written: the whole
// report through encoding/json into a generic tree, every number parsed
// and re-formatted. The faster CanonicalBody must give the same bytes, or
// every stored content hash and signature would stop matching.
func referenceCanonicalBody(r *Report) ([]byte, error) {
	c := *r
	c.Header.GeneratedAt = time.Time{}
	c.Header.ContentSHA256 = ""
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	delete(tree, "footer")
	delete(tree, "review")
	if h, ok := tree["header"].(map[string]any); ok {
		delete(h, "generated_at")
		delete(h, "content_sha256")
	}
	var buf bytes.Buffer
	if err := referenceCanonical(&buf, tree); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func referenceCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return err
		}
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		buf.Write(b)
	case string:
		canonicalString(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := referenceCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			canonicalString(buf, k)
			buf.WriteByte(':')
			if err := referenceCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func TestCanonicalBodyMatchesReference(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 30, 0, 123456000, time.UTC)
	f := func(v float64) *float64 { return &v }
	odd := []string{"plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\x01\x1f", "Kühlraum ❄ 冷蔵", "\u2028\u2029", "\ufffd", ""}
	r := &Report{
		Header: Header{Organization: odd[1], Site: odd[2], TimeZone: "Europe/Berlin", GeneratedAt: at, ContentSHA256: "x", From: "2026-03-01", To: "2026-03-31"},
		Method: Method{GapAfterMinutes: 15, Coverage: odd[3], Excursions: odd[4]},
		Footer: Footer{AuditHeadID: 1 << 60, AuditHeadSHA256: "y"},
	}
	nums := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, 1e-7, 1e-6, 123456789012345678, 1e21, 1e20, -273.15, 4.999999999999999, 2.5e-300, math.MaxFloat64, 1 << 53, 1<<53 + 2}
	for i, s := range odd {
		u := UnitReport{UnitID: fmt.Sprint(i), Name: s, Kind: "fridge", Sensors: []string{s, odd[(i+1)%len(odd)]},
			SafeMin: nums[i%len(nums)], SafeMax: nums[(i+5)%len(nums)], LimitMin: nums[(i+9)%len(nums)], LimitMax: nums[(i+13)%len(nums)],
			Summary: Stats{Readings: int64(i) * 987654321, Min: f(nums[(i+2)%len(nums)]), Max: f(-nums[(i+3)%len(nums)]), PercentInRange: f(99.98)},
			Days:    []DayStats{{Date: s, Stats: Stats{Readings: 1<<53 + int64(i), MinutesCovered: nums[(i+7)%len(nums)]}}},
			Gaps:    []Gap{{Start: at, End: at.Add(time.Duration(i) * time.Minute), DurationMinutes: float64(i) / 7}},
		}
		if i%3 == 0 {
			u.Days = nil
		}
		r.Units = append(r.Units, u)
	}
	for _, units := range [][]UnitReport{r.Units, {}, nil, r.Units[:1]} {
		c := *r
		c.Units = units
		want, err := referenceCanonicalBody(&c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := CanonicalBody(&c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("%d units: canonical bodies differ at byte %d:\n got %.120s\nwant %.120s", len(units), i, got[max(0, i-40):], want[max(0, i-40):])
		}
	}
}
