package ingest

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// utf8JSON is the oracle of what ingest accepts as JSON text: what
// encoding/json accepts, UTF-8 throughout (RFC 8259 §8.1), with no \u
// escape of an unpaired UTF-16 surrogate. It is written apart from the
// parser's own checks, with regular expressions.
func utf8JSON(b []byte) bool {
	if !json.Valid(b) || !utf8.Valid(b) {
		return false
	}
	s := strings.ReplaceAll(string(b), `\\`, "__") // escaped backslashes escape nothing
	s = surrogatePair.ReplaceAllString(s, "_")
	return !surrogateEscape.MatchString(s)
}

var (
	surrogatePair   = regexp.MustCompile(`(?i)\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}`)
	surrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f][0-9a-f]{2}`)
)

// The fuzz targets check invariants that hold for any input, and compare
// with an independent decoder (encoding/json, time.Parse, math/big) wherever
// the input is valid JSON. Seed corpora are in testdata/fuzz/<FuzzName>/.

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"readings":[{"sensor":"FT-0001","time":"2026-11-26T03:04:05.123Z","temp_c":3.5,"humidity":61.2,"battery":87}]}`))
	f.Add([]byte(`{"readings":[{"sensor":"a\u00e9b","time":1795662245123.456,"temp_c":-18,"humidity":null},7,{"sensor":""}]}`))
	f.Add([]byte(`{"readings":[{"sensor":"s","time":"2026-11-26t03:04:05.5+01:00","temp_c":1e999,"x":[{"y":null}]}],"readings":[]}`))
	f.Add([]byte(`{"readings":[{"sensor":"s","time":01,"temp_c":NaN}]}`))
	f.Add([]byte(`{"readings":[{"sensor":"s","time":1,"temp_c":1,"door_open":true},{"sensor":"s","time":2,"temp_c":1,"door_open":"open"}]}`))
	f.Add([]byte(`[{"sensor":"s"}]`))
	f.Add([]byte(`{"readings":{}}`))
	f.Add(benchJSONBody(5))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Parser
		var b Batch
		orig := bytes.Clone(body)
		err := p.ParseJSON(body, &b)
		if !bytes.Equal(body, orig) {
			t.Fatal("ParseJSON modified the body")
		}
		if err != nil && (b.Total() != 0 || len(b.Index) != 0) {
			t.Fatalf("error %q with a non-empty batch", err)
		}
		// Exactly the bodies encoding/json accepts (within the depth
		// limit) are decoded.
		if !utf8JSON(body) || maxDepth(body) > maxJSONDepth {
			if err == nil {
				t.Fatal("invalid JSON accepted")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "malformed JSON at offset ") && !strings.HasPrefix(msg, "empty body") {
				t.Fatalf("invalid JSON: unexpected error %q", msg)
			}
			return
		}
		items, ok := jsonReadings(body)
		if !ok {
			if err == nil || !strings.HasPrefix(err.Error(), `body must be an object with a "readings" array`) {
				t.Fatalf("no readings array: error %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid body refused: %v", err)
		}
		checkBatch(t, &b, len(items))
		compareWithOracle(t, &b, items)
	})
}

func FuzzParseNDJSON(f *testing.F) {
	f.Add([]byte("{\"sensor\":\"a\",\"time\":\"2026-11-26T03:04:05Z\",\"temp_c\":1}\r\n\r\n{\"sensor\":\"b\",\"time\":0,\"temp_c\":2}\nnot json\n"))
	f.Add([]byte("\n \t\n{\"sensor\":\"\\u00e9\",\"time\":-1.5,\"temp_c\":0.5,\"battery\":null}"))
	f.Add([]byte("[1]\n{\"sensor\":\"s\",\"time\":1,\"temp_c\":1}{\"x\":1}\n"))
	f.Add(benchNDJSONBody(5))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Parser
		var b Batch
		orig := bytes.Clone(body)
		if err := p.ParseNDJSON(body, &b); err != nil {
			t.Fatalf("ParseNDJSON returned an error: %v", err)
		}
		if !bytes.Equal(body, orig) {
			t.Fatal("ParseNDJSON modified the body")
		}
		var lines [][]byte
		for _, line := range bytes.Split(body, []byte("\n")) {
			if line = bytes.Trim(line, " \t\r\n"); len(line) > 0 {
				lines = append(lines, line)
			}
		}
		checkBatch(t, &b, len(lines))
		// Lines that are valid JSON are compared with the oracle; the
		// others must be rejected as malformed unless fastjson tolerates them.
		items := make([]json.RawMessage, len(lines))
		for i, line := range lines {
			if utf8JSON(line) && maxDepth(line) <= 300 {
				items[i] = line
			}
		}
		compareWithOracle(t, &b, items)
		reasons := make(map[int]string, len(b.Rejected))
		for _, r := range b.Rejected {
			reasons[r.Index] = r.Reason
		}
		for i, item := range items {
			if malformed := strings.HasPrefix(reasons[i], "malformed JSON: "); malformed != (item == nil) {
				t.Fatalf("line %d %q: valid JSON %v, rejection %q", i, lines[i], item != nil, reasons[i])
			}
		}
	})
}

func FuzzParseTTN(f *testing.F) {
	f.Add([]byte(ttnBody(`{"temperature": 3.75, "humidity": 61.5, "battery": 87}`)))
	f.Add([]byte(ttnBody(`{"Bat_status": 3, "Hum_SHT": "45.6", "TempC_DS": "4.12", "TempC_SHT": "NaN", "Battery": "Good"}`)))
	f.Add([]byte(`{"end_device_ids":{"dev_eui":"0004a30b001c0530"},"uplink_message":{"received_at":"2026-11-26T03:04:05Z","f_cnt":"42","decoded_payload":{"temp":"-2.25 "}}}`))
	f.Add([]byte(`{"end_device_ids":{},"received_at":"x","uplink_message":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(ttnBody(`{"DOOR_OPEN_STATUS": 1, "BAT_V": 3.05}`)))
	f.Add([]byte(ttnBody(`{"door": "Closed", "contact": "x", "temp": 4}`)))
	f.Add([]byte(ttnBody(`{"open": null, "contact": true}`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Parser
		var b Batch
		orig := bytes.Clone(body)
		err := p.ParseTTN(body, DefaultTTNFields, &b)
		if !bytes.Equal(body, orig) {
			t.Fatal("ParseTTN modified the body")
		}
		if err != nil && b.Total() != 0 {
			t.Fatalf("error %q with a non-empty batch", err)
		}
		if !utf8JSON(body) || maxDepth(body) > maxJSONDepth {
			if err == nil || !strings.HasPrefix(err.Error(), "malformed JSON at offset ") {
				t.Fatalf("invalid JSON: error %v", err)
			}
			return
		}
		var msg map[string]json.RawMessage
		if json.Unmarshal(body, &msg) != nil || msg == nil {
			if err == nil || !strings.HasPrefix(err.Error(), "body must be a JSON object") {
				t.Fatalf("not an object: error %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid message refused: %v", err)
		}
		checkBatch(t, &b, 1)
		want, wantReason := oracleTTN(msg, DefaultTTNFields)
		switch {
		case len(b.Readings) == 1 && wantReason != "":
			t.Fatalf("accepted as %s, want rejection %q", fmtReading(b.Readings[0]), wantReason)
		case len(b.Readings) == 1 && !sameReading(b.Readings[0], want):
			t.Fatalf("got %s\nwant %s", fmtReading(b.Readings[0]), fmtReading(want))
		case len(b.Rejected) == 1 && b.Rejected[0].Reason != wantReason:
			t.Fatalf("rejected as %q, want %q", b.Rejected[0].Reason, wantReason)
		}
	})
}

func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{
		"2026-11-26T03:04:05Z", "2026-11-26T03:04:05.123456789+01:00", "2026-11-26t03:04:05.5z",
		"2024-02-29T23:59:59-23:59", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999999Z",
		"2026-02-29T00:00:00Z", "2026-11-26T3:04:05Z", "2026-11-26T03:04:05,5Z", "2026-11-26T03:04:05+24:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if msg := checkRFC3339(s); msg != "" {
			t.Fatal(msg)
		}
		if us, ok := parseRFC3339Micros([]byte(s)); ok && (us < minReadingMicros-86400e6 || us > maxReadingMicros+86400e6) {
			t.Fatalf("parseRFC3339Micros(%q) = %d, out of range", s, us)
		}
	})
}

// FuzzParseUnixMillis compares the exact unix-milliseconds conversion with
// math/big.
func FuzzParseUnixMillis(f *testing.F) {
	for _, s := range []string{"1795662245123", "1795662245123.456789", "-0.0001", "1.795662245123e12", "1e-999", "01", "1e999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUnixMillisMicros([]byte(s))
		isNum := len(s) > 0 && json.Valid([]byte(s)) && (s[0] == '-' || isDecDigit(s[0])) && !strings.ContainsAny(s, " \t\r\n")
		if ok && !isNum {
			t.Fatalf("parseUnixMillisMicros(%q) accepted a non-number", s)
		}
		if !isNum {
			return
		}
		if e := strings.IndexAny(s, "eE"); e >= 0 {
			if exp, err := strconv.Atoi(strings.TrimPrefix(s[e+1:], "+")); err != nil || exp > 400 || exp < -400 {
				return // big.Rat would take too long; the exponent cap is tested in TestParseUnixMillisMicros
			}
		}
		want := ratMillisToMicros(s)
		inRange := want.IsInt64() && want.Int64() >= minReadingMicros && want.Int64() <= maxReadingMicros
		if ok != inRange || (ok && want.Int64() != got) {
			t.Fatalf("parseUnixMillisMicros(%q) = %d, %v; exact floor %s", s, got, ok, want)
		}
	})
}

// FuzzJSONSyntax checks that jsonSyntax, which locates errors for messages,
// agrees on what is valid with utf8JSON.
func FuzzJSONSyntax(f *testing.F) {
	for _, s := range []string{`{"readings":[{"a":1e5,"b":"\u00e9\n"}]}`, `[1,2,]`, `{"a" 1}`, `"\ud800"`, `-0.0e-0`, `01`, "\"\x01\"", ` true `, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		off, msg := jsonSyntax(b)
		valid := utf8JSON(b)
		if depth := maxDepth(b); depth > 300 {
			if valid && !strings.HasPrefix(msg, "nesting deeper") {
				t.Fatalf("depth %d: jsonSyntax = %d, %q", depth, off, msg)
			}
			return
		}
		if valid != (off < 0) {
			t.Fatalf("jsonSyntax(%q) = %d, %q; json.Valid = %v", b, off, msg, valid)
		}
		if off > len(b) || (off < 0) != (msg == "") {
			t.Fatalf("jsonSyntax(%q) = %d, %q", b, off, msg)
		}
	})
}

// maxDepth is the nesting depth of JSON text b, counting as fastjson does
// (a value inside n containers is at depth n+1), ignoring brackets in strings.
func maxDepth(b []byte) int {
	depth, maxD, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
			maxD = max(maxD, depth+1)
		case c == '[' || c == '{':
			maxD = max(maxD, depth+1)
			depth++
		case c == ']' || c == '}':
			depth--
		case c == '-' || isDecDigit(c) || c == 't' || c == 'f' || c == 'n':
			maxD = max(maxD, depth+1)
		}
	}
	return maxD
}

// jsonReadings returns the items of body's "readings" array, as encoding/json
// sees them (the last "readings" member counts).
func jsonReadings(body []byte) ([]json.RawMessage, bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, false
	}
	raw, ok := top["readings"]
	if !ok {
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, false
	}
	return items, true
}

// checkBatch checks the invariants of any decoded batch: n items (n < 0:
// unknown) each either read or rejected exactly once, indexes increasing,
// and every reading plausible in form.
func checkBatch(t *testing.T, b *Batch, n int) {
	t.Helper()
	if len(b.Index) != len(b.Readings) {
		t.Fatalf("%d indexes for %d readings", len(b.Index), len(b.Readings))
	}
	if n >= 0 && b.Total() != n {
		t.Fatalf("%d readings + %d rejections, want %d items", len(b.Readings), len(b.Rejected), n)
	}
	if n < 0 {
		n = b.Total()
	}
	seen := make([]bool, n)
	last := -1
	for i, idx := range b.Index {
		if idx <= last || idx >= n || seen[idx] {
			t.Fatalf("reading index %d (after %d) out of order or range 0..%d", idx, last, n-1)
		}
		last, seen[idx] = idx, true
		r := &b.Readings[i]
		if len(r.Sensor) == 0 || len(r.Sensor) > maxSensorIDBytes || !utf8.Valid(r.Sensor) || !sensorIDPrintable(r.Sensor) {
			t.Fatalf("reading %d: bad sensor %q", idx, r.Sensor)
		}
		if math.IsNaN(r.TempC) && r.Door == DoorNone || math.IsInf(r.TempC, 0) || math.IsInf(r.Humidity, 0) || math.IsInf(r.Battery, 0) {
			t.Fatalf("reading %d: non-finite value %s", idx, fmtReading(*r))
		}
		if r.TimeMicros < minReadingMicros-86400e6 || r.TimeMicros > maxReadingMicros+86400e6 {
			t.Fatalf("reading %d: time %d out of range", idx, r.TimeMicros)
		}
	}
	last = -1
	for _, rej := range b.Rejected {
		if rej.Index <= last || rej.Index >= n || seen[rej.Index] {
			t.Fatalf("rejection index %d (after %d) out of order, range 0..%d or also read", rej.Index, last, n-1)
		}
		last, seen[rej.Index] = rej.Index, true
		if rej.Reason == "" {
			t.Fatalf("rejection %d without a reason", rej.Index)
		}
	}
}

// compareWithOracle checks each item that is valid JSON (non-nil) against
// oracleReading.
func compareWithOracle(t *testing.T, b *Batch, items []json.RawMessage) {
	t.Helper()
	got := make(map[int]*Reading, len(b.Readings))
	for i := range b.Readings {
		got[b.Index[i]] = &b.Readings[i]
	}
	reasons := make(map[int]string, len(b.Rejected))
	for _, r := range b.Rejected {
		reasons[r.Index] = r.Reason
	}
	for i, item := range items {
		if item == nil {
			continue
		}
		want, wantReason, sure := oracleReading(item)
		if !sure {
			continue
		}
		if r := got[i]; r != nil {
			if wantReason != "" {
				t.Fatalf("item %d %s: accepted as %s, want rejection %q", i, item, fmtReading(*r), wantReason)
			}
			if !sameReading(*r, want) {
				t.Fatalf("item %d %s:\n got %s\nwant %s", i, item, fmtReading(*r), fmtReading(want))
			}
		} else if reasons[i] != wantReason {
			t.Fatalf("item %d %s: rejected as %q, want %q", i, item, reasons[i], wantReason)
		}
	}
}

// oracleReading decodes one reading with encoding/json, time.Parse and
// math/big, independently of the parser. sure is false for a unix
// milliseconds time with an exponent too large for math/big to be quick.
func oracleReading(item json.RawMessage) (r Reading, reason string, sure bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(item, &obj) != nil || obj == nil {
		return r, reasonNotObject, true
	}
	present := func(k string) (json.RawMessage, bool) {
		v, ok := obj[k]
		return v, ok && string(v) != "null"
	}
	r.Humidity, r.Battery = Absent, Absent

	raw, ok := present("sensor")
	if !ok {
		return r, reasonMissingSensor, true
	}
	var sensor string
	if json.Unmarshal(raw, &sensor) != nil {
		return r, reasonBadSensor, true
	}
	switch {
	case sensor == "":
		return r, reasonBadSensor, true
	case !utf8.Valid(raw) || strings.ContainsFunc(sensor, func(c rune) bool { return c < 0x20 || c >= 0x7f && c <= 0x9f }):
		return r, reasonSensorChars, true
	case len(sensor) > maxSensorIDBytes:
		return r, reasonBadSensor, true
	}
	r.Sensor = []byte(sensor)

	raw, ok = present("time")
	if !ok {
		return r, reasonMissingTime, true
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || !strictRFC3339.MatchString(s) || badOffset(s) {
			return r, reasonBadTime, true
		}
		tm, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
		if err != nil {
			return r, reasonBadTime, true
		}
		r.TimeMicros = floorMicros(tm)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if e := bytes.IndexAny(raw, "eE"); e >= 0 {
			exp, err := strconv.Atoi(strings.TrimPrefix(string(raw[e+1:]), "+"))
			if err != nil || exp > 400 || exp < -400 {
				return r, "", false // too slow for big.Rat; covered by TestParseUnixMillisMicros
			}
		}
		us := ratMillisToMicros(string(raw))
		if !us.IsInt64() || us.Int64() < minReadingMicros || us.Int64() > maxReadingMicros {
			return r, reasonBadTime, true
		}
		r.TimeMicros = us.Int64()
	default:
		return r, reasonBadTime, true
	}

	num := func(field string, dst *float64, required bool, notNumber, notFinite string) string {
		raw, ok := present(field)
		if !ok {
			if required {
				return `missing "` + field + `"`
			}
			return ""
		}
		if raw[0] != '-' && !isDecDigit(raw[0]) {
			return notNumber
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) {
			return notFinite
		}
		*dst = f
		return ""
	}
	if reason := num("temp_c", &r.TempC, true, reasonBadTemp, reasonTempNotFinite); reason != "" {
		return r, reason, true
	}
	if reason := num("humidity", &r.Humidity, false, reasonBadHumidity, reasonHumNotFinite); reason != "" {
		return r, reason, true
	}
	if reason := num("battery", &r.Battery, false, reasonBadBattery, reasonBatNotFinite); reason != "" {
		return r, reason, true
	}
	switch raw, _ := present("door_open"); string(raw) {
	case "":
	case "true":
		r.Door = DoorOpen
	case "false":
		r.Door = DoorClosed
	default:
		return r, reasonBadDoorOpen, true
	}
	return r, "", true
}

// numericString is what parseNumericString accepts, written independently.
var numericString = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(?i:nan|inf|infinity)$`)

// oracleTTN decodes an uplink message with encoding/json, independently of
// ParseTTN.
func oracleTTN(msg map[string]json.RawMessage, fields TTNFields) (r Reading, reason string) {
	object := func(raw json.RawMessage) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
		return m
	}
	present := func(m map[string]json.RawMessage, k string) (json.RawMessage, bool) {
		v, ok := m[k]
		return v, ok && string(v) != "null"
	}
	ids := object(msg["end_device_ids"])
	raw, hasEUI := present(ids, "dev_eui")
	var eui string
	if hasEUI && (json.Unmarshal(raw, &eui) != nil || eui != "" && !separatedHex.MatchString(eui)) {
		return r, reasonBadDevEUI
	}
	if digits := strings.NewReplacer(":", "", "-", "").Replace(eui); len(digits) > 128 {
		return r, reasonBadDevEUI
	} else if digits != "" {
		r.Sensor = []byte(strings.ToUpper(digits))
	} else {
		raw, ok := present(ids, "device_id")
		var id string
		switch {
		case !ok && hasEUI:
			return r, reasonBadDevEUI
		case !ok:
			return r, reasonMissingDevEUI
		case json.Unmarshal(raw, &id) != nil || id == "" || len(id) > 128 || !printable.MatchString(id):
			return r, reasonBadDeviceID
		}
		r.Sensor = []byte(id)
	}
	up := object(msg["uplink_message"])
	if up == nil {
		return r, reasonNotUplink
	}
	field := "received_at"
	raw, ok := present(msg, "received_at")
	if !ok {
		field = "uplink_message.received_at"
		raw, ok = present(up, "received_at")
	}
	if !ok {
		return r, reasonMissingRecvAt
	}
	var ts string
	if json.Unmarshal(raw, &ts) != nil || !strictRFC3339.MatchString(ts) || badOffset(ts) {
		return r, `"` + field + `" must be an RFC 3339 timestamp`
	}
	tm, err := time.Parse(time.RFC3339Nano, strings.ToUpper(ts))
	if err != nil {
		return r, `"` + field + `" must be an RFC 3339 timestamp`
	}
	r.TimeMicros = floorMicros(tm)
	dp := object(up["decoded_payload"])
	if dp == nil {
		return r, reasonNoPayload
	}
	value := func(keys []string, lo, hi float64) (float64, bool, string) {
		for _, k := range keys {
			raw, ok := present(dp, k)
			if !ok {
				continue
			}
			var f float64
			switch {
			case raw[0] == '-' || isDecDigit(raw[0]):
				f, _ = strconv.ParseFloat(string(raw), 64)
			case raw[0] == '"':
				var s string
				_ = json.Unmarshal(raw, &s)
				s = strings.Trim(s, " \t\r\n")
				if !numericString.MatchString(s) {
					continue
				}
				f, _ = strconv.ParseFloat(s, 64)
			default:
				continue
			}
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return 0, false, `decoded_payload "` + k + `" must be finite`
			}
			if f < lo || f > hi {
				continue
			}
			return f, true, ""
		}
		return Absent, false, ""
	}
	inf := math.Inf(1)
	var found bool
	if r.TempC, found, reason = value(fields.Temperature, -inf, inf); reason != "" {
		return r, reason
	}
	if !found {
		var f float64
		if f, found, reason = value(fields.TemperatureF, -inf, inf); reason != "" {
			return r, reason
		}
		r.TempC = math.Round((f-32)*5/9*1e6) / 1e6
	}
	if r.Door, reason = oracleDoor(dp, fields); reason != "" {
		return r, reason
	}
	if !found && r.Door != DoorNone {
		r.TempC, found = Absent, true
	}
	if !found {
		return r, "decoded_payload has no temperature field (looked for: " + strings.Join(fields.Temperature, ", ") +
			"; in °F: " + strings.Join(fields.TemperatureF, ", ") + ")"
	}
	if r.Humidity, _, reason = value(fields.Humidity, -inf, inf); reason != "" {
		return r, reason
	}
	if r.Battery, found, reason = value(fields.Battery, 0, 100); found || reason != "" {
		return r, reason
	}
	var v float64
	if v, found, reason = value(fields.BatteryVolts, -inf, inf); found {
		if v > 10 {
			v /= 1000
		}
		r.Battery = math.Round(math.Min(100, math.Max(0, (v-3)/1.2*100)))
	}
	return r, reason
}

// separatedHex is a dev_eui ParseTTN accepts; printable a device_id.
var (
	separatedHex = regexp.MustCompile(`^[0-9a-fA-F]+([:-][0-9a-fA-F]+)*$`)
	printable    = regexp.MustCompile(`^[!-~]+$`)
)
