package crud

import (
	"encoding/json"
	"testing"
)

// TestValuesConvertsAndNamesFields: Values converts each kind, requires the
// required fields on create only, refuses read-only and unknown fields, and
// names every field it refuses.
func TestValuesConvertsAndNamesFields(t *testing.T) {
	c := &Collection{Singular: "thing", Fields: []Field{
		{JSON: "name", Kind: Text, Required: true, MaxLen: 5},
		{JSON: "parent_id", Kind: Ref, Ref: "parent", Nullable: true},
		{JSON: "size", Kind: Int, Min: Num(0), Max: Num(10)},
		{JSON: "phone", Kind: Phone},
		{JSON: "seen_at", Kind: Time, ReadOnly: true},
	}}
	body := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ch, errs := c.Values(body(`{"name":" ab ","parent_id":null,"size":3,"version":2}`), true)
	if len(errs) != 0 || len(ch.Cols) != 3 || ch.Vals[0] != "ab" || ch.Vals[1] != nil || ch.Vals[2] != int64(3) {
		t.Fatalf("Values = %+v, %v", ch, errs)
	}
	if _, errs := c.Values(body(`{"size":1}`), false); len(errs) != 0 {
		t.Errorf("an update needs no required field: %v", errs)
	}
	_, errs = c.Values(body(`{"size":1.5,"phone":"0151","seen_at":"2026-01-01T00:00:00Z","colour":"red"}`), true)
	named := map[string]bool{}
	for _, e := range errs {
		if e.Reason == "" {
			t.Errorf("%s refused without a reason", e.Field)
		}
		named[e.Field] = true
	}
	for _, f := range []string{"name", "size", "phone", "seen_at", "colour"} {
		if !named[f] {
			t.Errorf("field %s not named in %v", f, errs)
		}
	}
}
