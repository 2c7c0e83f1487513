package alerting

import (
	"context"
	"fmt"
	"time"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// What a live stream that resumes reads back of alerting: the alert events
// recorded since it broke off, and every unit's current state.

// RecordedEvent is an alert event as a live stream shows it
// (freshtrack_alert_event_json, the same JSON the database announces at
// commit).
type RecordedEvent = database.Scoped

// EventsRecordedSince returns orgID's alert events recorded after since,
// oldest first, at most limit of them; more reports whether there were more.
func EventsRecordedSince(ctx context.Context, db database.Querier, orgID string, since time.Time, limit int) (events []RecordedEvent, more bool, err error) {
	if !uuids.Valid(orgID) {
		return nil, false, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT coalesce(d->>'site_id', ''), coalesce(d->>'unit_id', ''), d
		  FROM (SELECT freshtrack_alert_event_json(e) AS d
		          FROM alert_events e
		         WHERE e.org_id = $1 AND e.recorded_at > $2
		         ORDER BY e.recorded_at, e.id
		         LIMIT $3) x`, orgID, since, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("alert events since: %w", err)
	}
	events, more, err = database.ScopedUpTo(rows, limit)
	if err != nil {
		return nil, false, fmt.Errorf("alert events since: %w", err)
	}
	return events, more, nil
}

// UnitStates returns the state (UnitOK, UnitPending, ...) of every unit of
// orgID that has one stored, by unit id, as stored by the last evaluation:
// units whose rules are all ok in memory since are ok here too.
func UnitStates(ctx context.Context, db database.Querier, orgID string) (map[string]UnitState, error) {
	if !uuids.Valid(orgID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT s.unit_id::text, u.site_id::text, s.rule_id::text, r.kind, s.state, s.updated_at
		  FROM alert_state s
		  JOIN alert_rules r ON r.org_id = s.org_id AND r.id = s.rule_id
		  JOIN units u ON u.org_id = s.org_id AND u.id = s.unit_id
		 WHERE s.org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("unit states: %w", err)
	}
	defer rows.Close()
	type unit struct {
		site   string
		at     time.Time
		rules  []Rule
		states map[string]*ruleState
	}
	units := map[string]*unit{}
	for rows.Next() {
		var unitID, siteID, ruleID, kind, state string
		var at time.Time
		if err := rows.Scan(&unitID, &siteID, &ruleID, &kind, &state, &at); err != nil {
			return nil, err
		}
		u := units[unitID]
		if u == nil {
			u = &unit{site: siteID, states: map[string]*ruleState{}}
			units[unitID] = u
		}
		if at.After(u.at) {
			u.at = at
		}
		u.rules = append(u.rules, Rule{ID: ruleID, Kind: kind})
		u.states[ruleID] = &ruleState{Phase: phase(state)}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]UnitState, len(units))
	for id, u := range units {
		out[id] = UnitState{OrgID: orgID, SiteID: u.site, UnitID: id, State: stateOf(u.rules, u.states), At: u.at}
	}
	return out, nil
}
