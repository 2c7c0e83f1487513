package api

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/freshtrack/freshtrack/internal/httpbody"
)

// FuzzResourceBody feeds what a client may send to POST and PATCH of every
// resource (sites, areas, units, sensors, contacts, alert rules, ...)
// through the same steps as a request: the router's body check, then the
// resource's decoding and field conversion. Nothing may panic, and every
// text value that would be stored is valid UTF-8 without NUL, so that a
// write can fail only with a field error, never with a database error.
// Seed corpus: testdata/fuzz/FuzzResourceBody.
func FuzzResourceBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"Walk-in 1","kind":"fridge","safe_min_c":0,"safe_max_c":5}`,
		`{"name":"Main kitchen","timezone":"Europe/Berlin"}`,
		`{"name":"Line cook","phone":"+15550100","email":"cook@example.com","role":"staff","on_shift":true}`,
		`{"kind":"temp_high","threshold":null,"confirm_seconds":300,"severity":"critical"}`,
		`{"external_id":"FT-0001","unit_id":"00000000-0000-0000-0000-000000000000"}`,
		`{"name":"  ","safe_min_c":1e309}`, `{"name":"Caf\u00e9 \ud83c\udf66"}`, `{"name":"a\u0000b"}`,
		`{"steps":[{"after_seconds":0,"channels":["sms"],"roles":["staff"]}]}`, `{"version":"1"}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	resources := (&Router{}).resources()
	f.Fuzz(func(t *testing.T, body []byte) {
		if httpbody.CheckJSON(body) != nil {
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
			return // decodeBody: "the body must be a JSON object"
		}
		for _, res := range resources {
			for _, create := range []bool{true, false} {
				cols, vals, errs := res.values(fields, create)
				if len(errs) > 0 {
					for _, e := range errs {
						if e.Field == "" || e.Reason == "" {
							t.Fatalf("%s: field error %+v names nothing", res.path, e)
						}
					}
					continue
				}
				if len(cols) != len(vals) {
					t.Fatalf("%s: %d columns, %d values", res.path, len(cols), len(vals))
				}
				for i, v := range vals {
					var text string
					switch x := v.(type) {
					case string:
						text = x
					case *string:
						if x != nil {
							text = *x
						}
					case []byte:
						text = string(x)
					case json.RawMessage:
						text = string(x)
					}
					if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
						t.Fatalf("%s.%s = %q would be stored", res.path, cols[i], text)
					}
				}
			}
		}
	})
}
