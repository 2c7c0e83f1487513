package insight

import (
	"fmt"
	"math"
	"time"
)

// What a probe can physically do between two readings at most
// implausibleWindow apart. A probe in air (fridges, freezers, walk-ins,
// displays, ambient storage) sees the door's draught and the defrost
// heater, but air around a probe does not change by airJumpC within a few
// minutes: the thermal mass of a probe's housing alone forbids it. A food
// probe (blast chillers, hot holding) is pushed into hot food and pulled
// out again: from a chiller's −40 °C air into a 95 °C batch within a
// minute is possible, so only a jump wider than that counts.
const (
	implausibleWindow = 5 * time.Minute
	airJumpC          = 15.0
	foodJumpC         = 140.0
	// jumpQuiet is how long a probe must go without an impossible jump
	// before its alert clears.
	jumpQuiet = time.Hour
	// stuckEpsilon: values equal to the hundredth of a degree.
	stuckEpsilon = 0.005
)

func maxJump(unitKind string) float64 {
	if unitKind == "blast_chiller" || unitKind == "hot_holding" {
		return foodJumpC
	}
	return airJumpC
}

// ImplausibleState is sensor_implausible's state, per probe.
type ImplausibleState struct {
	Probes []ProbeCheck `json:"probes,omitempty"`
	// Raised while the unit's alert is raised, since RaisedSince.
	Raised      bool      `json:"raised,omitempty"`
	RaisedSince time.Time `json:"raised_since"`
}

// ProbeCheck is one probe's state.
type ProbeCheck struct {
	Sensor int64     `json:"sensor"`
	Last   time.Time `json:"last"`
	LastC  float64   `json:"last_c"`
	// Same is when the probe started repeating LastC.
	Same time.Time `json:"same"`
	// Stuck and Jumped say what is implausible now; JumpAt is the newest
	// impossible jump.
	Stuck  bool      `json:"stuck,omitempty"`
	Jumped bool      `json:"jumped,omitempty"`
	JumpAt time.Time `json:"jump_at"`
}

func (st *ImplausibleState) probe(sensor int64) *ProbeCheck {
	for i := range st.Probes {
		if st.Probes[i].Sensor == sensor {
			return &st.Probes[i]
		}
	}
	st.Probes = append(st.Probes, ProbeCheck{Sensor: sensor})
	return &st.Probes[len(st.Probes)-1]
}

func (st *ImplausibleState) observe(p *Params, s Sample, out *Output) {
	pr := st.probe(s.Sensor)
	if !pr.Last.IsZero() && !s.T.After(pr.Last) {
		return
	}
	var why string
	switch {
	case pr.Last.IsZero():
		pr.Same = s.T
	case math.Abs(s.C-pr.LastC) < stuckEpsilon:
		if !pr.Stuck && s.T.Sub(pr.Same) >= p.Implausible.Stuck {
			pr.Stuck = true
			why = fmt.Sprintf("Probe %d has read exactly %s since %s: it is probably stuck.", s.Sensor, degrees(s.C), clock(p, pr.Same))
		}
	default:
		pr.Stuck = false
		pr.Same = s.T
		if jump := math.Abs(s.C - pr.LastC); s.T.Sub(pr.Last) <= implausibleWindow && jump > maxJump(p.UnitKind) {
			if !pr.Jumped {
				why = fmt.Sprintf("Probe %d jumped from %s to %s in %.0f min, faster than anything it measures can change: check it.",
					s.Sensor, degrees(pr.LastC), degrees(s.C), s.T.Sub(pr.Last).Minutes())
			}
			pr.Jumped, pr.JumpAt = true, s.T
		}
	}
	if why != "" && !st.Raised {
		st.Raised, st.RaisedSince = true, s.T
		started := s.T
		if pr.Stuck {
			started = pr.Same
			st.RaisedSince = pr.Same
		}
		raise(out, kindImplausible, p.Implausible.RuleID, started, s.T, s.Sensor, s.C, why, map[string]any{
			"sensor": s.Sensor, "stuck": pr.Stuck, "jump": pr.Jumped, "previous_c": pr.LastC, "c": s.C,
			"stuck_hours": p.Implausible.Stuck.Hours(), "max_jump_c": maxJump(p.UnitKind),
		})
	}
	pr.Last, pr.LastC = s.T, s.C
	st.tick(p, s.T, out)
}

// tick clears a jump an hour old, and the alert once every probe is
// plausible again.
func (st *ImplausibleState) tick(p *Params, now time.Time, out *Output) {
	bad := int64(-1)
	for i := range st.Probes {
		pr := &st.Probes[i]
		if pr.Jumped && now.Sub(pr.JumpAt) >= jumpQuiet {
			pr.Jumped = false
		}
		if pr.Jumped || pr.Stuck {
			bad = pr.Sensor
		}
	}
	if st.Raised && bad < 0 {
		st.Raised = false
		clear(out, kindImplausible, p.Implausible.RuleID, st.RaisedSince, now, 0, "every probe reads plausibly again")
	}
}
