package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// sameReading compares readings, NaN equal to NaN.
func sameReading(a, b Reading) bool {
	eq := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return bytes.Equal(a.Sensor, b.Sensor) && a.TimeMicros == b.TimeMicros &&
		eq(a.TempC, b.TempC) && eq(a.Humidity, b.Humidity) && eq(a.Battery, b.Battery) && a.Door == b.Door
}

func fmtReading(r Reading) string {
	return fmt.Sprintf("{Sensor:%q Time:%s TempC:%v Humidity:%v Battery:%v Door:%d}", r.Sensor,
		time.UnixMicro(r.TimeMicros).UTC().Format(time.RFC3339Nano), r.TempC, r.Humidity, r.Battery, r.Door)
}

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func TestParseJSONReading(t *testing.T) {
	var p Parser
	f := func(item string, want Reading) {
		t.Helper()
		var b Batch
		body := `{"readings":[` + item + `]}`
		if err := p.ParseJSON([]byte(body), &b); err != nil {
			t.Fatalf("ParseJSON(%s): error %v", body, err)
		}
		if len(b.Rejected) != 0 || len(b.Readings) != 1 || len(b.Index) != 1 || b.Index[0] != 0 {
			t.Fatalf("ParseJSON(%s): got %+v, want one reading", body, b)
		}
		if !sameReading(b.Readings[0], want) {
			t.Fatalf("ParseJSON(%s):\n got %s\nwant %s", body, fmtReading(b.Readings[0]), fmtReading(want))
		}
	}
	r := func(sensor string, us int64, temp, hum, bat float64) Reading {
		return Reading{Sensor: []byte(sensor), TimeMicros: us, TempC: temp, Humidity: hum, Battery: bat}
	}
	t0 := micros("2026-11-26T03:04:05Z")

	// All fields, then each optional one absent or null.
	f(`{"sensor":"FT-0001","time":"2026-11-26T03:04:05Z","temp_c":3.5,"humidity":61.2,"battery":87}`, r("FT-0001", t0, 3.5, 61.2, 87))
	f(`{"sensor":"FT-0001","time":"2026-11-26T03:04:05Z","temp_c":3.5}`, r("FT-0001", t0, 3.5, Absent, Absent))
	f(`{"sensor":"FT-0001","time":"2026-11-26T03:04:05Z","temp_c":3.5,"humidity":null,"battery":null}`, r("FT-0001", t0, 3.5, Absent, Absent))
	f(`{"battery":0,"humidity":0,"temp_c":0,"time":"2026-11-26T03:04:05Z","sensor":"s"}`, r("s", t0, 0, 0, 0))
	f(` { "sensor" : "s" , "time" : "2026-11-26T03:04:05Z" , "temp_c" : -18 } `, r("s", t0, -18, Absent, Absent))
	f("{\"sensor\":\"s\",\r\n\t\"time\":\"2026-11-26T03:04:05Z\",\n\"temp_c\":-18}", r("s", t0, -18, Absent, Absent))

	// RFC 3339 variants.
	f(`{"sensor":"s","time":"2026-11-26T03:04:05.1Z","temp_c":1}`, r("s", t0+100000, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26T03:04:05.123Z","temp_c":1}`, r("s", t0+123000, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26T03:04:05.123456Z","temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26T03:04:05.123456789Z","temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26T03:04:05.1234567891234Z","temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26T04:04:05.123456789+01:00","temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-25T21:34:05-05:30","temp_c":1}`, r("s", t0, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26T03:04:05-00:00","temp_c":1}`, r("s", t0, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026-11-26t03:04:05z","temp_c":1}`, r("s", t0, 1, Absent, Absent))
	f(`{"sensor":"s","time":"2024-02-29T00:00:00Z","temp_c":1}`, r("s", micros("2024-02-29T00:00:00Z"), 1, Absent, Absent))
	f(`{"sensor":"s","time":"2026\u002d11-26T03:04:05Z","temp_c":1}`, r("s", t0, 1, Absent, Absent))

	// Unix milliseconds.
	f(`{"sensor":"s","time":1795662245000,"temp_c":1}`, r("s", t0, 1, Absent, Absent))
	f(`{"sensor":"s","time":1795662245123.456,"temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":1795662245123.4569,"temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":1.795662245123e12,"temp_c":1}`, r("s", t0+123000, 1, Absent, Absent))
	f(`{"sensor":"s","time":1795662245123456E-3,"temp_c":1}`, r("s", t0+123456, 1, Absent, Absent))
	f(`{"sensor":"s","time":0,"temp_c":1}`, r("s", 0, 1, Absent, Absent))
	f(`{"sensor":"s","time":-1.5,"temp_c":1}`, r("s", -1500, 1, Absent, Absent))
	f(`{"sensor":"s","time":-0.0001,"temp_c":1}`, r("s", -1, 1, Absent, Absent))

	// Numbers.
	f(`{"sensor":"s","time":0,"temp_c":-0.5,"humidity":1e1,"battery":5E-1}`, r("s", 0, -0.5, 10, 0.5))
	f(`{"sensor":"s","time":0,"temp_c":63.45000000000000000001}`, r("s", 0, 63.45, Absent, Absent))
	f(`{"sensor":"s","time":0,"temp_c":1e-400}`, r("s", 0, 0, Absent, Absent))

	// Unknown fields of every type are ignored; the last duplicate wins.
	f(`{"sensor":"s","time":0,"temp_c":1,"unit":"C","meta":{"fw":"1.2","x":[1,{"y":null}]},"ok":true,"n":null}`, r("s", 0, 1, Absent, Absent))
	f(`{"sensor":"a","time":0,"temp_c":1,"sensor":"b","temp_c":2}`, r("b", 0, 2, Absent, Absent))
	f(`{"Sensor":"x","sensor":"s","TEMP_C":9,"time":0,"temp_c":1}`, r("s", 0, 1, Absent, Absent))
	f(`{"sensorX":"x","sensor":"s","timeX":1,"time":0,"temp":5,"temp_c":1,"humidity ":5,"batteryy":1,"t":2,"":3,"s":4}`, r("s", 0, 1, Absent, Absent))
	f(`{"sensor"`+"\t:\n"+`"s","time"`+"\r\n:"+`0,"temp_c" :1}`, r("s", 0, 1, Absent, Absent))

	// Escapes in strings and keys.
	f(`{"sensor":"a\u00e9b","time":0,"temp_c":1}`, r("aéb", 0, 1, Absent, Absent))
	f(`{"sensor":"a\"b\\c\/d","time":0,"temp_c":1}`, r(`a"b\c/d`, 0, 1, Absent, Absent))
	f(`{"sensor":"\ud83e\uddca fridge","time":0,"temp_c":1}`, r("🧊 fridge", 0, 1, Absent, Absent))
	f(`{"sensor":"kühl-raum №2","time":0,"temp_c":1}`, r("kühl-raum №2", 0, 1, Absent, Absent))
	f(`{"\u0073ensor":"s","time":0,"temp\u005fc":1}`, r("s", 0, 1, Absent, Absent))
	f(`{"sensor":"`+strings.Repeat("x", 128)+`","time":0,"temp_c":1}`, r(strings.Repeat("x", 128), 0, 1, Absent, Absent))
	f(`{"sensor":"`+strings.Repeat("é", 64)+`","time":0,"temp_c":1}`, r(strings.Repeat("é", 64), 0, 1, Absent, Absent))
}

func TestParseJSONRejections(t *testing.T) {
	var p Parser
	f := func(item, wantReason string) {
		t.Helper()
		var b Batch
		body := `{"readings":[` + item + `]}`
		if err := p.ParseJSON([]byte(body), &b); err != nil {
			t.Fatalf("ParseJSON(%s): error %v", body, err)
		}
		if len(b.Readings) != 0 || len(b.Index) != 0 || len(b.Rejected) != 1 {
			t.Fatalf("ParseJSON(%s): got %+v, want one rejection", body, b)
		}
		if got := b.Rejected[0]; got.Index != 0 || got.Reason != wantReason {
			t.Fatalf("ParseJSON(%s): got %+v, want reason %q", body, got, wantReason)
		}
	}
	const (
		notObject     = `reading must be a JSON object`
		missingSensor = `missing "sensor"`
		badSensor     = `"sensor" must be a non-empty string of at most 128 bytes`
		sensorChars   = `"sensor" must be valid UTF-8 without control characters`
		missingTime   = `missing "time"`
		badTime       = `"time" must be an RFC 3339 timestamp or unix milliseconds`
		missingTemp   = `missing "temp_c"`
		badTemp       = `"temp_c" must be a number`
		tempFinite    = `"temp_c" must be finite`
		badHumidity   = `"humidity" must be a number`
		humFinite     = `"humidity" must be finite`
		badBattery    = `"battery" must be a number`
		batFinite     = `"battery" must be finite`
	)
	f(`42`, notObject)
	f(`"FT-0001"`, notObject)
	f(`null`, notObject)
	f(`[{"sensor":"s","time":0,"temp_c":1}]`, notObject)
	f(`true`, notObject)

	f(`{}`, missingSensor) // the first problem is reported
	f(`{"time":0,"temp_c":1}`, missingSensor)
	f(`{"sensor":null,"time":0,"temp_c":1}`, missingSensor)
	f(`{"sensor":"","time":0,"temp_c":1}`, badSensor)
	f(`{"sensor":42,"time":0,"temp_c":1}`, badSensor)
	f(`{"sensor":["s"],"time":0,"temp_c":1}`, badSensor)
	f(`{"sensor":"`+strings.Repeat("x", 129)+`","time":0,"temp_c":1}`, badSensor)
	f(`{"sensor":"`+strings.Repeat("é", 65)+`","time":0,"temp_c":1}`, badSensor)
	f(`{"sensor":"a\u0000b","time":0,"temp_c":1}`, sensorChars)
	f(`{"sensor":"a\nb","time":0,"temp_c":1}`, sensorChars)
	f(`{"sensor":"a\u007fb","time":0,"temp_c":1}`, sensorChars)
	f(`{"sensor":"a\u0085b","time":0,"temp_c":1}`, sensorChars)

	f(`{"sensor":"s","temp_c":1}`, missingTime)
	f(`{"sensor":"s","time":null,"temp_c":1}`, missingTime)
	f(`{"sensor":"s","time":true,"temp_c":1}`, badTime)
	f(`{"sensor":"s","time":{},"temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"1795662245000","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26 03:04:05Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05.Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05,123Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T3:04:05Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-13-26T03:04:05Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-02-29T03:04:05Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-04-31T03:04:05Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T24:00:00Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T23:59:60Z","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05+24:00","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05+0100","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05 +01:00","temp_c":1}`, badTime)
	f(`{"sensor":"s","time":1e20,"temp_c":1}`, badTime)
	f(`{"sensor":"s","time":-1e15,"temp_c":1}`, badTime)
	f(`{"sensor":"s","time":1e999999,"temp_c":1}`, badTime)

	f(`{"sensor":"s","time":0}`, missingTemp)
	f(`{"sensor":"s","time":0,"temp_c":null}`, missingTemp)
	f(`{"sensor":"s","time":0,"temp_C":1}`, missingTemp)
	f(`{"sensor":"s","time":0,"temp_c":"3.5"}`, badTemp)
	f(`{"sensor":"s","time":0,"temp_c":false}`, badTemp)
	f(`{"sensor":"s","time":0,"temp_c":[3.5]}`, badTemp)
	f(`{"sensor":"s","time":0,"temp_c":1e999}`, tempFinite)
	f(`{"sensor":"s","time":0,"temp_c":-1e400}`, tempFinite)

	f(`{"sensor":"s","time":0,"temp_c":1,"humidity":"40"}`, badHumidity)
	f(`{"sensor":"s","time":0,"temp_c":1,"humidity":{}}`, badHumidity)
	f(`{"sensor":"s","time":0,"temp_c":1,"humidity":1e309}`, humFinite)
	f(`{"sensor":"s","time":0,"temp_c":1,"battery":"full"}`, badBattery)
	f(`{"sensor":"s","time":0,"temp_c":1,"battery":true}`, badBattery)
	f(`{"sensor":"s","time":0,"temp_c":1,"battery":-1e309}`, batFinite)
}

// TestParseJSONStrict checks that tokens some JSON parsers tolerate (and
// fastjson does) are refused, wherever they are in the body.
func TestParseJSONStrict(t *testing.T) {
	var p Parser
	f := func(item, wantErr string) {
		t.Helper()
		var b Batch
		body := `{"readings":[` + item + `]}`
		err := p.ParseJSON([]byte(body), &b)
		if err == nil || err.Error() != wantErr {
			t.Fatalf("ParseJSON(%s):\n got error %v\nwant %s", body, err, wantErr)
		}
		if b.Total() != 0 {
			t.Fatalf("ParseJSON(%s): batch %+v after error", body, b)
		}
	}
	const r = `{"sensor":"s","time":0,"temp_c":` // the value is at offset 45
	f(r+`NaN}`, `malformed JSON at offset 45: unexpected 'N', expected a value (in readings[0].temp_c)`)
	f(r+`nan}`, `malformed JSON at offset 45: unexpected 'n', expected a value (in readings[0].temp_c)`)
	f(r+`-nan}`, `malformed JSON at offset 46: unexpected 'n', expected a digit (in readings[0].temp_c)`)
	f(r+`inf}`, `malformed JSON at offset 45: unexpected 'i', expected a value (in readings[0].temp_c)`)
	f(r+`-Infinity}`, `malformed JSON at offset 46: unexpected 'I', expected a digit (in readings[0].temp_c)`)
	f(r+`+1}`, `malformed JSON at offset 45: unexpected '+', expected a value (in readings[0].temp_c)`)
	f(r+`01}`, `malformed JSON at offset 46: unexpected digit after a leading zero (in readings[0].temp_c)`)
	f(r+`-01}`, `malformed JSON at offset 47: unexpected digit after a leading zero (in readings[0].temp_c)`)
	f(r+`1.}`, `malformed JSON at offset 47: unexpected '}', expected a digit after the decimal point (in readings[0].temp_c)`)
	f(r+`.5}`, `malformed JSON at offset 45: unexpected '.', expected a value (in readings[0].temp_c)`)
	f(r+`1e}`, `malformed JSON at offset 47: unexpected '}', expected a digit in the exponent (in readings[0].temp_c)`)
	f(r+`1e+}`, `malformed JSON at offset 48: unexpected '}', expected a digit in the exponent (in readings[0].temp_c)`)
	f(r+`1.2.3}`, `malformed JSON at offset 48: unexpected '.', expected ',' or '}' after an object value (in readings[0])`)
	f(r+`--1}`, `malformed JSON at offset 46: unexpected '-', expected a digit (in readings[0].temp_c)`)
	f(r+`1-2}`, `malformed JSON at offset 46: unexpected '-', expected ',' or '}' after an object value (in readings[0])`)
	f(r+`0x10}`, `malformed JSON at offset 46: unexpected 'x', expected ',' or '}' after an object value (in readings[0])`)
	f(r+`1,"x":--}`, `malformed JSON at offset 52: unexpected '-', expected a digit (in readings[0].x)`)
	f(r+`1,"x":TRUE}`, `malformed JSON at offset 51: unexpected 'T', expected a value (in readings[0].x)`)
	f(r+`1,"x":nul}`, `malformed JSON at offset 51: unexpected 'n', expected a value (in readings[0].x)`)
	f(r+`1,"x":"a`+"\x01"+`"}`, `malformed JSON at offset 53: control character 0x01 in string (must be escaped) (in readings[0].x)`)
	f(r+`1,"x":"\q"}`, `malformed JSON at offset 52: invalid escape "\\q" in string (in readings[0].x)`)
	f(r+`1,"x":"\u00e"}`, `malformed JSON at offset 52: invalid \u escape in string (want 4 hex digits) (in readings[0].x)`)
	f(r+`1,"x`+"\n"+`":1}`, `malformed JSON at offset 49: control character 0x0A in string (must be escaped) (in readings[0])`)
	f(`{"sensor":"a`+"\t"+`b","time":0,"temp_c":1}`, `malformed JSON at offset 25: control character 0x09 in string (must be escaped) (in readings[0].sensor)`)
	f(`{"sensor":"a\xb","time":0,"temp_c":1}`, `malformed JSON at offset 25: invalid escape "\\x" in string (in readings[0].sensor)`)
	f(`{"sensor":"s","time":"2026-11-26T03:04:05Z`+"\t"+`","temp_c":1}`, `malformed JSON at offset 55: control character 0x09 in string (must be escaped) (in readings[0].time)`)
	f(`{"sensor":"s",}`, `malformed JSON at offset 27: unexpected '}', expected a string (an object key) (in readings[0])`)
	f(`{"sensor":"s" "time":0}`, `malformed JSON at offset 27: unexpected '"', expected ',' or '}' after an object value (in readings[0])`)
	f(`{"sensor"}`, `malformed JSON at offset 22: unexpected '}', expected ':' after an object key (in readings[0])`)
	f(`{sensor:1}`, `malformed JSON at offset 14: unexpected 's', expected a string (an object key) (in readings[0])`)
	f(`{"sensor":"s"},`, `malformed JSON at offset 28: unexpected ']', expected a value (in readings[1])`)
}

func TestParseJSONBatch(t *testing.T) {
	var p Parser
	var b Batch
	body := `{"note":"first", "readings":[
		{"sensor":"a","time":"2026-11-26T03:04:05Z","temp_c":1},
		{"sensor":"b","time":"2026-11-26T03:04:05Z"},
		7,
		{"sensor":"c","time":1795662245000,"temp_c":3,"battery":50},
		{"sensor":"d","time":"bad","temp_c":4}
	], "extra": [1,2,3]}`
	b.Readings = append(b.Readings, Reading{Sensor: []byte("earlier")}) // ParseJSON appends
	b.Index = append(b.Index, 99)
	if err := p.ParseJSON([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, r := range b.Readings {
		got = append(got, fmt.Sprintf("%d:%s", b.Index[i], r.Sensor))
	}
	if want := "99:earlier 0:a 3:c"; strings.Join(got, " ") != want {
		t.Fatalf("readings %q, want %q", got, want)
	}
	wantRej := []Rejection{{Index: 1, Reason: `missing "temp_c"`}, {Index: 2, Reason: `reading must be a JSON object`}, {Index: 4, Reason: `"time" must be an RFC 3339 timestamp or unix milliseconds`}}
	if fmt.Sprint(b.Rejected) != fmt.Sprint(wantRej) {
		t.Fatalf("rejected %v, want %v", b.Rejected, wantRej)
	}

	b.Reset()
	if err := p.ParseJSON([]byte(`{"readings":[]}`), &b); err != nil || b.Total() != 0 {
		t.Fatalf("empty readings: %v %+v", err, b)
	}

	// An escaped "readings" is the same name; the last one counts.
	b.Reset()
	body = `{"readings":[{"sensor":"x","time":0,"temp_c":1}],"\u0072eadings":[7,{"sensor":"y","time":0,"temp_c":1}]}`
	if err := p.ParseJSON([]byte(body), &b); err != nil || summary(b) != "1:y !0:reading must be a JSON object" {
		t.Fatalf("escaped readings: %v %s", err, summary(b))
	}
}

func TestParseJSONErrors(t *testing.T) {
	var p Parser
	f := func(body, wantErr string) {
		t.Helper()
		var b Batch
		err := p.ParseJSON([]byte(body), &b)
		if err == nil || err.Error() != wantErr {
			t.Fatalf("ParseJSON(%q):\n got error %v\nwant %q", body, err, wantErr)
		}
		if b.Total() != 0 {
			t.Fatalf("ParseJSON(%q): batch %+v after error", body, b)
		}
	}
	f(``, `empty body: expected an object with a "readings" array`)
	f(" \r\n\t", `empty body: expected an object with a "readings" array`)
	f(`not json`, `malformed JSON at offset 0: unexpected 'n', expected a value`)
	f(`{"readings":[{"sensor" "a"}]}`, `malformed JSON at offset 23: unexpected '"', expected ':' after an object key (in readings[0])`)
	f(`{"readings":[{"sensor":"a",}]}`, `malformed JSON at offset 27: unexpected '}', expected a string (an object key) (in readings[0])`)
	f(`{"readings":[{"sensor":"a"}`, `malformed JSON at offset 27: unexpected end of input, expected ',' or ']' after an array element (in readings)`)
	f(`{"readings":[1 2]}`, `malformed JSON at offset 15: unexpected '2', expected ',' or ']' after an array element (in readings)`)
	f(`{"readings":[]} {}`, `malformed JSON at offset 16: unexpected '{' after the end of the JSON value`)
	f(`{"readings":[{"temp_c":-Infinity}]}`, `malformed JSON at offset 24: unexpected 'I', expected a digit (in readings[0].temp_c)`)
	f(`{"readings":[{"temp_c":tru}]}`, `malformed JSON at offset 23: unexpected 't', expected a value (in readings[0].temp_c)`)
	f(`{"readings":[{"temp_c":-}]}`, `malformed JSON at offset 24: unexpected '}', expected a digit (in readings[0].temp_c)`)
	f(`{"readings":[{"temp_c":1}`+"\x00"+`]}`, `malformed JSON at offset 25: unexpected byte 0x00, expected ',' or ']' after an array element (in readings)`)
	f(`{"readings":[{"sensor":"abc`, `malformed JSON at offset 23: unterminated string (in readings[0].sensor)`)
	// JSON text is UTF-8: an invalid byte or an unpaired surrogate escape
	// fails the body, naming where, even in a member ingest ignores.
	f("{\"readings\":[{\"sensor\":\"a\xffb\",\"time\":0,\"temp_c\":1}]}",
		`malformed JSON at offset 25: invalid UTF-8 byte 0xFF in string (JSON text must be UTF-8) (in readings[0].sensor)`)
	f("{\"readings\":[{\"sensor\":\"a\xed\xa0\x80b\",\"time\":0,\"temp_c\":1}]}", // a UTF-8-encoded surrogate
		`malformed JSON at offset 25: invalid UTF-8 byte 0xED in string (JSON text must be UTF-8) (in readings[0].sensor)`)
	f("{\"readings\":[{\"sensor\":\"s\",\"time\":0,\"temp_c\":1},{\"sensor\":\"s\",\"time\":0,\"temp_c\":1,\"note\":{\"by\":[\"ok\",\"caf\xe9\"]}}]}",
		`malformed JSON at offset 105: invalid UTF-8 byte 0xE9 in string (JSON text must be UTF-8) (in readings[1].note.by[1])`)
	f(`{"readings":[{"sensor":"s","time":0,"temp_c":1,"note":"\ud83c"}]}`,
		`malformed JSON at offset 55: unpaired UTF-16 surrogate \ud83c in string (in readings[0].note)`)
	f(`{"readings":[{"sensor":"s","time":0,"temp_c":1,"note":"\udf66\ud83c"}]}`,
		`malformed JSON at offset 55: unpaired UTF-16 surrogate \udf66 in string (in readings[0].note)`)
	f("{\"meta\":\"\xff\",\"readings\":[]}", `malformed JSON at offset 9: invalid UTF-8 byte 0xFF in string (JSON text must be UTF-8) (in meta)`)
	f(`{'readings':[]}`, `malformed JSON at offset 1: unexpected ''', expected a string (an object key)`)
	f("\xef\xbb\xbf{\"readings\":[]}", `malformed JSON at offset 0: unexpected byte 0xEF, expected a value`)
	f(strings.Repeat("[", 301)+strings.Repeat("]", 301), `malformed JSON at offset 300: nesting deeper than 300 levels (in [0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0])`)

	f(`[]`, `body must be an object with a "readings" array, not an array`)
	f(`"readings"`, `body must be an object with a "readings" array, not a string`)
	f(`12`, `body must be an object with a "readings" array, not a number`)
	f(`null`, `body must be an object with a "readings" array, not null`)
	f(`{}`, `body must be an object with a "readings" array; "readings" is missing`)
	f(`{"Readings":[]}`, `body must be an object with a "readings" array; "readings" is missing`)
	f(`{"readings":{"sensor":"a"}}`, `body must be an object with a "readings" array; "readings" is an object`)
	f(`{"readings":null}`, `body must be an object with a "readings" array; "readings" is null`)
	f(`{"readings":[],"readings":"x"}`, `body must be an object with a "readings" array; "readings" is a string`)
}

func TestParseNDJSON(t *testing.T) {
	var p Parser
	f := func(body string, want string) {
		t.Helper()
		var b Batch
		if err := p.ParseNDJSON([]byte(body), &b); err != nil {
			t.Fatalf("ParseNDJSON(%q): error %v", body, err)
		}
		if got := summary(b); got != want {
			t.Fatalf("ParseNDJSON(%q):\n got %s\nwant %s", body, got, want)
		}
	}
	a := `{"sensor":"a","time":"2026-11-26T03:04:05Z","temp_c":1}`
	bb := `{"sensor":"b","time":1795662245000,"temp_c":2,"humidity":50}`
	c := `{"sensor":"c","time":"2026-11-26T03:04:05Z","temp_c":3}`
	f(``, ``)
	f("\n\n\r\n  \n", ``)
	f(a, `0:a`)
	f(a+"\n", `0:a`)
	f(a+"\n"+bb+"\n"+c+"\n", `0:a 1:b 2:c`)
	f(a+"\r\n"+bb+"\r\n"+c, `0:a 1:b 2:c`)
	f("\n"+a+"\n\n  \t\n"+bb+"\r\n\r\n"+c+"\n\n", `0:a 1:b 2:c`)
	f("  "+a+"  \t\r\n", `0:a`)
	f(a+"\n"+`{"sensor":"x","time":0,`+"\n"+c, `0:a 2:c !1:malformed JSON: unexpected end of input, expected a string (an object key) at offset 23`)
	f(a+"\nnot json\n"+c, `0:a 2:c !1:malformed JSON: unexpected 'n', expected a value at offset 0`)
	f(a+"\n"+`{"sensor":"x","temp_c":}`+"\n"+c, `0:a 2:c !1:malformed JSON: unexpected '}', expected a value at offset 23 (in temp_c)`)
	f(a+" "+c, `!0:malformed JSON: unexpected '{' after the end of the JSON value at offset 56`)
	f(a+"\n[1]\n"+`{"sensor":"b","time":0}`+"\n"+c, `0:a 3:c !1:reading must be a JSON object !2:missing "temp_c"`)
	f(`{"readings":[`+a+`]}`, `!0:missing "sensor"`)
	f("\xef\xbb\xbf"+a, `!0:malformed JSON: unexpected byte 0xEF, expected a value at offset 0`)
	f(a+"\n"+`{"sensor":"x","time":0,"temp_c":1,"note":"`+"\xff"+`"}`+"\n"+c,
		`0:a 2:c !1:malformed JSON: invalid UTF-8 byte 0xFF in string (JSON text must be UTF-8) at offset 42 (in note)`)
	// A line break inside a string is not allowed in JSON, so it splits lines.
	f(`{"sensor":"a`+"\n"+`b","time":0,"temp_c":1}`, `!0:malformed JSON: unterminated string at offset 10 (in sensor) !1:malformed JSON: unexpected 'b', expected a value at offset 0`)
}

func TestKnownKeyWords(t *testing.T) {
	f := func(s, want string) {
		t.Helper()
		if got := knownKey([]byte(s)); got != want {
			t.Fatalf("knownKey(%q) = %q, want %q", s, got, want)
		}
	}
	for _, k := range []string{"sensor", "time", "temp_c", "humidity", "battery"} {
		f(k+`": 1234567`, k)
		f(k+`":1}`+strings.Repeat(" ", 4), k)
		f(k+`x": 1234567`, "")
		f(k[:len(k)-1]+`": 1234567`, "")
		f(strings.ToUpper(k)+`": 1234567`, "")
	}
	f(`humidity`, "") // too short to tell
	f(`time":1}`, "") // too short to tell: the slow path decides
	f(`timestamp": 1`, "")
	f(`temp": 12345678`, "")
	f(`sensors": 123456`, "")
}

// summary prints a batch as "index:sensor ... !index:reason ...".
func summary(b Batch) string {
	var parts []string
	for i, r := range b.Readings {
		parts = append(parts, fmt.Sprintf("%d:%s", b.Index[i], r.Sensor))
	}
	for _, r := range b.Rejected {
		parts = append(parts, fmt.Sprintf("!%d:%s", r.Index, r.Reason))
	}
	return strings.Join(parts, " ")
}

// TestSensorSlicesStable checks that the Sensor of every reading still holds
// its own id after the whole body has been parsed (later readings, rejected
// readings and a growing arena must not overwrite earlier ids), and that the
// ids do not alias the body, which the caller may reuse.
func TestSensorSlicesStable(t *testing.T) {
	const n = 3000
	ids := make([]string, n)
	var jsonBody, ndBody bytes.Buffer
	jsonBody.WriteString(`{"readings":[`)
	for i := range ids {
		switch i % 4 {
		case 0:
			ids[i] = fmt.Sprintf("FT-%05d", i)
		case 1:
			ids[i] = fmt.Sprintf("caf\u00e9-%d-\"q\"", i) // escaped below
		case 2:
			ids[i] = fmt.Sprintf("%d-%s", i, strings.Repeat("z", i%100))
		default:
			ids[i] = fmt.Sprintf("\U0001F9CA/%d\\x", i)
		}
		idJSON, _ := json.Marshal(ids[i])
		if i%4 == 1 {
			idJSON = bytes.ReplaceAll(idJSON, []byte("é"), []byte(`\u00e9`))
		}
		item := fmt.Sprintf(`{"sensor":%s,"time":%d,"temp_c":%d}`, idJSON, 1795662245000+i, i%50)
		if i%7 == 3 { // rejected after its id was copied
			item = fmt.Sprintf(`{"sensor":%s,"time":"bad","temp_c":1}`, idJSON)
		}
		if i > 0 {
			jsonBody.WriteByte(',')
		}
		jsonBody.WriteString(item)
		ndBody.WriteString(item + "\n")
	}
	jsonBody.WriteString(`]}`)

	check := func(name string, body []byte, parse func(*Parser, []byte, *Batch) error) {
		t.Helper()
		var p Parser
		var b Batch
		// Parse something else first, so buffers are reused.
		if err := parse(&p, []byte(`{"readings":[{"sensor":"warm-up","time":0,"temp_c":1}]}`+"\n"), &b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		if err := parse(&p, body, &b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		clear(body) // the caller may reuse the body
		if len(b.Readings) != n-(n+3)/7 || len(b.Rejected) != (n+3)/7 {
			t.Fatalf("%s: %d readings, %d rejected", name, len(b.Readings), len(b.Rejected))
		}
		for i, r := range b.Readings {
			if string(r.Sensor) != ids[b.Index[i]] {
				t.Fatalf("%s: reading %d: sensor %q, want %q", name, i, r.Sensor, ids[b.Index[i]])
			}
		}
	}
	check("ParseJSON", bytes.Clone(jsonBody.Bytes()), (*Parser).ParseJSON)
	check("ParseNDJSON", bytes.Clone(ndBody.Bytes()), (*Parser).ParseNDJSON)

	// ParseTTN: the upper-cased id survives clearing the body.
	var p Parser
	var b Batch
	body := []byte(ttnBody(`{"temperature":1}`))
	if err := p.ParseTTN(body, DefaultTTNFields, &b); err != nil || len(b.Readings) != 1 {
		t.Fatalf("ParseTTN: %v %+v", err, b)
	}
	clear(body)
	if got := string(b.Readings[0].Sensor); got != "A84041000181B6F1" {
		t.Fatalf("ParseTTN sensor %q after clearing the body", got)
	}
}

func TestParserPool(t *testing.T) {
	var pool ParserPool
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for i := range 200 {
				p := pool.Get()
				b.Reset()
				sensor := fmt.Sprintf("g%d-r%d", g, i)
				body := fmt.Sprintf(`{"readings":[{"sensor":%q,"time":%d,"temp_c":%d}]}`, sensor, i, g)
				var err error
				switch i % 3 {
				case 0:
					err = p.ParseJSON([]byte(body), &b)
				case 1:
					err = p.ParseNDJSON([]byte(body[len(`{"readings":[`):len(body)-2]), &b)
				default:
					err = p.ParseTTN([]byte(ttnBody(fmt.Sprintf(`{"temp":%d}`, g))), DefaultTTNFields, &b)
					sensor = "A84041000181B6F1"
				}
				if err != nil || len(b.Readings) != 1 || string(b.Readings[0].Sensor) != sensor || b.Readings[0].TempC != float64(g) {
					t.Errorf("goroutine %d, body %d: %v %+v", g, i, err, b)
					return
				}
				pool.Put(p)
			}
		}()
	}
	wg.Wait()
	pool.Put(nil) // ignored

	// A Parser that decoded a huge TTN body is not kept.
	p := pool.Get()
	big := []byte(ttnBody(`{"temperature":1,"pad":"` + strings.Repeat("x", maxPooledParserBuffer) + `"}`))
	var b Batch
	if err := p.ParseTTN(big, DefaultTTNFields, &b); err != nil || len(b.Readings) != 1 {
		t.Fatal(err, b)
	}
	if p.fjSize <= maxPooledParserBuffer {
		t.Fatalf("fjSize %d after a %d-byte body", p.fjSize, len(big))
	}
	pool.Put(p)
	if q := pool.Get(); q == p {
		t.Fatal("pool kept a Parser with a huge buffer")
	}
}

// TestParseNoAllocs checks the amortised zero-allocation promise: once a
// Parser and Batch have grown, parsing a body again allocates nothing.
func TestParseNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	jsonBody := benchJSONBody(200)
	doorBody := []byte(`{"readings":[{"sensor":"s","time":1795662245000,"temp_c":4,"door_open":true},{"sensor":"t","time":1795662245000,"temp_c":4,"door_open":false}]}`)
	ndBody := benchNDJSONBody(200)
	ttn := benchTTNBodies(4)
	// FreshTrack Pro's spellings: an EUI with separators, °F, millivolts,
	// a device_id without dev_eui.
	ttn = append(ttn,
		[]byte(ttnUplink("70:b3:d5:7e:d0:05:a1:b2", "d", ttnTime, 1, `{"temperature_f":39.2,"rh":48,"bat_v":3900}`)),
		[]byte(`{"end_device_ids":{"device_id":"walk-in-2"},"received_at":"2026-11-26T03:04:05Z","uplink_message":{"decoded_payload":{"temp":1,"batt":40}}}`),
		// A contact sensor's door state alone, and one with a temperature.
		[]byte(ttnBody(`{"DOOR_OPEN_STATUS": 1, "BAT_V": 3.05}`)),
		[]byte(ttnBody(`{"temperature": 4, "door_status": "Closed"}`)))
	var p Parser
	var b Batch
	f := func(name string, run func()) {
		t.Helper()
		run() // grow
		if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
			t.Errorf("%s: %v allocations per body, want 0", name, allocs)
		}
	}
	f("ParseJSON", func() {
		b.Reset()
		if err := p.ParseJSON(jsonBody, &b); err != nil || len(b.Readings) != 200 {
			t.Fatal(err, b.Rejected)
		}
	})
	f("ParseJSON door_open", func() {
		b.Reset()
		if err := p.ParseJSON(doorBody, &b); err != nil || len(b.Readings) != 2 {
			t.Fatal(err, b.Rejected)
		}
	})
	f("ParseNDJSON", func() {
		b.Reset()
		if err := p.ParseNDJSON(ndBody, &b); err != nil || len(b.Readings) != 200 {
			t.Fatal(err, b.Rejected)
		}
	})
	f("ParseTTN", func() {
		for _, body := range ttn {
			b.Reset()
			if err := p.ParseTTN(body, DefaultTTNFields, &b); err != nil || len(b.Readings) != 1 {
				t.Fatal(err, b.Rejected)
			}
		}
	})
	lim := DefaultLimits()
	r := Reading{Sensor: []byte("s"), TimeMicros: 1795662245000000, TempC: 4, Humidity: 50, Battery: Absent}
	f("Limits.Check", func() {
		if reason := lim.Check(&r, 1795662245000000); reason != "" {
			t.Fatal(reason)
		}
	})
}

func TestBenchBodiesAgreeWithEncodingJSON(t *testing.T) {
	// The benchmark compares like with like: both decoders see the same
	// readings.
	body := benchJSONBody(300)
	var p Parser
	var b Batch
	if err := p.ParseJSON(body, &b); err != nil || len(b.Readings) != 300 {
		t.Fatal(err, b.Rejected)
	}
	var v struct {
		Readings []ejReading `json:"readings"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	for i, r := range b.Readings {
		e := v.Readings[i]
		want := Reading{Sensor: []byte(e.Sensor), TimeMicros: e.Time.UnixMicro(), TempC: *e.TempC, Humidity: Absent, Battery: Absent}
		if e.Humidity != nil {
			want.Humidity = *e.Humidity
		}
		if e.Battery != nil {
			want.Battery = *e.Battery
		}
		if !sameReading(r, want) {
			t.Fatalf("reading %d: %s, encoding/json %s", i, fmtReading(r), fmtReading(want))
		}
	}
}
