package httpbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/freshtrack/freshtrack/internal/problem"
)

// FuzzCheckJSON checks CheckJSON against encoding/json: what it accepts is
// one valid JSON text, UTF-8 throughout, whose decoded strings hold neither
// NUL nor a replaced (invalid) character, so PostgreSQL stores it as sent;
// what it refuses is a 400 problem that names a field when the text is the
// problem; and plain valid JSON without escapes is never refused. Seed
// corpus: testdata/fuzz/FuzzCheckJSON.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"Walk-in","safe_min_c":0,"safe_max_c":5}`, `{"name":"Caf\u00e9 \ud83c\udf66"}`, "{\"name\":\"Caf\xe9\"}",
		`{"name":"\ud800"}`, `{"a":"\u0000"}`, `{"a":"\\u0000"}`, `[1,{"b":["x","\udc00"]}]`, `{"a":1} x`, `{"a":`, `""`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := CheckJSON(body)
		if err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != 400 {
				t.Fatalf("CheckJSON(%q) = %v, want a 400 problem", body, err)
			}
			if len(p.Fields) > 0 && p.Fields[0].Field == "" {
				t.Fatalf("CheckJSON(%q) names an empty field", body)
			}
			if json.Valid(body) && utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) {
				t.Fatalf("CheckJSON(%q) = %v for valid UTF-8 JSON without escapes", body, err)
			}
			return
		}
		if !json.Valid(body) || !utf8.Valid(body) {
			t.Fatalf("CheckJSON accepted %q (json.Valid %v, utf8.Valid %v)", body, json.Valid(body), utf8.Valid(body))
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // a number beyond float64 is still JSON
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("CheckJSON accepted %q, which encoding/json refuses: %v", body, err)
		}
		literalReplacement := bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
		walkStrings(v, func(s string) {
			if strings.ContainsRune(s, 0) {
				t.Fatalf("CheckJSON accepted %q, which decodes to a NUL", body)
			}
			if !literalReplacement && strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("CheckJSON accepted %q, which decodes with a replaced character: %q", body, s)
			}
		})
	})
}

func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range x {
			fn(k)
			walkStrings(e, fn)
		}
	}
}
