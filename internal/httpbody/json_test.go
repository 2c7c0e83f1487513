package httpbody

import (
	"errors"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/internal/problem"
)

func TestCheckJSONNamesWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		body, field, detail string
	}{
		{body: `{"name":"Walk-in"}`},
		{body: `{"name":"Caf\u00e9 \ud83c\udf66"}`},
		{body: `{"name":"Café 🍦"}`},
		{body: `{"path":"C:\\ud800"}`}, // an escaped backslash, not an escape
		{body: `[1,2,{"a":[true,null,"x"]}]`},
		{body: "{\"name\":\"Caf\xe9\"}", field: "name"},
		{body: `{"name":"\ud800"}`, field: "name"},
		{body: `{"name":"\udc00 alone"}`, field: "name"},
		{body: `{"name":"\ud800\u0041"}`, field: "name"},
		{body: `{"name":"a\u0000b"}`, field: "name"},
		{body: `{"steps":[{"note":"\u0000"}]}`, field: "steps[0].note"},
		{body: `{"name":"a\\u0000b"}`}, // an escaped backslash, then text
		{body: "{\"settings\":{\"ttn\":{\"temperature\":[\"t\",\"\xff\"]}}}", field: "settings.ttn.temperature[1]"},
		{body: "[{\"a\":1},{\"b\":\"\xc3\"}]", field: "[1].b"},
		{body: "{\"na\xffme\":1}", field: `"na\ufffdme"`},
		{body: "\"\xff\"", field: "(body)"},
		{body: `{"name":"Walk-in"`, detail: "truncated"},
		{body: `{"name":"Walk-in"} {}`, detail: "more data after the value"},
		{body: `{"name":}`, detail: "at offset"},
		{body: ``, detail: "empty"},
	} {
		err := CheckJSON([]byte(tc.body))
		if tc.field == "" && tc.detail == "" {
			if err != nil {
				t.Errorf("CheckJSON(%q) = %v, want nil", tc.body, err)
			}
			continue
		}
		var p *problem.Problem
		if !errors.As(err, &p) || p.Status != 400 {
			t.Errorf("CheckJSON(%q) = %v, want a 400 problem", tc.body, err)
			continue
		}
		if tc.field != "" && (len(p.Fields) != 1 || p.Fields[0].Field != tc.field) {
			t.Errorf("CheckJSON(%q) names %+v, want field %s", tc.body, p.Fields, tc.field)
		}
		if tc.detail != "" && !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("CheckJSON(%q) says %q, want it to mention %q", tc.body, p.Detail, tc.detail)
		}
	}
}
