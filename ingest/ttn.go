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
	// Temperature lists candidate keys for the temperature in °C, and
	// TemperatureF, tried after them, keys for one in °F (converted). One
	// of them must be present or the uplink is rejected.
	Temperature  []string
	TemperatureF []string
	// Humidity lists candidate keys for the relative humidity in percent.
	// When none is present the reading has no humidity (TTN omits fields
	// whose value is zero, so absence is normal).
	Humidity []string
	// Battery lists candidate keys for the battery level in percent; a
	// value outside 0..100 is not a percentage and is skipped, as
	// FreshTrack Pro did. BatteryVolts, tried after them, lists keys for
	// the battery's voltage, in volts or (above 10) millivolts, mapped to a
	// percentage by [BatteryPercentFromVolts]. When none is present the
	// reading has no battery level.
	Battery      []string
	BatteryVolts []string
	// Door lists candidate keys for a contact sensor's door state: true or
	// 1 is open, false or 0 closed, and the strings "open" and "closed" (any
	// case) say so; DoorContact, tried after them, keys whose true or 1
	// means the contact is made, so the door is closed (the strings mean
	// the same as for Door). The first candidate present and not null
	// counts, and a value of any other form rejects the uplink: a door
	// state misread is worse than none. An uplink with a door state and no
	// temperature is a door state alone, stored without a reading.
	Door        []string
	DoorContact []string
}

// DefaultTTNFields covers the key names of common payload formatters
// (TTN's device repository, Dragino, Elsys, Milesight, ...). Treat it as
// read-only: copy it, and the slices, to customise.
var DefaultTTNFields = TTNFields{
	Temperature:  []string{"temperature", "Temperature", "temp", "Temp", "TempC_SHT", "TempC_DS", "temperature_c", "TempC"},
	TemperatureF: []string{"temperature_f", "TempF", "temp_f"},
	Humidity:     []string{"humidity", "Humidity", "Hum_SHT", "relative_humidity", "hum", "rh"},
	Battery:      []string{"battery", "Battery", "battery_percent", "bat", "BatteryPercent", "battery_level", "batt"},
	BatteryVolts: []string{"battery_voltage", "BatV", "bat_v", "battery_v", "BatteryVoltage", "vbat", "Vbat"},
	// DOOR_OPEN_STATUS is Dragino LDS02's (0 closed, 1 open).
	Door:        []string{"door", "door_open", "open", "DOOR_OPEN_STATUS", "door_status"},
	DoorContact: []string{"contact"},
}

// The battery curve: FreshTrack Pro's, a LiPo cell read linearly from
// empty at 3.0 V to full at 4.2 V.
const (
	batteryEmptyVolts = 3.0
	batteryFullVolts  = 4.2
)

// BatteryPercentFromVolts maps a battery voltage to a charge percentage as
// FreshTrack Pro did: a value above 10 is taken as millivolts, the curve is
// linear from 3.0 V (0 %) to 4.2 V (100 %) (a LiPo cell), clamped to 0..100
// and rounded to a whole percent. Lithium thionyl chloride (3.6 V) and
// alkaline cells discharge along other curves; a formatter that knows its
// cell should report a percentage instead.
func BatteryPercentFromVolts(v float64) float64 {
	if v > 10 {
		v /= 1000
	}
	pct := (v - batteryEmptyVolts) / (batteryFullVolts - batteryEmptyVolts) * 100
	return math.Round(max(0, min(100, pct)))
}

// fahrenheitToCelsius converts, rounded to a millionth of a degree so that
// 39.2 °F is 4 °C and not 4.000000000000002.
func fahrenheitToCelsius(f float64) float64 {
	return math.Round((f-32)*5/9*1e6) / 1e6
}

const (
	reasonMissingDevEUI = `missing "end_device_ids.dev_eui" (and no "end_device_ids.device_id")`
	reasonBadDevEUI     = `"end_device_ids.dev_eui" must be a hex string of at most 128 digits (":" or "-" between them allowed)`
	reasonBadDeviceID   = `"end_device_ids.device_id" must be a string of 1 to 128 printable ASCII characters`
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
//	end_device_ids.dev_eui            the sensor id, upper-cased, ":" and "-" removed ("70B3D57ED005A1B2")
//	end_device_ids.device_id          the sensor id, as is, when dev_eui is absent or empty
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
	id, isEUI, reason := ttnDeviceID(jsonMember(msg, "end_device_ids"))
	if reason != "" {
		return reason
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
	if reason := p.ttnValues(dp, fields, r); reason != "" {
		return reason
	}

	// The id is copied into the arena rather than rewritten in fastjson's
	// buffer: an EUI upper-cased and without separators, a device_id as
	// it is.
	start := len(p.arena)
	for _, c := range id {
		switch {
		case !isEUI:
		case c == ':' || c == '-':
			continue
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		}
		p.arena = append(p.arena, c)
	}
	r.Sensor = p.arena[start:len(p.arena):len(p.arena)]
	return ""
}

// ttnDeviceID returns the uplink's device: end_device_ids.dev_eui (isEUI),
// hex digits with optional ":" or "-" between them, or, when it is absent
// or empty, end_device_ids.device_id. The bytes are fastjson's.
func ttnDeviceID(ids *fastjson.Value) (id []byte, isEUI bool, reason string) {
	eui := jsonMember(ids, "dev_eui")
	if !jsonNull(eui) {
		if eui.Type() != fastjson.TypeString {
			return nil, false, reasonBadDevEUI
		}
		hex, _ := eui.StringBytes()
		if len(hex) > 0 {
			digits := 0
			for i, c := range hex {
				switch {
				case isHexDigit(c):
					digits++
				case (c == ':' || c == '-') && i > 0 && i < len(hex)-1 && isHexDigit(hex[i-1]):
				default:
					return nil, false, reasonBadDevEUI
				}
			}
			if digits > maxSensorIDBytes {
				return nil, false, reasonBadDevEUI
			}
			return hex, true, ""
		}
	}
	dev := jsonMember(ids, "device_id")
	switch {
	case jsonNull(dev) && !jsonNull(eui):
		return nil, false, reasonBadDevEUI // an empty dev_eui and nothing else
	case jsonNull(dev):
		return nil, false, reasonMissingDevEUI
	case dev.Type() != fastjson.TypeString:
		return nil, false, reasonBadDeviceID
	}
	name, _ := dev.StringBytes()
	if len(name) == 0 || len(name) > maxSensorIDBytes {
		return nil, false, reasonBadDeviceID
	}
	for _, c := range name {
		if c < 0x21 || c > 0x7e {
			return nil, false, reasonBadDeviceID
		}
	}
	return name, false, ""
}

// ttnValues reads the temperature, door state, humidity and battery level
// of a decoded_payload into r.
func (p *Parser) ttnValues(dp *fastjson.Value, fields *TTNFields, r *Reading) string {
	var found bool
	var reason string
	if r.TempC, found, reason = p.ttnValue(dp, fields.Temperature, anyValue); reason != "" {
		return reason
	}
	if !found {
		var f float64
		if f, found, reason = p.ttnValue(dp, fields.TemperatureF, anyValue); reason != "" {
			return reason
		}
		r.TempC = fahrenheitToCelsius(f)
	}
	if r.Door, reason = ttnDoor(dp, fields); reason != "" {
		return reason
	}
	if !found && r.Door != DoorNone {
		r.TempC = Absent
		found = true
	}
	if !found {
		msg := "decoded_payload has no temperature field (looked for: " + strings.Join(fields.Temperature, ", ")
		if len(fields.TemperatureF) > 0 {
			msg += "; in °F: " + strings.Join(fields.TemperatureF, ", ")
		}
		return msg + ")"
	}
	if r.Humidity, found, reason = p.ttnValue(dp, fields.Humidity, anyValue); reason != "" {
		return reason
	}
	if !found {
		r.Humidity = Absent
	}
	if r.Battery, found, reason = p.ttnValue(dp, fields.Battery, percentValue); reason != "" {
		return reason
	}
	if !found {
		var v float64
		if v, found, reason = p.ttnValue(dp, fields.BatteryVolts, anyValue); reason != "" {
			return reason
		}
		r.Battery = BatteryPercentFromVolts(v)
	}
	if !found {
		r.Battery = Absent
	}
	return ""
}

// ttnDoor returns the door state of the first of fields.Door, then
// fields.DoorContact, present in dp and not null, or why its value is not
// a door state.
func ttnDoor(dp *fastjson.Value, fields *TTNFields) (Door, string) {
	for i, keys := range [2][]string{fields.Door, fields.DoorContact} {
		contact := i == 1
		for _, key := range keys {
			v := jsonMember(dp, key)
			if jsonNull(v) {
				continue
			}
			open, ok := false, true
			switch v.Type() {
			case fastjson.TypeTrue:
				open = !contact
			case fastjson.TypeFalse:
				open = contact
			case fastjson.TypeNumber:
				switch n, _ := v.Float64(); n {
				case 1:
					open = !contact
				case 0:
					open = contact
				default:
					ok = false
				}
			case fastjson.TypeString:
				switch s, _ := v.StringBytes(); {
				case asciiEqualFold(s, "open"):
					open = true
				case asciiEqualFold(s, "closed"):
				default:
					ok = false
				}
			default:
				ok = false
			}
			if !ok {
				return DoorNone, `decoded_payload "` + key + `" must be a door state: true or false, 0 or 1, or "open" or "closed"`
			}
			if open {
				return DoorOpen, ""
			}
			return DoorClosed, ""
		}
	}
	return DoorNone, ""
}

// Value ranges for ttnValue: any number, or a percentage.
var (
	anyValue     = [2]float64{math.Inf(-1), math.Inf(1)}
	percentValue = [2]float64{0, 100}
)

// ttnValue returns the value of the first of keys present in dp with a
// numeric value within in (inclusive); values outside it are skipped like
// non-numeric ones. A numeric value that is not finite ("NaN", "Infinity",
// 1e999) is not skipped: it rejects the uplink, with the returned reason.
func (p *Parser) ttnValue(dp *fastjson.Value, keys []string, in [2]float64) (f float64, found bool, reason string) {
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
		if f < in[0] || f > in[1] {
			continue
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
