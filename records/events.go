package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// UnitEvent is something the detectors recognised in a unit's data: a
// defrost cycle or a door opening, in its wire form.
type UnitEvent struct {
	ID     string `json:"id"`
	UnitID string `json:"unit_id"`
	// Kind is defrost or door_open; Source detected (from the
	// temperature's signature) or sensor (a door sensor reported it).
	Kind      string     `json:"kind"`
	Source    string     `json:"source"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	PeakC     *float64   `json:"peak_c"`
	// WithinBounds is false for a defrost that ran longer or hotter than
	// the learned pattern allows.
	WithinBounds bool            `json:"within_bounds"`
	Details      json.RawMessage `json:"details"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// DefrostPattern is a freezer's learned defrost cycle, in its wire form.
type DefrostPattern struct {
	PeriodSeconds int `json:"period_seconds"`
	// Anchor is the start of one observed defrost; the others are at
	// anchor + k × period, give or take the phase tolerance.
	Anchor                time.Time `json:"anchor"`
	PhaseToleranceSeconds int       `json:"phase_tolerance_seconds"`
	DurationSeconds       int       `json:"duration_seconds"`
	PeakC                 float64   `json:"peak_c"`
	// MaxPeakC and MaxDurationSeconds bound a defrost that is let run.
	MaxPeakC           float64   `json:"max_peak_c"`
	MaxDurationSeconds int       `json:"max_duration_seconds"`
	Episodes           int       `json:"episodes"`
	LearnedAt          time.Time `json:"learned_at"`
}

// UnitEvents is a page of a unit's events with its learned defrost
// pattern (nil, null on the wire, while it has none).
type UnitEvents struct {
	Items          []UnitEvent     `json:"items"`
	NextCursor     *string         `json:"next_cursor"`
	DefrostPattern *DefrostPattern `json:"defrost_pattern"`
}

// UnitEventKinds are the kinds of unit_events.
var UnitEventKinds = []string{"defrost", "door_open"}

// UnitEventParams are the inputs of [ListUnitEvents].
type UnitEventParams struct {
	OrgID, UnitID string
	// From and To select the events that overlap [From, To): those that
	// started before To and had not ended before From (a running one has
	// not). Zero is unbounded.
	From, To time.Time
	// Kind is "" (all), defrost or door_open.
	Kind string
	// Cursor is the previous page's NextCursor; "" for the first.
	Cursor string
	// Limit is the page size, 1 to 200. Defaults to 50.
	Limit int
}

// ListUnitEvents lists a unit's recognised events, latest start first, a
// page at a time, with the unit's defrost pattern. Bad parameters are a
// [*ValidationError] naming the query parameter; a unit the organisation
// does not have [ErrNotFound].
func ListUnitEvents(ctx context.Context, db database.Querier, p UnitEventParams) (UnitEvents, error) {
	switch p.Kind {
	case "", "defrost", "door_open":
	default:
		return UnitEvents{}, &ValidationError{Field: "kind", Reason: "must be defrost or door_open"}
	}
	from, to, err := window(p.From, p.To)
	if err != nil {
		return UnitEvents{}, err
	}
	limit, err := pageLimit(p.Limit)
	if err != nil {
		return UnitEvents{}, err
	}
	curAt, curID, err := decodeCursor(p.Cursor)
	if err != nil {
		return UnitEvents{}, err
	}
	if err := unitExists(ctx, db, p.OrgID, p.UnitID); err != nil {
		return UnitEvents{}, err
	}
	rows, err := db.Query(ctx, `
		SELECT id::text, unit_id::text, kind, source, started_at, ended_at, peak_c, within_bounds, details, created_at, updated_at
		  FROM unit_events
		 WHERE org_id = $1 AND unit_id = $2
		   AND ($3 = '' OR kind = $3)
		   AND ($4::timestamptz IS NULL OR ended_at IS NULL OR ended_at >= $4)
		   AND ($5::timestamptz IS NULL OR started_at < $5)
		   AND ($6::timestamptz IS NULL OR (started_at, id) < ($6, $7::uuid))
		 ORDER BY started_at DESC, id DESC LIMIT $8`,
		p.OrgID, p.UnitID, p.Kind, from, to, curAt, curID, limit+1)
	if err != nil {
		return UnitEvents{}, fmt.Errorf("list unit events: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnitEvent, error) {
		var e UnitEvent
		err := r.Scan(&e.ID, &e.UnitID, &e.Kind, &e.Source, &e.StartedAt, &e.EndedAt, &e.PeakC, &e.WithinBounds, &e.Details, &e.CreatedAt, &e.UpdatedAt)
		return e, err
	})
	if err != nil {
		return UnitEvents{}, fmt.Errorf("list unit events: %w", err)
	}
	out := UnitEvents{Items: items}
	if out.Items == nil {
		out.Items = []UnitEvent{}
	}
	if len(items) > limit {
		out.Items = items[:limit]
		last := out.Items[limit-1]
		next := encodeCursor(last.StartedAt, last.ID)
		out.NextCursor = &next
	}
	var d DefrostPattern
	err = db.QueryRow(ctx, `
		SELECT period_seconds, anchor, phase_tolerance_seconds, duration_seconds, peak_c, max_peak_c, max_duration_seconds, episodes, learned_at
		  FROM defrost_patterns WHERE org_id = $1 AND unit_id = $2`, p.OrgID, p.UnitID).
		Scan(&d.PeriodSeconds, &d.Anchor, &d.PhaseToleranceSeconds, &d.DurationSeconds, &d.PeakC, &d.MaxPeakC, &d.MaxDurationSeconds, &d.Episodes, &d.LearnedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return UnitEvents{}, fmt.Errorf("defrost pattern: %w", err)
	default:
		out.DefrostPattern = &d
	}
	return out, nil
}
