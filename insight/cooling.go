package insight

import (
	"fmt"
	"math"
	"time"
)

// The Food Code 3-501.14 two-stage cooling rule.
const (
	coolStartC  = 57.0
	coolStage1C = 21.0
	coolStage2C = 5.0
	coolStage1  = 2 * time.Hour
	coolStage2  = 6 * time.Hour
	// coolFit is the recent stretch of the curve a projection is fitted
	// to, and coolFitMin the least of it that makes a projection.
	coolFit    = 30 * time.Minute
	coolFitMin = 10 * time.Minute
	// coolReheat is how far back above 57 °C a detected cycle's food must
	// come to be hot again.
	coolReheat = 3.0
)

// ambientC is what food in a unit of a kind cools toward (Newton's law of
// cooling): a blast chiller's air, else a walk-in's. The curve's
// log-linear fit needs it, and guessing it a little warm only makes the
// projection more cautious.
func ambientC(unitKind string) float64 {
	if unitKind == "blast_chiller" {
		return -15
	}
	return 3
}

// CoolingState is the cooling detector's state: the cycle running, if any.
type CoolingState struct {
	Cycle *CoolingCycle `json:"cycle,omitempty"`
	// Recent is the cycle's last coolFit of values, for the projection.
	Recent []TimedC `json:"recent,omitempty"`
	// Raised while the alert is raised, for RaisedStage.
	Raised      bool `json:"raised,omitempty"`
	RaisedStage int  `json:"raised_stage,omitempty"`
}

func (st *CoolingState) start(p *Params, source string, at time.Time, c float64, out *Output) {
	if st.Cycle != nil && st.Cycle.Status == "running" {
		return
	}
	prev := st.Cycle
	st.Cycle = &CoolingCycle{Source: source, Started: at, StartC: round2(c), Stage1Deadline: at.Add(coolStage1),
		Stage2Deadline: at.Add(coolStage2), Status: "running", LastC: c}
	st.Recent = []TimedC{{at, c}}
	if st.Raised {
		// The last cycle's failure is a person's to resolve; this cycle
		// is a new condition.
		clear(out, kindCooling, p.Cooling.RuleID, prev.Started, at, 0, "a new cooling cycle started")
	}
	st.Raised, st.RaisedStage = false, 0
	out.Cooling = upsertCooling(out.Cooling, *st.Cycle)
}

func (st *CoolingState) observe(p *Params, prevT time.Time, prevC float64, s Sample, out *Output) {
	cy := st.Cycle
	if cy == nil || cy.Status != "running" {
		if prevC > coolStartC && s.C <= coolStartC {
			st.start(p, "detected", cross(prevT, prevC, s.T, s.C, coolStartC), coolStartC, out)
			cy = st.Cycle
		} else {
			return
		}
	}
	if s.T.Before(cy.Started) {
		return
	}
	st.tick(p, s.T, out) // a deadline that passed before this reading
	if cy.Status != "running" {
		return
	}
	if cy.Source == "detected" && s.C > coolStartC+coolReheat {
		// Hot again: the food went back on the heat (or a hot-holding unit
		// recovered), and this was no cooling.
		cy.Status, cy.Ended, cy.LastC = "cancelled", s.T, s.C
		if st.Raised {
			st.Raised = false
			clear(out, kindCooling, p.Cooling.RuleID, cy.Started, s.T, 0, "the food was hot again: no cooling")
		}
		out.Cooling = upsertCooling(out.Cooling, *cy)
		return
	}
	if prevT.Before(cy.Started) {
		prevT, prevC = cy.Started, cy.LastC
	}
	cy.LastC = s.C
	cut := s.T.Add(-coolFit)
	i := 0
	for i < len(st.Recent) && st.Recent[i].T.Before(cut) {
		i++
	}
	st.Recent = append(st.Recent[i:], TimedC{s.T, s.C})
	if cy.Stage1At.IsZero() && s.C <= coolStage1C {
		cy.Stage1At = cross(prevT, prevC, s.T, s.C, coolStage1C)
		st.met(p, 1, cy.Stage1At, out)
	}
	if !cy.Stage1At.IsZero() && cy.Stage2At.IsZero() && s.C <= coolStage2C {
		cy.Stage2At = cross(prevT, prevC, s.T, s.C, coolStage2C)
		if cy.Stage2At.Before(cy.Stage1At) {
			cy.Stage2At = cy.Stage1At
		}
		cy.Status, cy.Ended = "passed", cy.Stage2At
		st.met(p, 2, cy.Stage2At, out)
		out.Cooling = upsertCooling(out.Cooling, *cy)
		return
	}
	st.project(p, s.T, out)
	out.Cooling = upsertCooling(out.Cooling, *cy)
}

// met clears a projected miss of a stage that was met after all.
func (st *CoolingState) met(p *Params, stage int, at time.Time, out *Output) {
	if st.Raised && st.RaisedStage == stage {
		st.Raised = false
		clear(out, kindCooling, p.Cooling.RuleID, st.Cycle.Started, at, 0, fmt.Sprintf("stage %d was met after all", stage))
	}
}

// stage is the stage the cycle is in, its target and deadline.
func (cy *CoolingCycle) stage() (n int, target float64, deadline time.Time) {
	if cy.Stage1At.IsZero() {
		return 1, coolStage1C, cy.Stage1Deadline
	}
	return 2, coolStage2C, cy.Stage2Deadline
}

// project raises the alert when the current stage is projected to miss its
// deadline and the deadline is within Warn.
func (st *CoolingState) project(p *Params, now time.Time, out *Output) {
	cy := st.Cycle
	n, target, deadline := cy.stage()
	if st.Raised || now.Before(deadline.Add(-p.Cooling.Warn)) {
		return
	}
	eta, ok := projectCooling(st.Recent, ambientC(p.UnitKind), target)
	if ok && !eta.After(deadline) {
		return
	}
	st.Raised, st.RaisedStage = true, n
	d := map[string]any{"stage": n, "target_c": target, "deadline": deadline, "now_c": round2(cy.LastC), "source": cy.Source}
	when := "not at the present rate"
	if ok {
		d["projected"] = eta
		when = "around " + clock(p, eta)
	}
	raise(out, kindCooling, p.Cooling.RuleID, cy.Started, now, 0, cy.LastC,
		fmt.Sprintf("Cooling started %s will miss stage %d (%s by %s): %s now, reaching it %s.",
			clock(p, cy.Started), n, degrees(target), clock(p, deadline), degrees(cy.LastC), when), d)
}

// tick fails the cycle at a missed deadline.
func (st *CoolingState) tick(p *Params, now time.Time, out *Output) {
	cy := st.Cycle
	if cy == nil || cy.Status != "running" {
		return
	}
	n, target, deadline := cy.stage()
	if now.Before(deadline) {
		return
	}
	cy.Status, cy.FailedStage, cy.Ended = "failed", n, deadline
	out.Cooling = upsertCooling(out.Cooling, *cy)
	d := map[string]any{"stage": n, "target_c": target, "deadline": deadline, "last_c": round2(cy.LastC), "source": cy.Source}
	if st.Raised && st.RaisedStage == n {
		return // the projection already said so
	}
	if st.Raised {
		clear(out, kindCooling, p.Cooling.RuleID, cy.Started, deadline, 0, fmt.Sprintf("stage %d was met after all", st.RaisedStage))
	}
	st.Raised, st.RaisedStage = true, n
	raise(out, kindCooling, p.Cooling.RuleID, cy.Started, deadline, 0, cy.LastC,
		fmt.Sprintf("Cooling started %s missed stage %d: %s at %s, not %s.",
			clock(p, cy.Started), n, degrees(cy.LastC), clock(p, deadline), degrees(target)), d)
}

// projectCooling fits T(t) = A + (T0 − A)·e^(−kt) to the recent values by
// least squares of ln(T − A) against t, and returns when the curve reaches
// target (ok false: it does not, or too little to fit).
func projectCooling(recent []TimedC, ambient, target float64) (time.Time, bool) {
	if len(recent) < 3 || recent[len(recent)-1].T.Sub(recent[0].T) < coolFitMin || target <= ambient {
		return time.Time{}, false
	}
	t0 := recent[0].T
	var n, sx, sy, sxx, sxy float64
	for _, r := range recent {
		if r.C-ambient < 0.5 {
			continue
		}
		x, y := r.T.Sub(t0).Hours(), math.Log(r.C-ambient)
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if n < 3 || den == 0 {
		return time.Time{}, false
	}
	b := (n*sxy - sx*sy) / den
	a := (sy - b*sx) / n
	if b >= 0 {
		return time.Time{}, false
	}
	h := (math.Log(target-ambient) - a) / b
	if h > 48 {
		return time.Time{}, false
	}
	return t0.Add(time.Duration(h * float64(time.Hour))), true
}

// cross interpolates when the straight line from (t0, c0) to (t1, c1)
// passes c.
func cross(t0 time.Time, c0 float64, t1 time.Time, c1, c float64) time.Time {
	if c0 == c1 || t0.IsZero() {
		return t1
	}
	f := (c0 - c) / (c0 - c1)
	f = min(max(f, 0), 1)
	return t0.Add(time.Duration(f * float64(t1.Sub(t0)))).Round(time.Second)
}

func upsertCooling(cs []CoolingCycle, c CoolingCycle) []CoolingCycle {
	for i := range cs {
		if cs[i].Started.Equal(c.Started) {
			cs[i] = c
			return cs
		}
	}
	return append(cs, c)
}
