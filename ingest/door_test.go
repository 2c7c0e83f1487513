package ingest

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseTTNDoorStates(t *testing.T) {
	var p Parser
	const eui = "A84041000181B6F1"
	micros := ttnTime.UnixMicro()
	f := func(payload string, temp float64, want Door) {
		t.Helper()
		var b Batch
		if err := p.ParseTTN([]byte(ttnBody(payload)), DefaultTTNFields, &b); err != nil {
			t.Fatalf("%s: error %v", payload, err)
		}
		if len(b.Readings) != 1 {
			t.Fatalf("%s: got %+v, want one reading", payload, b)
		}
		r := b.Readings[0]
		if string(r.Sensor) != eui || r.TimeMicros != micros || r.Door != want || !(r.TempC == temp || math.IsNaN(r.TempC) && math.IsNaN(temp)) {
			t.Fatalf("%s: got %s, want temp %v door %d", payload, fmtReading(r), temp, want)
		}
	}
	// Dragino LDS02: a door state alone, with its counters and battery.
	f(`{"DOOR_OPEN_STATUS": 1, "DOOR_OPEN_TIMES": 17, "LAST_DOOR_OPEN_DURATION": 2, "BAT_V": 3.05, "ALARM": 0}`, Absent, DoorOpen)
	f(`{"DOOR_OPEN_STATUS": 0, "BAT_V": 3.05}`, Absent, DoorClosed)
	f(`{"door": true, "temperature": 3.5}`, 3.5, DoorOpen)
	f(`{"door_open": false}`, Absent, DoorClosed)
	f(`{"open": 1.0}`, Absent, DoorOpen)
	f(`{"door_status": "OPEN"}`, Absent, DoorOpen)
	f(`{"door_status": "Closed"}`, Absent, DoorClosed)
	// A contact that is made means a closed door.
	f(`{"contact": true}`, Absent, DoorClosed)
	f(`{"contact": 0}`, Absent, DoorOpen)
	f(`{"contact": "open"}`, Absent, DoorOpen)
	// null is absent: the next candidate counts.
	f(`{"door": null, "open": false, "temp": 2}`, 2, DoorClosed)
	f(`{"temp": 2}`, 2, DoorNone)
}

func TestParseTTNDoorRejections(t *testing.T) {
	var p Parser
	f := func(payload, want string) {
		t.Helper()
		var b Batch
		if err := p.ParseTTN([]byte(ttnBody(payload)), DefaultTTNFields, &b); err != nil {
			t.Fatalf("%s: error %v", payload, err)
		}
		if len(b.Readings) != 0 || len(b.Rejected) != 1 || b.Rejected[0].Reason != want {
			t.Fatalf("%s: got %+v, want rejection %q", payload, b, want)
		}
	}
	bad := func(key string) string {
		return `decoded_payload "` + key + `" must be a door state: true or false, 0 or 1, or "open" or "closed"`
	}
	f(`{"DOOR_OPEN_STATUS": 2}`, bad("DOOR_OPEN_STATUS"))
	f(`{"door": "ajar", "temperature": 4}`, bad("door"))
	f(`{"door_open": "true"}`, bad("door_open"))
	f(`{"door_status": {"open": true}}`, bad("door_status"))
	f(`{"contact": "1"}`, bad("contact"))
	f(`{"humidity": 40}`, "decoded_payload has no temperature field (looked for: "+
		"temperature, Temperature, temp, Temp, TempC_SHT, TempC_DS, temperature_c, TempC; in °F: temperature_f, TempF, temp_f)")
}

func TestParseJSONDoorOpen(t *testing.T) {
	var p Parser
	f := func(body string, want Door, reason string) {
		t.Helper()
		var b Batch
		if err := p.ParseJSON([]byte(body), &b); err != nil {
			t.Fatalf("%s: error %v", body, err)
		}
		switch {
		case reason != "" && (len(b.Rejected) != 1 || b.Rejected[0].Reason != reason):
			t.Fatalf("%s: got %+v, want rejection %q", body, b, reason)
		case reason == "" && (len(b.Readings) != 1 || b.Readings[0].Door != want || b.Readings[0].TempC != 4):
			t.Fatalf("%s: got %+v, want door %d", body, b, want)
		}
	}
	f(`{"readings":[{"sensor":"s","time":1,"temp_c":4,"door_open":true}]}`, DoorOpen, "")
	f(`{"readings":[{"door_open":false,"sensor":"s","time":1,"temp_c":4}]}`, DoorClosed, "")
	f(`{"readings":[{"sensor":"s","time":1,"temp_c":4,"door_open":null}]}`, DoorNone, "")
	f(`{"readings":[{"sensor":"s","time":1,"temp_c":4}]}`, DoorNone, "")
	f(`{"readings":[{"sensor":"s","time":1,"temp_c":4,"door_open":1}]}`, 0, reasonBadDoorOpen)
	f(`{"readings":[{"sensor":"s","time":1,"temp_c":4,"door_open":"open"}]}`, 0, reasonBadDoorOpen)
	// The temperature stays required on the native route.
	f(`{"readings":[{"sensor":"s","time":1,"door_open":true}]}`, 0, reasonMissingTemp)
}

func TestLimitsCheckDoorStateAlone(t *testing.T) {
	lim := DefaultLimits()
	now := ttnTime.UnixMicro()
	alone := Reading{Sensor: []byte("s"), TimeMicros: now, TempC: Absent, Humidity: Absent, Battery: Absent, Door: DoorOpen}
	if reason := lim.Check(&alone, now); reason != "" {
		t.Fatalf("door state alone: %q", reason)
	}
	alone.TimeMicros = now + 3600e6
	if reason := lim.Check(&alone, now); reason == "" {
		t.Fatal("a door state an hour in the future passed")
	}
	noTemp := Reading{Sensor: []byte("s"), TimeMicros: now, TempC: Absent, Humidity: Absent, Battery: Absent}
	if reason := lim.Check(&noTemp, now); reason != `"temp_c" must be finite` {
		t.Fatalf("no temperature and no door: %q", reason)
	}
}

// oracleDoor reads a door state as TTNFields documents it.
func oracleDoor(dp map[string]json.RawMessage, fields TTNFields) (Door, string) {
	asciiLower := func(s string) string {
		return strings.Map(func(c rune) rune {
			if c >= 'A' && c <= 'Z' {
				return c + 'a' - 'A'
			}
			return c
		}, s)
	}
	for i, keys := range [][]string{fields.Door, fields.DoorContact} {
		for _, k := range keys {
			raw, ok := dp[k]
			if !ok || string(raw) == "null" {
				continue
			}
			var open *bool
			t, f := true, false
			var s string
			switch {
			case string(raw) == "true":
				open = &t
			case string(raw) == "false":
				open = &f
			case raw[0] == '-' || isDecDigit(raw[0]):
				switch n, _ := strconv.ParseFloat(string(raw), 64); n {
				case 1:
					open = &t
				case 0:
					open = &f
				}
			case json.Unmarshal(raw, &s) == nil:
				switch asciiLower(s) {
				case "open":
					return DoorOpen, ""
				case "closed":
					return DoorClosed, ""
				}
			}
			if open == nil {
				return DoorNone, `decoded_payload "` + k + `" must be a door state: true or false, 0 or 1, or "open" or "closed"`
			}
			if *open != (i == 1) {
				return DoorOpen, ""
			}
			return DoorClosed, ""
		}
	}
	return DoorNone, ""
}
