package live

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/query"
)

// ResumeWindow is how far back a stream may resume with Last-Event-ID.
const ResumeWindow = 15 * time.Minute

// resumeOverlap is how long before the last id a replay begins: an event
// row is recorded when it is written, and its transaction may commit (and
// reach a stream) a little later, so a replay from the last id exactly
// could miss one written just before it and committed just after.
const resumeOverlap = 5 * time.Second

// replayLimit is the most alert events or message statuses a resume
// replays; beyond it the client is told to reload.
const replayLimit = 2000

// ResumeParams are what a resuming stream needs.
type ResumeParams struct {
	DB     database.Querier
	OrgID  string
	Filter Filter
	// LastEventID is the client's Last-Event-ID; empty for a new stream.
	LastEventID string
	// Latest is ingest's in-memory newest readings, when this process
	// ingests; nil reads the persisted ones.
	Latest query.LatestSource
	Now    time.Time
}

// Resume returns what a stream writes before its live events: nothing for a
// new stream; for one that resumes within ResumeWindow the alert events and
// message statuses recorded since its last event (oldest first, some
// perhaps seen before: event_id and notification_id tell them apart), then
// each unit's state and newest reading; otherwise a reset telling the
// client to reload.
func Resume(ctx context.Context, p ResumeParams) ([]Event, error) {
	if p.LastEventID == "" {
		return nil, nil
	}
	last, err := strconv.ParseInt(p.LastEventID, 10, 64)
	lastAt := time.UnixMicro(last)
	if err != nil || lastAt.Before(p.Now.Add(-ResumeWindow)) || lastAt.After(p.Now.Add(time.Minute)) {
		return []Event{ResetEvent("cannot resume from that Last-Event-ID (older than " + ResumeWindow.String() + ", or not this server's); reload")}, nil
	}
	since := lastAt.Add(-resumeOverlap)
	var out []Event
	alerts, more, err := alerting.EventsRecordedSince(ctx, p.DB, p.OrgID, since, replayLimit)
	if err != nil {
		return nil, err
	}
	statuses, moreStatuses, err := notify.StatusesChangedSince(ctx, p.DB, p.OrgID, since, replayLimit)
	if err != nil {
		return nil, err
	}
	if more || moreStatuses {
		return []Event{ResetEvent("too much happened since that Last-Event-ID to replay; reload")}, nil
	}
	keep := func(e Event) {
		if p.Filter.matches(&e) {
			out = append(out, e)
		}
	}
	for _, a := range alerts {
		keep(Event{Type: TypeAlert, OrgID: p.OrgID, SiteID: a.SiteID, UnitID: a.UnitID, Data: a.Data})
	}
	for _, s := range statuses {
		keep(Event{Type: TypeNotification, OrgID: p.OrgID, SiteID: s.SiteID, UnitID: s.UnitID, Data: s.Data})
	}
	states, err := alerting.UnitStates(ctx, p.DB, p.OrgID)
	if err != nil {
		return nil, err
	}
	units, err := query.Latest(ctx, p.DB, query.LatestParams{OrgID: p.OrgID, Source: p.Latest})
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		st, ok := states[u.UnitID]
		if !ok {
			st = alerting.UnitState{OrgID: p.OrgID, SiteID: u.SiteID, UnitID: u.UnitID, State: alerting.UnitOK, At: p.Now}
		}
		data, _ := json.Marshal(unitStateData{UnitID: u.UnitID, SiteID: u.SiteID, State: st.State, At: st.At.UTC()})
		keep(Event{Type: TypeUnitState, OrgID: p.OrgID, SiteID: u.SiteID, UnitID: u.UnitID, Data: data})
		if r := u.Reading; r != nil {
			d := readingData{UnitID: u.UnitID, SiteID: u.SiteID, Time: r.Time.UTC(), TempC: &r.TempC, Battery: r.Battery, State: st.State}
			data, _ := json.Marshal(d)
			keep(Event{Type: TypeReading, OrgID: p.OrgID, SiteID: u.SiteID, UnitID: u.UnitID, Data: data})
		}
	}
	return out, nil
}
