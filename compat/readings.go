package compat

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// maxSeedReadings is FreshTrack Pro's limit on one request.
const maxSeedReadings = 1000

// maxDetails bounds the field errors one answer lists.
const maxDetails = 20

// seedReading is one reading of a FreshTrack Pro ingest body, validated.
type seedReading struct {
	// Unit and Device are lower-case UUIDs; Device is "" when absent.
	Unit, Device string
	Reading      ingest.Reading
}

// sources are the values FreshTrack Pro took for "source".
var sources = []string{"ttn", "manual", "api", "import"}

// parseReadings decodes and validates a body of POST /api/ingest/readings
// as FreshTrack Pro's schema did (schemas/readings.ts, Zod):
//
//	{"readings":[{"unitId":uuid, "deviceId"?:uuid, "temperature":number,
//	  "humidity"?:number, "battery"?:integer 0..100, "signalStrength"?:integer,
//	  "recordedAt":"YYYY-MM-DDTHH:MM:SS[.fff]Z", "source"?:"ttn"|"manual"|"api"|"import",
//	  "rawPayload"?:string}]}   1 to 1000 readings
//
// Unknown members are ignored and optional ones may be absent but not
// null, as with Zod. Any invalid field refuses the whole batch: the 400
// names each (up to 20). signalStrength, source and rawPayload are checked
// and dropped. body is valid JSON (httpbody.CheckJSON).
func parseReadings(body []byte) ([]seedReading, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, validation(Detail{Message: "Expected object, received " + jsonKind(body)})
	}
	raw, ok := top["readings"]
	if !ok {
		return nil, validation(Detail{Field: "readings", Message: "Required"})
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, validation(Detail{Field: "readings", Message: "Expected array, received " + jsonKind(raw)})
	}
	switch {
	case len(items) == 0:
		return nil, validation(Detail{Field: "readings", Message: "Array must contain at least 1 element(s)"})
	case len(items) > maxSeedReadings:
		return nil, validation(Detail{Field: "readings", Message: fmt.Sprintf("Array must contain at most %d element(s)", maxSeedReadings)})
	}
	out := make([]seedReading, len(items))
	var issues []Detail
	for i, item := range items {
		v := readingValidator{at: fmt.Sprintf("readings.%d.", i)}
		out[i] = v.reading(item)
		issues = append(issues, v.issues...)
	}
	if len(issues) > 0 {
		return nil, validation(issues...)
	}
	return out, nil
}

// validation is the 400 for a batch with invalid fields.
func validation(issues ...Detail) *Error {
	e := newError(fiber.StatusBadRequest, "Validation failed: ")
	first := issues[0]
	if first.Field != "" {
		e.Message += first.Field + ": "
	}
	e.Message += first.Message
	if len(issues) > 1 {
		e.Message += fmt.Sprintf(" (and %d more)", len(issues)-1)
	}
	e.Details = issues[:min(len(issues), maxDetails)]
	return e
}

// readingValidator collects the issues of one reading.
type readingValidator struct {
	at     string // "readings.3."
	issues []Detail
}

func (v *readingValidator) fail(field, msg string) {
	v.issues = append(v.issues, Detail{Field: v.at + field, Message: msg})
}

func (v *readingValidator) reading(raw json.RawMessage) seedReading {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		v.issues = append(v.issues, Detail{Field: strings.TrimSuffix(v.at, "."), Message: "Expected object, received " + jsonKind(raw)})
		return seedReading{}
	}
	r := seedReading{Reading: ingest.Reading{Humidity: ingest.Absent, Battery: ingest.Absent}}
	r.Unit = v.uuid(m, "unitId", true)
	r.Device = v.uuid(m, "deviceId", false)
	if t, ok := v.number(m, "temperature", true); ok {
		r.Reading.TempC = t
	}
	if h, ok := v.number(m, "humidity", false); ok {
		r.Reading.Humidity = h
	}
	if b, ok := v.integer(m, "battery", false); ok {
		switch {
		case b < 0:
			v.fail("battery", "Number must be greater than or equal to 0")
		case b > 100:
			v.fail("battery", "Number must be less than or equal to 100")
		default:
			r.Reading.Battery = b
		}
	}
	v.integer(m, "signalStrength", false)
	if s, ok := v.str(m, "recordedAt", true); ok {
		if t, ok := parseDatetime(s); ok {
			r.Reading.TimeMicros = t.UnixMicro()
		} else {
			v.fail("recordedAt", "Invalid datetime")
		}
	}
	if s, ok := v.str(m, "source", false); ok && !slices.Contains(sources, s) {
		v.fail("source", fmt.Sprintf("Invalid enum value. Expected 'ttn' | 'manual' | 'api' | 'import', received '%s'", s))
	}
	v.str(m, "rawPayload", false)
	return r
}

// present returns a member, or notes that a required one is missing.
func (v *readingValidator) present(m map[string]json.RawMessage, field string, required bool) (json.RawMessage, bool) {
	raw, ok := m[field]
	if !ok && required {
		v.fail(field, "Required")
	}
	return raw, ok
}

func (v *readingValidator) number(m map[string]json.RawMessage, field string, required bool) (float64, bool) {
	raw, ok := v.present(m, field, required)
	if !ok {
		return 0, false
	}
	var f float64
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') || json.Unmarshal(raw, &f) != nil ||
		math.IsInf(f, 0) || math.IsNaN(f) {
		if kind := jsonKind(raw); kind != "number" {
			v.fail(field, "Expected number, received "+kind)
		} else {
			v.fail(field, "Number must be finite")
		}
		return 0, false
	}
	return f, true
}

func (v *readingValidator) integer(m map[string]json.RawMessage, field string, required bool) (float64, bool) {
	f, ok := v.number(m, field, required)
	if ok && f != math.Trunc(f) {
		v.fail(field, "Expected integer, received float")
		return 0, false
	}
	return f, ok
}

func (v *readingValidator) str(m map[string]json.RawMessage, field string, required bool) (string, bool) {
	raw, ok := v.present(m, field, required)
	if !ok {
		return "", false
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		v.fail(field, "Expected string, received "+jsonKind(raw))
		return "", false
	}
	return s, true
}

func (v *readingValidator) uuid(m map[string]json.RawMessage, field string, required bool) string {
	s, ok := v.str(m, field, required)
	if !ok {
		return ""
	}
	if !uuids.Valid(s) {
		v.fail(field, "Invalid uuid")
		return ""
	}
	return strings.ToLower(s)
}

// jsonKind names the type of a JSON value as Zod does.
func jsonKind(raw []byte) string {
	for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t' || raw[0] == '\r' || raw[0] == '\n') {
		raw = raw[1:]
	}
	if len(raw) == 0 {
		return "undefined"
	}
	switch c := raw[0]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	}
	return "number"
}

// parseDatetime accepts what Zod's .datetime() accepted: UTC only,
// YYYY-MM-DDTHH:MM:SS with an optional fraction of any length, then Z; no
// offsets, no lower-case t or z. A fraction finer than a nanosecond is
// cut.
func parseDatetime(s string) (time.Time, bool) {
	const shape = "0000-00-00T00:00:00"
	if len(s) < len(shape)+1 || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	for i := range len(shape) {
		if shape[i] == '0' && (s[i] < '0' || s[i] > '9') || shape[i] != '0' && s[i] != shape[i] {
			return time.Time{}, false
		}
	}
	frac := s[len(shape) : len(s)-1]
	if frac != "" {
		if frac[0] != '.' || len(frac) == 1 {
			return time.Time{}, false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
		}
		frac = frac[:min(len(frac), 10)]
	}
	t, err := time.Parse(time.RFC3339Nano, s[:len(shape)]+frac+"Z")
	return t, err == nil
}
