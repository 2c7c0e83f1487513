package eval

import (
	"fmt"
	"os"
	"testing"

	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/insight/corpus"
	"github.com/freshtrack/freshtrack/safety"
)

func TestScratch(t *testing.T) {
	r := Run(corpus.Options{Seed: 1, Units: 24, Weeks: 4})
	Print(os.Stdout, r)
}

func TestScratchTraces(t *testing.T) {
	traces := corpus.Generate(corpus.Options{Seed: 1, Units: 24, Weeks: 4})
	for i := range traces {
		tr := &traces[i]
		_, full := RunTrace(tr)
		eff := rules(tr)
		var temp []safety.TempRule
		p := insight.ParamsFor(tr.UnitKind, safety.UnitLimits(tr.SafeMinC, tr.SafeMaxC, temp), tr.Zone, eff)
		_, learned := Detect(p, tr)
		fmt.Printf("== %s interval %v learned %d\n", tr.Name, tr.Readings[1].T.Sub(tr.Readings[0].T), len(learned))
		for _, l := range learned {
			fmt.Printf("   pattern at %s: %+v\n", l.At.Format("01-02 15:04"), *l.Pattern)
		}
		for _, a := range full {
			if a.Opened.Before(tr.WarmUp) {
				continue
			}
			ok := false
			for _, l := range tr.Labels {
				ok = ok || matches(l, a)
			}
			if !ok {
				fmt.Printf("   FP %s started %s opened %s cause %s\n", a.Kind, a.Started.Format("01-02 15:04"), a.Opened.Format("01-02 15:04"), cause(tr, a))
			}
		}
		for _, l := range tr.Labels {
			fmt.Printf("   label %s %s %s..%s\n", l.Kind, l.Cause, l.From.Format("01-02 15:04"), l.To.Format("01-02 15:04"))
		}
	}
}

func TestScratchChiller(t *testing.T) {
	traces := corpus.Generate(corpus.Options{Seed: 1, Units: 24, Weeks: 4})
	tr := &traces[8]
	p := insight.ParamsFor(tr.UnitKind, safety.UnitLimits(tr.SafeMinC, tr.SafeMaxC, nil), tr.Zone, rules(tr))
	sigs, _ := Detect(p, tr)
	for _, s := range sigs {
		if s.Kind == "sensor_implausible" {
			fmt.Println(s.Op, s.At, s.Summary, s.Reason)
		}
	}
}
