package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/insight/eval"
)

func TestEvalAlerts(t *testing.T) {
	t.Parallel()
	e, out, _ := testEnv(nil)
	if err := run(context.Background(), []string{"eval", "alerts", "--units", "3", "--weeks", "1", "--seed", "4", "--json"}, e); err != nil {
		t.Fatal(err)
	}
	var r eval.Report
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("--json %q: %v", out, err)
	}
	if r.Seed != 4 || r.Units != 3 || r.Weeks != 1 || len(r.Systems) != 2 {
		t.Fatalf("report %+v", r)
	}
	e, _, _ = testEnv(nil)
	err := run(context.Background(), []string{"eval", "alerts", "--units", "0"}, e)
	if err == nil || !strings.Contains(err.Error(), "--units") {
		t.Fatalf("--units 0: %v", err)
	}
}
