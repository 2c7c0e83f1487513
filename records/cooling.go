package records

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// The two-stage cooling rule (FDA Food Code 3-501.14): from 57 °C to
// 21 °C within 2 hours, and to 5 °C within 6 hours of the start.
const (
	Stage1TargetC = 21.0
	Stage2TargetC = 5.0
	Stage1Within  = 2 * time.Hour
	Stage2Within  = 6 * time.Hour
)

// CoolingUnitKinds are the unit kinds food is cooled in, where a person may
// start a cooling log.
var CoolingUnitKinds = []string{"blast_chiller", "hot_holding"}

// CoolingLog is one cooling cycle, in its wire form.
type CoolingLog struct {
	ID     string  `json:"id"`
	UnitID string  `json:"unit_id"`
	Item   *string `json:"item"`
	// Source is manual (started by a person) or detected.
	Source string `json:"source"`
	// StartedBy is the user who started a manual cycle.
	StartedBy *string   `json:"started_by"`
	StartedAt time.Time `json:"started_at"`
	StartC    *float64  `json:"start_c"`
	// Stage1* and Stage2* are each stage's target, deadline and when the
	// target was reached (null until then).
	Stage1TargetC  float64    `json:"stage1_target_c"`
	Stage1Deadline time.Time  `json:"stage1_deadline"`
	Stage1At       *time.Time `json:"stage1_at"`
	Stage2TargetC  float64    `json:"stage2_target_c"`
	Stage2Deadline time.Time  `json:"stage2_deadline"`
	Stage2At       *time.Time `json:"stage2_at"`
	// Status is running, passed, failed or cancelled; FailedStage is the
	// stage a failed cycle missed.
	Status      string     `json:"status"`
	FailedStage *int16     `json:"failed_stage"`
	EndedAt     *time.Time `json:"ended_at"`
	// LastC is the latest temperature the detectors saw.
	LastC     *float64  `json:"last_c"`
	Notes     *string   `json:"notes"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Cooling log statuses.
const (
	CoolingRunning   = "running"
	CoolingPassed    = "passed"
	CoolingFailed    = "failed"
	CoolingCancelled = "cancelled"
)

// maxCoolingBackdate is how long ago a person may say a cycle started:
// the whole second stage.
const maxCoolingBackdate = Stage2Within

const coolingSelect = `SELECT ` + coolingColumns + ` FROM cooling_logs`

func scanCooling(row pgx.Row) (CoolingLog, error) {
	var l CoolingLog
	err := row.Scan(&l.ID, &l.UnitID, &l.Item, &l.Source, &l.StartedBy, &l.StartedAt, &l.StartC,
		&l.Stage1TargetC, &l.Stage1Deadline, &l.Stage1At, &l.Stage2TargetC, &l.Stage2Deadline, &l.Stage2At,
		&l.Status, &l.FailedStage, &l.EndedAt, &l.LastC, &l.Notes, &l.CreatedAt, &l.UpdatedAt)
	return l, err
}

// StartCoolingParams are the inputs of [StartCooling].
type StartCoolingParams struct {
	OrgID, UnitID string
	// UserID is who starts it (started_by); Actor is recorded in the audit
	// log ("user:<id>").
	UserID, Actor string
	// Item is what is cooled (at most 200 characters), optional.
	Item string
	// StartedAt is when cooling began: not in the future, at most 6 hours
	// ago; nil: now.
	StartedAt *time.Time
	// StartC is the food's temperature at the start, -100 to 200 °C,
	// optional.
	StartC *float64
	// Notes are at most 4000 characters, optional.
	Notes string
}

// StartCooling starts a manual cooling cycle on a blast chiller or hot
// holding unit: status running, the stages' deadlines 2 h and 6 h after
// its start, with its audit row in one transaction. Bad input, or a unit
// of another kind, is a [*ValidationError]; a unit that already has a
// running cycle a [*ConflictError]; a unit the organisation does not have
// [ErrNotFound].
func StartCooling(ctx context.Context, db database.DB, p StartCoolingParams) (CoolingLog, error) {
	now := time.Now()
	at := now
	if p.StartedAt != nil {
		at = *p.StartedAt
	}
	switch {
	case at.After(now.Add(clockSkew)):
		return CoolingLog{}, &ValidationError{Field: "started_at", Reason: "must not be in the future"}
	case at.Before(now.Add(-maxCoolingBackdate)):
		return CoolingLog{}, &ValidationError{Field: "started_at", Reason: "must be at most 6 hours ago: a cycle that started earlier is already past its last deadline"}
	case p.StartC != nil && (*p.StartC < -100 || *p.StartC > 200):
		return CoolingLog{}, &ValidationError{Field: "start_c", Reason: "must be from -100 to 200 °C"}
	}
	item, err := text("item", p.Item, 200)
	if err != nil {
		return CoolingLog{}, err
	}
	notes, err := text("notes", p.Notes, 4000)
	if err != nil {
		return CoolingLog{}, err
	}
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.UnitID) {
		return CoolingLog{}, ErrNotFound
	}
	var l CoolingLog
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var kind string
		err := tx.QueryRow(ctx, `SELECT kind FROM units WHERE org_id = $1 AND id = $2`, p.OrgID, p.UnitID).Scan(&kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("start cooling: %w", err)
		}
		if !slices.Contains(CoolingUnitKinds, kind) {
			return &ValidationError{Field: "unit", Reason: "is a " + kind + " unit; cooling logs are kept for blast_chiller and hot_holding units"}
		}
		l, err = scanCooling(tx.QueryRow(ctx, `
			INSERT INTO cooling_logs (org_id, unit_id, item, source, started_by, started_at, start_c,
			                          stage1_target_c, stage1_deadline, stage2_target_c, stage2_deadline, notes)
			VALUES ($1, $2, $3, 'manual', $4, $5, $6, $7, $8, $9, $10, $11)
			RETURNING `+coolingColumns,
			p.OrgID, p.UnitID, item, p.UserID, at, p.StartC, Stage1TargetC, at.Add(Stage1Within), Stage2TargetC, at.Add(Stage2Within), notes))
		if err != nil {
			return coolingConflict(err)
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "cooling_log.start",
			TargetType: "unit", TargetID: p.UnitID, Details: map[string]any{"cooling_log_id": l.ID, "started_at": l.StartedAt, "item": l.Item}})
	})
	if err != nil {
		return CoolingLog{}, err
	}
	return l, nil
}

// coolingColumns are coolingSelect's columns, for RETURNING.
const coolingColumns = `id::text, unit_id::text, item, source, started_by::text, started_at, start_c,
	       stage1_target_c, stage1_deadline, stage1_at, stage2_target_c, stage2_deadline, stage2_at,
	       status, failed_stage, ended_at, last_c, notes, created_at, updated_at`

// coolingConflict maps the unique indexes of cooling_logs to conflicts.
func coolingConflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		switch pgErr.ConstraintName {
		case "cooling_logs_one_running":
			return &ConflictError{Reason: "a cooling cycle is already running on this unit; let it finish or cancel it first"}
		case "cooling_logs_unit_id_started_at_key":
			return &ConflictError{Reason: "a cooling cycle of this unit already started at that time"}
		}
	}
	return fmt.Errorf("start cooling: %w", err)
}

// CancelCoolingParams are the inputs of [CancelCooling].
type CancelCoolingParams struct {
	OrgID, UnitID, LogID string
	// Actor is recorded in the audit log ("user:<id>").
	Actor string
}

// CancelCooling ends a running cooling cycle as cancelled (ended now) with
// its audit row. A cycle that already ended is a [*ConflictError]; a unit
// or log the organisation does not have [ErrNotFound].
func CancelCooling(ctx context.Context, db database.DB, p CancelCoolingParams) (CoolingLog, error) {
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.UnitID) || !uuids.Valid(p.LogID) {
		return CoolingLog{}, ErrNotFound
	}
	var l CoolingLog
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM cooling_logs WHERE org_id = $1 AND unit_id = $2 AND id = $3 FOR UPDATE`,
			p.OrgID, p.UnitID, p.LogID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("cancel cooling: %w", err)
		}
		if status != CoolingRunning {
			return &ConflictError{Reason: "this cooling cycle has already ended (" + status + "); only a running one can be cancelled"}
		}
		if l, err = scanCooling(tx.QueryRow(ctx, `
			UPDATE cooling_logs SET status = 'cancelled', ended_at = now(), updated_at = now()
			 WHERE id = $1 RETURNING `+coolingColumns, p.LogID)); err != nil {
			return fmt.Errorf("cancel cooling: %w", err)
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "cooling_log.cancel",
			TargetType: "unit", TargetID: p.UnitID, Details: map[string]any{"cooling_log_id": l.ID, "started_at": l.StartedAt}})
	})
	if err != nil {
		return CoolingLog{}, err
	}
	return l, nil
}

// CoolingListParams are the inputs of [ListCooling].
type CoolingListParams struct {
	OrgID, UnitID string
	// From and To bound started_at: From <= started_at < To; zero is
	// unbounded.
	From, To time.Time
	// Cursor is the previous page's NextCursor; "" for the first.
	Cursor string
	// Limit is the page size, 1 to 200. Defaults to 50.
	Limit int
}

// ListCooling lists a unit's cooling cycles, latest start first, a page
// at a time. Bad parameters are a [*ValidationError] naming the query
// parameter; a unit the organisation does not have [ErrNotFound].
func ListCooling(ctx context.Context, db database.Querier, p CoolingListParams) (Page[CoolingLog], error) {
	from, to, err := window(p.From, p.To)
	if err != nil {
		return Page[CoolingLog]{}, err
	}
	limit, err := pageLimit(p.Limit)
	if err != nil {
		return Page[CoolingLog]{}, err
	}
	curAt, curID, err := decodeCursor(p.Cursor)
	if err != nil {
		return Page[CoolingLog]{}, err
	}
	if err := unitExists(ctx, db, p.OrgID, p.UnitID); err != nil {
		return Page[CoolingLog]{}, err
	}
	rows, err := db.Query(ctx, coolingSelect+`
		 WHERE org_id = $1 AND unit_id = $2
		   AND ($3::timestamptz IS NULL OR started_at >= $3)
		   AND ($4::timestamptz IS NULL OR started_at < $4)
		   AND ($5::timestamptz IS NULL OR (started_at, id) < ($5, $6::uuid))
		 ORDER BY started_at DESC, id DESC LIMIT $7`,
		p.OrgID, p.UnitID, from, to, curAt, curID, limit+1)
	if err != nil {
		return Page[CoolingLog]{}, fmt.Errorf("list cooling logs: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CoolingLog, error) { return scanCooling(r) })
	if err != nil {
		return Page[CoolingLog]{}, fmt.Errorf("list cooling logs: %w", err)
	}
	page := Page[CoolingLog]{Items: items}
	if page.Items == nil {
		page.Items = []CoolingLog{}
	}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		next := encodeCursor(last.StartedAt, last.ID)
		page.NextCursor = &next
	}
	return page, nil
}

// unitExists is nil for a unit of the organisation, else [ErrNotFound].
func unitExists(ctx context.Context, db database.Querier, orgID, unitID string) error {
	if !uuids.Valid(orgID) || !uuids.Valid(unitID) {
		return ErrNotFound
	}
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE org_id = $1 AND id = $2)`, orgID, unitID).Scan(&exists); err != nil {
		return fmt.Errorf("look up unit: %w", err)
	}
	if !exists {
		return ErrNotFound
	}
	return nil
}
