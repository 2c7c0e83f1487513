package alerting

import (
	"context"
	"time"
)

// What the evaluator tells observers about units: their states after each
// evaluation (Hooks.UnitState) and which unit a sensor is on (UnitsOf).
// Live updates publish both.

// A unit's state, from its rules' states. When several apply, the first in
// this list wins: an open temperature or battery alert is what a person must
// see first, then a unit that cannot be heard, then a probe that cannot be
// trusted, then an excursion not yet confirmed.
const (
	// UnitAlerting: a temp_high, temp_low or battery_low rule has an open
	// alert (alerting, or clearing until its clear delay passed).
	UnitAlerting = "alerting"
	// UnitOffline: the sensor_offline rule has an open alert.
	UnitOffline = "offline"
	// UnitSensorFault: the sensor_fault rule has an open alert.
	UnitSensorFault = "sensor_fault"
	// UnitPending: a rule sees an excursion its confirm delay has not yet
	// confirmed.
	UnitPending = "pending"
	// UnitOK: every rule ok.
	UnitOK = "ok"
)

// UnitState is a unit's state after an evaluation committed.
type UnitState struct {
	OrgID, SiteID, UnitID string
	// State is UnitOK, UnitPending, UnitAlerting, UnitOffline or
	// UnitSensorFault.
	State string
	// At is when the evaluation committed (wall clock).
	At time.Time
}

// stateOf is a unit's state from its rules' states.
func stateOf(rules []Rule, states map[string]*ruleState) string {
	open := func(p phase) bool { return p == phaseAlerting || p == phaseClearing }
	var alerting, offline, fault, pending bool
	for _, r := range rules {
		st := states[r.ID]
		if st == nil {
			continue
		}
		switch {
		case open(st.Phase) && r.Kind == KindSensorOffline:
			offline = true
		case open(st.Phase) && r.Kind == KindSensorFault:
			fault = true
		case open(st.Phase):
			alerting = true
		case st.Phase == phasePending:
			pending = true
		}
	}
	switch {
	case alerting:
		return UnitAlerting
	case offline:
		return UnitOffline
	case fault:
		return UnitSensorFault
	case pending:
		return UnitPending
	}
	return UnitOK
}

// UnitRef names a unit and where it is.
type UnitRef struct {
	OrgID, SiteID, UnitID string
}

// UnitsOf maps sensor keys to the units they are on, from the evaluator's
// cache of sensor assignments (one query for the misses); sensors on no
// unit are left out.
func (e *Evaluator) UnitsOf(ctx context.Context, sensorIDs []int64) (map[int64]UnitRef, error) {
	units, err := e.resolveSensors(ctx, sensorIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]UnitRef, len(units))
	for id, u := range units {
		if u != nil {
			out[id] = UnitRef{OrgID: u.OrgID, SiteID: u.SiteID, UnitID: u.ID}
		}
	}
	return out, nil
}
