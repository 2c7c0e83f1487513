package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// TTNFields says which keys of a TTN uplink's decoded_payload (the output of
// the device's payload formatter) hold the reading's values. For each value
// the candidate keys are tried in order and the first one present with a
// numeric value wins: a JSON number, or a string holding a decimal number
// ("21.5"), as many formatters produce with toFixed. A candidate that is
// missing, null, or holds anything else (e.g. "Battery Status": "Good") is
// skipped.
type TTNFields struct {
	// Temperature lists candidate keys for the temperature in °C. One of
	// them must be present or the uplink is rejected.
	Temperature []string
	// Humidity lists candidate keys for the relative humidity in percent.
	// When none is present the reading has no humidity (TTN omits fields
	// whose value is zero, so absence is normal).
	Humidity []string
	// Battery lists candidate keys for the battery level in percent (not
	// volts). When none is present the reading has no battery level.
	Battery []string
}

// DefaultTTNFields covers the key names of common payload formatters
// (TTN's device repository, Dragino, Elsys, Milesight, ...). Treat it as
// read-only: copy it, and the slices, to customise.
var DefaultTTNFields = TTNFields{
	Temperature: []string{"temperature", "Temperature", "temp", "Temp", "TempC_SHT", "TempC_DS", "temperature_c", "TempC"},
	Humidity:    []string{"humidity", "Humidity", "Hum_SHT", "relative_humidity", "hum"},
	Battery:     []string{"battery", "Battery", "battery_percent", "bat", "BatteryPercent"},
}

const (
	reasonMissingDevEUI = `missing "end_device_ids.dev_eui"`
	reasonBadDevEUI     = `"end_device_ids.dev_eui" must be a hex string of at most 128 digits`
	reasonNotUplink     = `not an uplink message (no "uplink_message" object)`
	reasonMissingRecvAt = `missing "received_at"`
	reasonNoPayload     = `uplink has no decoded_payload`
	msgTTNNotObject     = `body must be a JSON object (a The Things Network v3 uplink message)`
)

// ParseTTN decodes one The Things Network (v3) webhook uplink message into b:
// one Reading or one Rejection, both with Index 0. fields says which keys of
// uplink_message.decoded_payload hold the values (see TTNFields; usually
// DefaultTTNFields). It uses:
//
//	end_device_ids.dev_eui            the sensor id, upper-cased ("70B3D57ED005A1B2")
//	received_at                       the reading's time; uplink_message.received_at if absent
//	uplink_message.decoded_payload    the values
//
// and ignores everything else (f_cnt, frm_payload, rx_metadata, ...). A body
// that is not valid JSON, or not a JSON object, returns an error for the
// client; anything wrong inside the message is a Rejection, so that the
// webhook is answered with success and The Things Stack does not retry or,
// after repeated failures, disable it. See Parser for how long Sensor stays
// valid.
func (p *Parser) ParseTTN(body []byte, fields TTNFields, b *Batch) error {
	p.reset()
	if off, msg := jsonSyntax(body); off >= 0 {
		return fmt.Errorf("malformed JSON at offset %d: %s", off, msg)
	}
	p.fjSize = max(p.fjSize, len(body))
	v, err := p.fj.ParseBytes(body)
	if err != nil {
		// Not expected: jsonSyntax applies fastjson's nesting limit.
		return fmt.Errorf("malformed JSON: %v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return errors.New(msgTTNNotObject + ", not " + describeJSONValue(trimJSONSpace(body)[0]))
	}
	var r Reading
	if reason := p.decodeTTN(v, &fields, &r); reason != "" {
		rejectAt(b, 0, reason)
		return nil
	}
	b.Readings = append(b.Readings, r)
	b.Index = append(b.Index, 0)
	return nil
}

// jsonMember returns the value of the member of object v named key, or nil
// when v is not an object or has no such member. When the name appears more
// than once the last member counts, as with encoding/json.
func jsonMember(v *fastjson.Value, key string) *fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil
	}
	obj, _ := v.Object()
	var found *fastjson.Value
	obj.Visit(func(k []byte, x *fastjson.Value) {
		if string(k) == key {
			found = x
		}
	})
	return found
}

func jsonNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

func (p *Parser) decodeTTN(msg *fastjson.Value, fields *TTNFields, r *Reading) string {
	eui := jsonMember(jsonMember(msg, "end_device_ids"), "dev_eui")
	if jsonNull(eui) {
		return reasonMissingDevEUI
	}
	if eui.Type() != fastjson.TypeString {
		return reasonBadDevEUI
	}
	hex, _ := eui.StringBytes()
	if len(hex) == 0 || len(hex) > maxSensorIDBytes {
		return reasonBadDevEUI
	}
	for _, c := range hex {
		if !isHexDigit(c) {
			return reasonBadDevEUI
		}
	}

	up := jsonMember(msg, "uplink_message")
	if up == nil || up.Type() != fastjson.TypeObject {
		return reasonNotUplink
	}

	field := "received_at"
	t := jsonMember(msg, "received_at")
	if jsonNull(t) {
		field = "uplink_message.received_at"
		t = jsonMember(up, "received_at")
	}
	if jsonNull(t) {
		return reasonMissingRecvAt
	}
	if t.Type() != fastjson.TypeString {
		return `"` + field + `" must be an RFC 3339 timestamp`
	}
	ts, _ := t.StringBytes()
	var ok bool
	if r.TimeMicros, ok = parseRFC3339Micros(ts); !ok {
		return `"` + field + `" must be an RFC 3339 timestamp`
	}

	dp := jsonMember(up, "decoded_payload")
	if dp == nil || dp.Type() != fastjson.TypeObject {
		return reasonNoPayload
	}
	var found bool
	var reason string
	if r.TempC, found, reason = p.ttnValue(dp, fields.Temperature); reason != "" {
		return reason
	}
	if !found {
		return "decoded_payload has no temperature field (looked for: " +
			strings.Join(fields.Temperature, ", ") + ")"
	}
	if r.Humidity, found, reason = p.ttnValue(dp, fields.Humidity); reason != "" {
		return reason
	}
	if !found {
		r.Humidity = Absent
	}
	if r.Battery, found, reason = p.ttnValue(dp, fields.Battery); reason != "" {
		return reason
	}
	if !found {
		r.Battery = Absent
	}

	// The id is copied, upper-cased, into the arena rather than rewritten in
	// fastjson's buffer.
	start := len(p.arena)
	for _, c := range hex {
		if c >= 'a' && c <= 'f' {
			c -= 'a' - 'A'
		}
		p.arena = append(p.arena, c)
	}
	r.Sensor = p.arena[start:len(p.arena):len(p.arena)]
	return ""
}

// ttnValue returns the value of the first of keys present in dp with a
// numeric value. A numeric value that is not finite ("NaN", "Infinity",
// 1e999) is not skipped: it rejects the uplink, with the returned reason.
func (p *Parser) ttnValue(dp *fastjson.Value, keys []string) (f float64, found bool, reason string) {
	for _, key := range keys {
		v := jsonMember(dp, key)
		if v == nil {
			continue
		}
		var ok bool
		switch v.Type() {
		case fastjson.TypeNumber:
			p.scratch = v.MarshalTo(p.scratch[:0])
			f, ok = parseJSONFloat(p.scratch)
		case fastjson.TypeString:
			s, _ := v.StringBytes()
			f, ok = parseNumericString(s)
		}
		if !ok {
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false, `decoded_payload "` + key + `" must be finite`
		}
		return f, true, ""
	}
	return 0, false, ""
}

// parseNumericString parses a decimal number held in a string, as payload
// formatters write them: optional surrounding spaces, an optional sign, digits
// with an optional fraction (".5" and "5." allowed) and exponent. NaN and
// Inf/Infinity (any case, optionally signed) parse, as NaN and ±Inf, so that
// the caller can reject them. Anything else (hex, "21.5 °C", "Good") does not.
func parseNumericString(s []byte) (float64, bool) {
	s = trimJSONSpace(s)
	if len(s) == 0 {
		return 0, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	switch rest := s[i:]; {
	case asciiEqualFold(rest, "nan"):
		return math.NaN(), true
	case asciiEqualFold(rest, "inf"), asciiEqualFold(rest, "infinity"):
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	digits := 0
	for i < len(s) && isDecDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDecDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && isDecDigit(s[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range is ±Inf or 0
		return 0, false
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	return f, true
}

// asciiEqualFold reports whether b equals the lower-case ASCII word w,
// ignoring case.
func asciiEqualFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := range len(b) {
		if b[i]|0x20 != w[i] {
			return false
		}
	}
	return true
}
