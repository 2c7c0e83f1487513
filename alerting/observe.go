package alerting

import "time"

// What the evaluator tells observers (Hooks.UnitState, Hooks.Readings)
// about units: live updates publish it.

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

// UnitReading is a unit's newest reading in an evaluated batch.
type UnitReading struct {
	OrgID, SiteID, UnitID string
	// Sensor is the sensor's key (sensors.id).
	Sensor int64
	// Time is when the reading was taken.
	Time time.Time
	// TempC is the temperature; with Fault, the probe's error code.
	TempC float64
	// Battery is NaN when the reading had none.
	Battery float64
	// Fault marks a probe's error code.
	Fault bool
	// State is the unit's state after the batch; empty when its
	// evaluation failed.
	State string
	// CommittedAt is when ingest committed the batch.
	CommittedAt time.Time
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

// newestReadings is each unit's newest sample in a batch's work.
func newestReadings(work map[string]*unitWork) []UnitReading {
	out := make([]UnitReading, 0, len(work))
	for _, w := range work {
		if len(w.samples) == 0 {
			continue
		}
		newest := &w.samples[0]
		for i := range w.samples {
			if s := &w.samples[i]; s.T.After(newest.T) || s.T.Equal(newest.T) && !s.Fault && newest.Fault {
				newest = s
			}
		}
		out = append(out, UnitReading{
			OrgID: w.unit.OrgID, SiteID: w.unit.SiteID, UnitID: w.unit.ID,
			Sensor: newest.Sensor, Time: newest.T, TempC: newest.TempC, Battery: newest.Battery, Fault: newest.Fault,
			State: w.state, CommittedAt: w.committedAt,
		})
	}
	return out
}
