package main

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/demo"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// snakeKeys lists the keys of decoded JSON, at any depth, that are not
// snake_case.
func snakeKeys(v any, at string) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snakeCase.MatchString(k) {
				bad = append(bad, at+"."+k)
			}
			bad = append(bad, snakeKeys(x, at+"."+k)...)
		}
	case []any:
		for _, x := range v {
			bad = append(bad, snakeKeys(x, at+"[]")...)
		}
	}
	return bad
}

// TestAdminJSONIsTheWireForm runs org create, apikey create and apikey list
// with --json: each prints snake_case keys, an API key as the API answers
// it.
func TestAdminJSONIsTheWireForm(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDBURL(t)
	runJSON := func(args ...string) any {
		t.Helper()
		e, out, _ := testEnv(map[string]string{"DATABASE_URL": url})
		if err := run(context.Background(), args, e); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var v any
		if err := json.Unmarshal([]byte(out.String()), &v); err != nil {
			t.Fatalf("%v printed %q: %v", args, out, err)
		}
		if bad := snakeKeys(v, "output"); len(bad) > 0 {
			t.Errorf("%v prints keys that are not snake_case: %v\n%s", args, bad, out)
		}
		return v
	}
	keys := func(v any) []string {
		m, _ := v.(map[string]any)
		return slices.Sorted(maps.Keys(m))
	}
	org, _ := runJSON("org", "create", "--name", "Snake Bistro", "--auto-register-sensors", "--json").(map[string]any)
	if got := keys(org); !slices.Equal(got, []string{"created_at", "id", "name", "settings"}) || org["settings"].(map[string]any)["auto_register_sensors"] != true {
		t.Fatalf("org create --json = %v", org)
	}
	id, _ := org["id"].(string)
	created, _ := runJSON("apikey", "create", "--org", id, "--name", "gateway 7", "--scope", "ingest,read", "--json").(map[string]any)
	want := []string{"created_at", "id", "key", "last_used_at", "name", "prefix", "revoked_at", "scopes"}
	prefix, _ := created["prefix"].(string)
	if got := keys(created); !slices.Equal(got, want) || !strings.HasPrefix(prefix, "ftk_") || !strings.HasPrefix(created["key"].(string), prefix+"_") {
		t.Fatalf("apikey create --json = %v, want the keys %v, a prefix ftk_… and the key starting with it", created, want)
	}
	list, _ := runJSON("apikey", "list", "--org", id, "--json").([]any)
	if len(list) != 1 || !slices.Equal(keys(list[0]), slices.DeleteFunc(want, func(k string) bool { return k == "key" })) || list[0].(map[string]any)["prefix"] != prefix {
		t.Fatalf("apikey list --json = %v, want the key without its secret", list)
	}
}

// TestJSONOutputTypesAreTagged: every exported field, at any depth, of the
// types the other --json flags print (demo, migrate, bench) has a
// snake_case json name.
func TestJSONOutputTypesAreTagged(t *testing.T) {
	t.Parallel()
	seen := map[reflect.Type]bool{}
	var walk func(ty reflect.Type, at string)
	walk = func(ty reflect.Type, at string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Array || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || ty == reflect.TypeFor[time.Time]() || seen[ty] {
			return
		}
		seen[ty] = true
		for f := range ty.Fields() {
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !(f.Anonymous && name == "") && name != "-" && !snakeCase.MatchString(name) {
				t.Errorf("%s.%s prints as %q: give it a snake_case json tag", at, f.Name, cmp.Or(name, f.Name))
			}
			walk(f.Type, at+"."+f.Name)
		}
	}
	for _, v := range []any{demo.Fleet{}, schema.Status{}, auth.Organization{}, auth.APIKeyView{}, billing.Standing{}, billing.MeterResult{}, billing.Plan{},
		bench.IngestResult{}, bench.SeedResult{}, bench.QueryResult{}, bench.AlertsResult{}, bench.LiveResult{}} {
		walk(reflect.TypeOf(v), reflect.TypeOf(v).String())
	}
	if len(seen) < 10 {
		t.Fatalf("only %d types walked", len(seen))
	}
}
