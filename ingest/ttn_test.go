package ingest

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// ttnUplink returns a realistic The Things Network v3 webhook uplink message
// (as sent for "Uplink message" events) from a Dragino LHT65-style sensor
// heard by two gateways, with the given decoded_payload.
func ttnUplink(devEUI, deviceID string, receivedAt time.Time, fCnt uint32, decodedPayload string) string {
	gw := receivedAt.Add(-41 * time.Millisecond)
	return fmt.Sprintf(`{
  "end_device_ids": {
    "device_id": %q,
    "application_ids": {"application_id": "freshtrack-kitchen"},
    "dev_eui": %q,
    "join_eui": "A840410000000101",
    "dev_addr": "260BA1F3"
  },
  "correlation_ids": [
    "gs:uplink:01JDXKQ8ZP0T4Y3J5V6W7X8Y9Z",
    "as:up:01JDXKQ90A1B2C3D4E5F6G7H8J"
  ],
  "received_at": %q,
  "uplink_message": {
    "session_key_id": "AZNv3qQ1b2KXzY0ehxBqTw==",
    "f_port": 2,
    "f_cnt": %d,
    "frm_payload": "y7wBEwGgBQEKf/8=",
    "decoded_payload": %s,
    "rx_metadata": [
      {
        "gateway_ids": {"gateway_id": "kitchen-gw-1", "eui": "B827EBFFFE8B1234"},
        "time": %q,
        "timestamp": 2040934975,
        "rssi": -71,
        "channel_rssi": -71,
        "snr": 9.25,
        "location": {"latitude": 52.3731, "longitude": 4.8922, "altitude": 3, "source": "SOURCE_REGISTRY"},
        "uplink_token": "ChoKGAoMa2l0Y2hlbi1ndy0xEgi4J+v//osSNBC/xpLNBxoMCNXXi7oGEKDtw/UCIJi+2vK8Cg==",
        "channel_index": 2,
        "received_at": %q
      },
      {
        "gateway_ids": {"gateway_id": "packhouse-gw", "eui": "00800000A0001A2B"},
        "timestamp": 1108817731,
        "rssi": -112,
        "channel_rssi": -112,
        "snr": -6.5,
        "frequency_offset": "-1520",
        "uplink_token": "ChoKGAoMcGFja2hvdXNlLWd3EggAgAAAoAAaKxDDvJOQBBoLCNXXi7oGEIDCxDggwJnc/rwK",
        "channel_index": 2,
        "received_at": %q
      }
    ],
    "settings": {
      "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7, "coding_rate": "4/5"}},
      "frequency": "868500000",
      "timestamp": 2040934975,
      "time": %q
    },
    "received_at": %q,
    "consumed_airtime": "0.061696s",
    "version_ids": {"brand_id": "dragino", "model_id": "lht65", "hardware_version": "_unknown_hw_version_", "firmware_version": "1.8", "band_id": "EU_863_870"},
    "network_ids": {"net_id": "000013", "ns_id": "EC656E0000000181", "tenant_id": "ttn", "cluster_id": "eu1", "cluster_address": "eu1.cloud.thethings.network"}
  }
}`, deviceID, devEUI, receivedAt.Format(time.RFC3339Nano), fCnt, decodedPayload,
		gw.Format(time.RFC3339Nano), gw.Add(9*time.Millisecond).Format(time.RFC3339Nano),
		gw.Add(12*time.Millisecond).Format(time.RFC3339Nano), gw.Format(time.RFC3339Nano),
		receivedAt.Add(-20*time.Millisecond).Format(time.RFC3339Nano))
}

var ttnTime = time.Date(2026, 11, 26, 3, 4, 5, 123456789, time.UTC)

// ttnBody is a typical uplink with the given decoded_payload.
func ttnBody(decodedPayload string) string {
	return ttnUplink("a84041000181b6f1", "lht65-walkin-1", ttnTime, 1742, decodedPayload)
}

func TestParseTTN(t *testing.T) {
	var p Parser
	wantMicros := ttnTime.UnixMicro()
	f := func(name, body string, fields TTNFields, want Reading) {
		t.Helper()
		var b Batch
		if err := p.ParseTTN([]byte(body), fields, &b); err != nil {
			t.Fatalf("%s: error %v", name, err)
		}
		if len(b.Rejected) != 0 || len(b.Readings) != 1 || len(b.Index) != 1 || b.Index[0] != 0 {
			t.Fatalf("%s: got %+v, want one reading", name, b)
		}
		if !sameReading(b.Readings[0], want) {
			t.Fatalf("%s: got %s, want %s", name, fmtReading(b.Readings[0]), fmtReading(want))
		}
	}
	r := func(sensor string, micros int64, temp, hum, bat float64) Reading {
		return Reading{Sensor: []byte(sensor), TimeMicros: micros, TempC: temp, Humidity: hum, Battery: bat}
	}
	const eui = "A84041000181B6F1"

	f("numbers", ttnBody(`{"temperature": 3.75, "humidity": 61.5, "battery": 87}`),
		DefaultTTNFields, r(eui, wantMicros, 3.75, 61.5, 87))
	f("Dragino LHT65 numeric strings", ttnBody(`{"BatV": 3.05, "Bat_status": 3, "Ext_sensor": "Temperature Sensor", "Hum_SHT": "45.6", "TempC_DS": "4.12", "TempC_SHT": "3.98"}`),
		DefaultTTNFields, r(eui, wantMicros, 3.98, 45.6, 4)) // BatV 3.05 on the 3.0-4.2 V curve
	f("TTN omits zero values", ttnBody(`{"temperature": -18.5}`),
		DefaultTTNFields, r(eui, wantMicros, -18.5, Absent, Absent))
	f("zero temperature present", ttnBody(`{"temperature": 0, "humidity": 0, "battery": 0}`),
		DefaultTTNFields, r(eui, wantMicros, 0, 0, 0))
	f("capitalised keys", ttnBody(`{"Temperature": "21.5", "Humidity": "40", "Battery": 99.5}`),
		DefaultTTNFields, r(eui, wantMicros, 21.5, 40, 99.5))
	f("non-numeric status string is skipped", ttnBody(`{"Battery": "Good", "battery_percent": 72, "temp": 4, "hum": "55.5"}`),
		DefaultTTNFields, r(eui, wantMicros, 4, 55.5, 72))
	f("null and boolean candidates are skipped", ttnBody(`{"temperature": null, "Temperature": true, "temp": {"c": 1}, "Temp": [1], "TempC_SHT": 5.5}`),
		DefaultTTNFields, r(eui, wantMicros, 5.5, Absent, Absent))
	f("first present candidate wins", ttnBody(`{"TempC_DS": 9.9, "TempC_SHT": 4.4, "temperature_c": 1.1}`),
		DefaultTTNFields, r(eui, wantMicros, 4.4, Absent, Absent))
	f("numeric strings with spaces, sign and exponent", ttnBody(`{"temperature": " -1.5e1 ", "humidity": "+5.", "battery": ".5"}`),
		DefaultTTNFields, r(eui, wantMicros, -15, 5, 0.5))
	f("custom fields", ttnBody(`{"t_probe": 63.2, "rh": 20, "bat_pct": 10}`),
		TTNFields{Temperature: []string{"t_probe"}, Humidity: []string{"rh"}, Battery: []string{"bat_pct"}},
		r(eui, wantMicros, 63.2, 20, 10))
	f("escaped key in payload", ttnBody(`{"temp\u0065rature": 7}`),
		DefaultTTNFields, r(eui, wantMicros, 7, Absent, Absent))
	f("upper-case dev_eui kept", ttnUplink("70B3D57ED005A1B2", "d", ttnTime, 1, `{"temperature": 1}`),
		DefaultTTNFields, r("70B3D57ED005A1B2", wantMicros, 1, Absent, Absent))

	// FreshTrack Pro's field names and conversions.
	f("temperature_f", ttnBody(`{"temperature_f": 39.2, "rh": 48}`),
		DefaultTTNFields, r(eui, wantMicros, 4, 48, Absent))
	f("°C wins over °F", ttnBody(`{"temperature_f": 50, "temp": 3.5}`),
		DefaultTTNFields, r(eui, wantMicros, 3.5, Absent, Absent))
	f("freezer in °F", ttnBody(`{"TempF": "-4"}`),
		DefaultTTNFields, r(eui, wantMicros, -20, Absent, Absent))
	f("battery_level", ttnBody(`{"temperature": 3, "battery_level": 77}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 77))
	f("batt", ttnBody(`{"temperature": 3, "batt": "12"}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 12))
	f("a battery that is no percentage is skipped", ttnBody(`{"temperature": 3, "battery": 3600, "batt": 64}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 64))
	f("battery volts", ttnBody(`{"temperature": 3, "battery_voltage": 3.6}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 50))
	f("battery millivolts", ttnBody(`{"temperature": 3, "bat_v": 3900}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 75))
	f("battery volts above full", ttnBody(`{"temperature": 3, "BatV": 4.35}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 100))
	f("battery volts below empty", ttnBody(`{"temperature": 3, "vbat": "2.7"}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 0))
	f("a percentage wins over volts", ttnBody(`{"temperature": 3, "BatV": 3.0, "battery": 91}`),
		DefaultTTNFields, r(eui, wantMicros, 3, Absent, 91))
	f("EUI with colons", ttnUplink("70:b3:d5:7e:d0:05:a1:b2", "d", ttnTime, 1, `{"temperature": 1}`),
		DefaultTTNFields, r("70B3D57ED005A1B2", wantMicros, 1, Absent, Absent))
	f("EUI with dashes", ttnUplink("70-B3-D5-7E-D0-05-A1-B2", "d", ttnTime, 1, `{"temperature": 1}`),
		DefaultTTNFields, r("70B3D57ED005A1B2", wantMicros, 1, Absent, Absent))
	f("device_id without dev_eui", `{"end_device_ids":{"device_id":"walk-in-2"},"received_at":"2026-11-26T03:04:05Z","uplink_message":{"decoded_payload":{"temp":1}}}`,
		DefaultTTNFields, r("walk-in-2", time.Date(2026, 11, 26, 3, 4, 5, 0, time.UTC).UnixMicro(), 1, Absent, Absent))
	f("device_id with an empty dev_eui", ttnUplink("", "eui-a84041000181b6f1", ttnTime, 1, `{"temperature": 1}`),
		DefaultTTNFields, r("eui-a84041000181b6f1", wantMicros, 1, Absent, Absent))

	// received_at: nanoseconds truncated; fallback to uplink_message.received_at.
	noTop := strings.Replace(ttnBody(`{"temperature": 2}`), `"received_at": "2026-11-26T03:04:05.123456789Z",`, ``, 1)
	if noTop == ttnBody(`{"temperature": 2}`) {
		t.Fatal("fixture: top-level received_at not removed")
	}
	f("received_at falls back to uplink_message.received_at", noTop,
		DefaultTTNFields, r(eui, ttnTime.Add(-20*time.Millisecond).UnixMicro(), 2, Absent, Absent))
	nullTop := strings.Replace(ttnBody(`{"temperature": 2}`), `"received_at": "2026-11-26T03:04:05.123456789Z",`, `"received_at": null,`, 1)
	f("null received_at falls back", nullTop,
		DefaultTTNFields, r(eui, ttnTime.Add(-20*time.Millisecond).UnixMicro(), 2, Absent, Absent))

	// f_cnt as a string (64-bit integers are strings in TTN's JSON) and a
	// minimal message.
	f("f_cnt as string", strings.Replace(ttnBody(`{"temperature": 2}`), `"f_cnt": 1742`, `"f_cnt": "1742"`, 1),
		DefaultTTNFields, r(eui, wantMicros, 2, Absent, Absent))
	f("minimal", `{"end_device_ids":{"dev_eui":"0004a30b001c0530"},"received_at":"2026-11-26T03:04:05Z","uplink_message":{"decoded_payload":{"temp":-2.25}}}`,
		DefaultTTNFields, r("0004A30B001C0530", time.Date(2026, 11, 26, 3, 4, 5, 0, time.UTC).UnixMicro(), -2.25, Absent, Absent))
}

func TestParseTTNRejections(t *testing.T) {
	var p Parser
	f := func(name, body, wantReason string) {
		t.Helper()
		var b Batch
		if err := p.ParseTTN([]byte(body), DefaultTTNFields, &b); err != nil {
			t.Fatalf("%s: error %v", name, err)
		}
		if len(b.Readings) != 0 || len(b.Rejected) != 1 {
			t.Fatalf("%s: got %+v, want one rejection", name, b)
		}
		if got := b.Rejected[0]; got.Index != 0 || got.Reason != wantReason {
			t.Fatalf("%s: got rejection %+v, want %q", name, got, wantReason)
		}
	}
	body := ttnBody(`{"temperature": 3}`)
	replace := func(old, new string) string {
		t.Helper()
		s := strings.Replace(body, old, new, 1)
		if s == body {
			t.Fatalf("fixture: %q not found", old)
		}
		return s
	}
	const devEUI = `"dev_eui": "a84041000181b6f1",`
	const deviceID = `"device_id": "lht65-walkin-1",`
	noDevice := replace(deviceID, ``)
	without := func(s, old, new string) string {
		t.Helper()
		out := strings.Replace(s, old, new, 1)
		if out == s {
			t.Fatalf("fixture: %q not found", old)
		}
		return out
	}
	const missing = `missing "end_device_ids.dev_eui" (and no "end_device_ids.device_id")`
	const badEUI = `"end_device_ids.dev_eui" must be a hex string of at most 128 digits (":" or "-" between them allowed)`
	const badID = `"end_device_ids.device_id" must be a string of 1 to 128 printable ASCII characters`
	f("missing dev_eui and device_id", without(noDevice, devEUI, ``), missing)
	f("null dev_eui, no device_id", without(noDevice, devEUI, `"dev_eui": null,`), missing)
	f("missing end_device_ids", `{"received_at":"2026-11-26T03:04:05Z","uplink_message":{"decoded_payload":{"temp":1}}}`, missing)
	f("numeric dev_eui", replace(devEUI, `"dev_eui": 1234,`), badEUI)
	f("non-hex dev_eui", replace(devEUI, `"dev_eui": "a8-40-4g",`), badEUI)
	f("doubled separator", replace(devEUI, `"dev_eui": "a8::40",`), badEUI)
	f("leading separator", replace(devEUI, `"dev_eui": "-a840",`), badEUI)
	f("trailing separator", replace(devEUI, `"dev_eui": "a840:",`), badEUI)
	f("spaces", replace(devEUI, `"dev_eui": "a8 40",`), badEUI)
	f("empty dev_eui, no device_id", without(noDevice, devEUI, `"dev_eui": "",`), badEUI)
	f("long dev_eui", replace(devEUI, `"dev_eui": "`+strings.Repeat("ab", 65)+`",`), badEUI)
	f("long dev_eui with separators", replace(devEUI, `"dev_eui": "`+strings.Repeat("ab:", 64)+`ab",`), badEUI)
	f("numeric device_id", without(replace(devEUI, ``), deviceID, `"device_id": 7,`), badID)
	f("empty device_id", without(replace(devEUI, ``), deviceID, `"device_id": "",`), badID)
	f("device_id with a space", without(replace(devEUI, ``), deviceID, `"device_id": "walk in",`), badID)

	noTop := replace(`"received_at": "2026-11-26T03:04:05.123456789Z",`, ``)
	f("no received_at anywhere", strings.Replace(noTop, `"received_at": "2026-11-26T03:04:05.103456789Z",`, ``, 1), `missing "received_at"`)
	f("bad received_at", replace(`"received_at": "2026-11-26T03:04:05.123456789Z"`, `"received_at": "2026-11-26 03:04:05"`), `"received_at" must be an RFC 3339 timestamp`)
	f("numeric received_at", replace(`"received_at": "2026-11-26T03:04:05.123456789Z"`, `"received_at": 1795662245123`), `"received_at" must be an RFC 3339 timestamp`)
	f("bad uplink received_at", strings.Replace(noTop, `"received_at": "2026-11-26T03:04:05.103456789Z"`, `"received_at": "yesterday"`, 1), `"uplink_message.received_at" must be an RFC 3339 timestamp`)

	f("missing decoded_payload", replace(`"decoded_payload": {"temperature": 3},`, ``), `uplink has no decoded_payload`)
	f("null decoded_payload", replace(`"decoded_payload": {"temperature": 3},`, `"decoded_payload": null,`), `uplink has no decoded_payload`)
	f("not an uplink", `{"end_device_ids":{"dev_eui":"0004A30B001C0530"},"received_at":"2026-11-26T03:04:05Z","join_accept":{"session_key_id":"AZ"}}`, `not an uplink message (no "uplink_message" object)`)

	noTemp := `decoded_payload has no temperature field (looked for: temperature, Temperature, temp, Temp, TempC_SHT, TempC_DS, temperature_c, TempC; in °F: temperature_f, TempF, temp_f)`
	f("no temperature", ttnBody(`{"humidity": 40, "battery": 90}`), noTemp)
	f("empty payload", ttnBody(`{}`), noTemp)
	f("non-numeric temperature only", ttnBody(`{"temperature": "n/a", "TempC_SHT": "21.5 C", "Temp": "0x10"}`), noTemp)
	f("NaN temperature", ttnBody(`{"TempC_SHT": "NaN"}`), `decoded_payload "TempC_SHT" must be finite`)
	f("Inf humidity", ttnBody(`{"temperature": 3, "humidity": "-Infinity"}`), `decoded_payload "humidity" must be finite`)
	f("overflowing battery", ttnBody(`{"temperature": 3, "battery": 1e999}`), `decoded_payload "battery" must be finite`)
	f("overflowing string", ttnBody(`{"temperature": "1e400"}`), `decoded_payload "temperature" must be finite`)
	f("NaN °F", ttnBody(`{"temperature_f": "nan"}`), `decoded_payload "temperature_f" must be finite`)
	f("Inf volts", ttnBody(`{"temperature": 3, "BatV": "inf"}`), `decoded_payload "BatV" must be finite`)
}

func TestParseTTNErrors(t *testing.T) {
	var p Parser
	f := func(body, wantErr string) {
		t.Helper()
		var b Batch
		err := p.ParseTTN([]byte(body), DefaultTTNFields, &b)
		if err == nil || err.Error() != wantErr {
			t.Fatalf("ParseTTN(%q): error %v, want %q", body, err, wantErr)
		}
		if b.Total() != 0 {
			t.Fatalf("ParseTTN(%q): batch %+v after error", body, b)
		}
	}
	f(``, `malformed JSON at offset 0: unexpected end of input, expected a value`)
	f(`{"end_device_ids": {"dev_eui": "00"}`, `malformed JSON at offset 36: unexpected end of input, expected ',' or '}' after an object value`)
	f(`[{"end_device_ids": {}}]`, `body must be a JSON object (a The Things Network v3 uplink message), not an array`)
	f(`"uplink"`, `body must be a JSON object (a The Things Network v3 uplink message), not a string`)
}

func TestParseNumericString(t *testing.T) {
	f := func(s string, want float64, wantOK bool) {
		t.Helper()
		got, ok := parseNumericString([]byte(s))
		if ok != wantOK || (ok && !(got == want || math.IsNaN(got) && math.IsNaN(want))) {
			t.Fatalf("parseNumericString(%q) = %v, %v; want %v, %v", s, got, ok, want, wantOK)
		}
	}
	f("21.5", 21.5, true)
	f("-0.25", -0.25, true)
	f("+3", 3, true)
	f("5.", 5, true)
	f(".5", 0.5, true)
	f(" 7 ", 7, true)
	f("1e2", 100, true)
	f("1E-2", 0.01, true)
	f("007", 7, true)
	f("NaN", math.NaN(), true)
	f("nan", math.NaN(), true)
	f("inf", math.Inf(1), true)
	f("-Infinity", math.Inf(-1), true)
	f("1e999", math.Inf(1), true)
	f("-1e999", math.Inf(-1), true)
	f("1e-999", 0, true)
	f("", 0, false)
	f(" ", 0, false)
	f(".", 0, false)
	f("-", 0, false)
	f("e5", 0, false)
	f("1e", 0, false)
	f("1e+", 0, false)
	f("0x10", 0, false)
	f("1_000", 0, false)
	f("21.5 C", 0, false)
	f("Good", 0, false)
	f("1.2.3", 0, false)
	f("infinite", 0, false)
	f("++1", 0, false)
}
