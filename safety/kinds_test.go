package safety_test

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/safety"
)

// UnitKinds is the Go side of the units.kind CHECK constraint: a kind added
// to one and not the other fails here, not in a customer's request.
func TestUnitKindsMatchTheSchema(t *testing.T) {
	pool := pgtest.NewDB(t)
	var def string
	if err := pool.QueryRow(context.Background(), `
		SELECT pg_get_constraintdef(oid) FROM pg_constraint
		 WHERE conrelid = 'units'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%kind%'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	var inSchema []string
	for _, m := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(def, -1) {
		inSchema = append(inSchema, m[1])
	}
	got := slices.Sorted(slices.Values(safety.UnitKinds))
	if slices.Sort(inSchema); !slices.Equal(got, inSchema) {
		t.Fatalf("safety.UnitKinds %v, units.kind allows %v (%s)", got, inSchema, def)
	}
	for _, k := range safety.UnitKinds {
		if _, ok := safety.DefaultSafeRange(k); !ok && k != "other" {
			t.Errorf("kind %s has no default safe range", k)
		}
	}
}
