package eval

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/insight/corpus"
)

// TestFullBeatsBaseline holds the detectors to their goals on a seeded
// corpus (deterministic: the same corpus every run). The full rule set
// alerts less than the threshold rules, defrosts and door openings cause
// at most 0.1 false alarms per unit-week, no kind of event is found less
// often, and the trend warning comes at least 20 minutes (median) before the
// threshold alert on slow failures.
func TestFullBeatsBaseline(t *testing.T) {
	t.Parallel()
	if os.Getenv("TEST_STORAGE") == "timescale" {
		// No database takes part: the result is the postgres pass's.
		t.Skip("the evaluation uses no database; it runs once, in the postgres storage pass of make test")
	}
	r := Run(corpus.Options{Seed: 1, Units: 24, Weeks: 3})
	base, full := r.Systems[0], r.Systems[1]
	if base.Name != Baseline || full.Name != Full {
		t.Fatalf("systems %s, %s", base.Name, full.Name)
	}
	for _, c := range []string{CauseDefrost, CauseDoor} {
		if v := full.FalsePerUnitWeek[c]; v > 0.1 {
			t.Errorf("full: %.3f false alarms per unit-week from %s, want at most 0.1", v, c)
		}
	}
	if full.FalseAlarms["total"] >= base.FalseAlarms["total"] {
		t.Errorf("full: %d false alarms, baseline %d", full.FalseAlarms["total"], base.FalseAlarms["total"])
	}
	if base.FalsePerUnitWeek[CauseDefrost] < 1 {
		t.Errorf("baseline: %.3f defrost false alarms per unit-week: the corpus's defrosts should trip threshold rules",
			base.FalsePerUnitWeek[CauseDefrost])
	}
	for i, l := range full.Labels {
		b := base.Labels[i]
		if l.Kind != b.Kind || l.Total != b.Total {
			t.Fatalf("labels differ: %+v, %+v", b, l)
		}
		if l.Total == 0 {
			t.Errorf("no %s labels in the corpus", l.Kind)
		}
		if l.Found < b.Found {
			t.Errorf("%s: full found %d, baseline %d", l.Kind, l.Found, b.Found)
		}
		if l.Kind == corpus.LabelExcursion && l.Found != l.Total {
			t.Errorf("full missed %d of %d real excursions", l.Total-l.Found, l.Total)
		}
	}
	if l := r.Lead; l.Measured < 3 || l.Warned*4 < l.SlowFailures*3 || l.MedianMinutes < 20 {
		t.Errorf("trend: %+v, want warnings on at least 3 in 4 slow failures, a median lead of 20 min", l)
	}
	if t.Failed() {
		var b bytes.Buffer
		_ = Print(&b, r)
		t.Log("\n" + b.String())
	}
}

func TestCorpusIsDeterministic(t *testing.T) {
	t.Parallel()
	o := corpus.Options{Seed: 5, Units: len(corpus.Scenarios), Weeks: 1}
	a, _ := json.Marshal(corpus.Generate(o))
	b, _ := json.Marshal(corpus.Generate(o))
	if !bytes.Equal(a, b) {
		t.Fatal("the same options generated two corpora")
	}
	o.Seed = 6
	c, _ := json.Marshal(corpus.Generate(o))
	if bytes.Equal(a, c) {
		t.Fatal("two seeds generated one corpus")
	}
}

func TestPrint(t *testing.T) {
	t.Parallel()
	r := Run(corpus.Options{Seed: 2, Units: 3, Weeks: 1})
	var b bytes.Buffer
	if err := Print(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"baseline recall", "full precision", "false alarms / unit-week", "trend_warning on slow failures"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("no %q in\n%s", want, b.String())
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("the report is not JSON: %v", err)
	}
}
