package insight

import (
	"fmt"
	"time"
)

// A door opening leaves a signature on the temperature: a fast rise
// (doorRise within doorRiseWithin) and a fast recovery to near the level
// before it (within doorRecover of the opening).
const (
	doorRise       = 1.5
	doorRiseWithin = 5 * time.Minute
	doorRecover    = 20 * time.Minute
	// doorNear is how close to the level before the opening the value must
	// come back, at least: or a third of the rise, whichever is larger.
	doorNear = 0.5
)

// DoorDetector is door_open's state.
type DoorDetector struct {
	// HasSensor is set once a contact sensor reported: its word is taken
	// over the temperature's signature.
	HasSensor bool       `json:"has_sensor,omitempty"`
	Doors     []DoorOpen `json:"doors,omitempty"`
	// Raised while the alert is raised, for the door Raised names.
	Raised       bool      `json:"raised,omitempty"`
	RaisedSensor int64     `json:"raised_sensor,omitempty"`
	RaisedSince  time.Time `json:"raised_since"`

	// Recent are the last doorRiseWithin of values (higher is worse), and
	// Sig the signature being followed.
	Recent []TimedC `json:"recent,omitempty"`
	Sig    DoorSig  `json:"sig"`
}

// DoorOpen is one contact sensor's newest state.
type DoorOpen struct {
	Sensor int64     `json:"sensor"`
	At     time.Time `json:"at"`
	Open   bool      `json:"open,omitempty"`
}

// TimedC is a value at a moment.
type TimedC struct {
	T time.Time `json:"t"`
	C float64   `json:"c"`
}

// DoorSig is a rise that may be a door opening.
type DoorSig struct {
	Active bool      `json:"active,omitempty"`
	Start  time.Time `json:"start"`
	Prior  float64   `json:"prior"`
	Peak   float64   `json:"peak"`
}

func (st *DoorDetector) observeSensor(p *Params, d DoorState, out *Output) {
	st.HasSensor = true
	st.Sig, st.Recent = DoorSig{}, nil
	var door *DoorOpen
	for i := range st.Doors {
		if st.Doors[i].Sensor == d.Sensor {
			door = &st.Doors[i]
		}
	}
	if door == nil {
		st.Doors = append(st.Doors, DoorOpen{Sensor: d.Sensor})
		door = &st.Doors[len(st.Doors)-1]
	}
	if !door.At.IsZero() && !d.T.After(door.At) {
		return
	}
	switch {
	case d.Open && !door.Open:
		door.Open, door.At = true, d.T
		upsertEpisode(out, Episode{Kind: "door_open", Source: "sensor", Started: d.T, WithinBounds: true,
			Details: map[string]any{"sensor": d.Sensor}})
	case !d.Open && door.Open:
		upsertEpisode(out, Episode{Kind: "door_open", Source: "sensor", Started: door.At, Ended: d.T, WithinBounds: true,
			Details: map[string]any{"sensor": d.Sensor, "minutes": minutes(d.T.Sub(door.At))}})
		door.Open, door.At = false, d.T
		if st.Raised && st.RaisedSensor == d.Sensor {
			st.Raised = false
			clear(out, kindDoor, p.Door.RuleID, st.RaisedSince, d.T, d.Sensor, "the door was closed")
		}
	default:
		door.At = d.T
	}
}

// check raises door_open for a door open for After at now.
func (st *DoorDetector) check(p *Params, now time.Time, out *Output) {
	if st.Raised {
		return
	}
	for _, d := range st.Doors {
		if !d.Open || now.Sub(d.At) < p.Door.After {
			continue
		}
		st.Raised, st.RaisedSensor, st.RaisedSince = true, d.Sensor, d.At
		raise(out, kindDoor, p.Door.RuleID, d.At, d.At.Add(p.Door.After), d.Sensor, minutes(now.Sub(d.At)),
			fmt.Sprintf("The door has been open since %s (%.0f min): close it.", clock(p, d.At), now.Sub(d.At).Minutes()),
			map[string]any{"sensor": d.Sensor, "opened": d.At, "after_minutes": minutes(p.Door.After)})
		return
	}
}

// observeTemp follows the temperature's signature of a door opening. A
// defrost's rise is not a door.
func (st *DoorDetector) observeTemp(p *Params, s Sample, defrosting bool, out *Output) {
	v := p.sign() * s.C
	cut := s.T.Add(-doorRiseWithin)
	i := 0
	for i < len(st.Recent) && st.Recent[i].T.Before(cut) {
		i++
	}
	st.Recent = append(st.Recent[i:], TimedC{s.T, v})
	sg := &st.Sig
	if defrosting {
		*sg = DoorSig{}
		return
	}
	if !sg.Active {
		low := st.Recent[0]
		for _, r := range st.Recent {
			if r.C < low.C {
				low = r
			}
		}
		if v-low.C >= doorRise && low.T.Before(s.T) {
			*sg = DoorSig{Active: true, Start: low.T, Prior: low.C, Peak: v}
		}
		return
	}
	sg.Peak = max(sg.Peak, v)
	switch {
	case s.T.Sub(sg.Start) > doorRecover:
		*sg = DoorSig{} // too slow to be a door: a defrost, a load, a failure
	case v <= sg.Prior+max(doorNear, (sg.Peak-sg.Prior)/3):
		peak := p.sign() * sg.Peak
		upsertEpisode(out, Episode{Kind: "door_open", Source: "detected", Started: sg.Start, Ended: s.T, PeakC: peak,
			WithinBounds: true, Details: map[string]any{"rise_c": round2(sg.Peak - sg.Prior), "minutes": minutes(s.T.Sub(sg.Start))}})
		*sg = DoorSig{}
	}
}

// active reports whether a door is open, by its sensor or by the
// temperature's signature.
func (st *DoorDetector) active() bool {
	for _, d := range st.Doors {
		if d.Open {
			return true
		}
	}
	return st.Sig.Active
}
