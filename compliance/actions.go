package compliance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Dispositions are what may happen to food after an excursion
// (corrective_actions.disposition).
var Dispositions = []string{"kept", "moved", "reheated", "discarded", "other"}

// RecordedAction is a corrective_actions row as its edit returns it.
type RecordedAction struct {
	// ID is the action's id.
	ID string `json:"id"`
	// UnitID is the unit it was taken on.
	UnitID string `json:"unit_id"`
	// AlertID is the alert it answers; nil for an action on its own.
	AlertID *string `json:"alert_id"`
	// Action says what was done.
	Action string `json:"action"`
	// Disposition is kept, moved, reheated, discarded or other.
	Disposition string `json:"disposition"`
	// Notes are free text; nil without.
	Notes *string `json:"notes"`
	// TakenBy is the user who took it; nil when unknown.
	TakenBy *string `json:"taken_by"`
	// TakenAt is when.
	TakenAt time.Time `json:"taken_at"`
}

// EditActionParams are the inputs of [EditCorrectiveAction]. A nil field is
// left as it is.
type EditActionParams struct {
	// OrgID is the caller's organisation; ActionID the row.
	OrgID, ActionID string
	// Action replaces what was done (1 to 4000 characters).
	Action *string
	// Disposition replaces the disposition.
	Disposition *string
	// Notes replace the notes (at most 4000 characters; empty clears them).
	Notes *string
	// Actor is the audit actor.
	Actor string
}

// EditCorrectiveAction corrects the text of a recorded corrective action
// (what was done, the disposition, the notes). Who took it and when stay as
// recorded. The change is audited (corrective_action.edit, with the values
// before and after), and a signature over a period the action appears in
// becomes stale, because the report's content changed.
func EditCorrectiveAction(ctx context.Context, db database.DB, p EditActionParams) (RecordedAction, error) {
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.ActionID) {
		return RecordedAction{}, ErrNotFound
	}
	if p.Action == nil && p.Disposition == nil && p.Notes == nil {
		return RecordedAction{}, &ValidationError{Field: "action", Reason: "nothing to change: send action, disposition or notes"}
	}
	if p.Action != nil {
		a := strings.TrimSpace(*p.Action)
		if a == "" || utf8.RuneCountInString(a) > 4000 {
			return RecordedAction{}, &ValidationError{Field: "action", Reason: "must be 1 to 4000 characters: say what was done"}
		}
		p.Action = &a
	}
	if p.Disposition != nil && !slices.Contains(Dispositions, *p.Disposition) {
		return RecordedAction{}, &ValidationError{Field: "disposition", Reason: "must be kept, moved, reheated, discarded or other"}
	}
	if p.Notes != nil && utf8.RuneCountInString(*p.Notes) > 4000 {
		return RecordedAction{}, &ValidationError{Field: "notes", Reason: "must be at most 4000 characters"}
	}
	var out RecordedAction
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var before RecordedAction
		err := tx.QueryRow(ctx, `
			SELECT id::text, unit_id::text, alert_id::text, action, disposition, notes, taken_by::text, taken_at
			  FROM corrective_actions WHERE org_id = $1 AND id = $2 FOR UPDATE`, p.OrgID, p.ActionID).
			Scan(&before.ID, &before.UnitID, &before.AlertID, &before.Action, &before.Disposition, &before.Notes, &before.TakenBy, &before.TakenAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("edit corrective action: %w", err)
		}
		out = before
		if p.Action != nil {
			out.Action = *p.Action
		}
		if p.Disposition != nil {
			out.Disposition = *p.Disposition
		}
		if p.Notes != nil {
			out.Notes = nil
			if n := strings.TrimSpace(*p.Notes); n != "" {
				out.Notes = &n
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE corrective_actions SET action = $3, disposition = $4, notes = $5 WHERE org_id = $1 AND id = $2`,
			p.OrgID, p.ActionID, out.Action, out.Disposition, out.Notes); err != nil {
			return fmt.Errorf("edit corrective action: %w", err)
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "corrective_action.edit",
			TargetType: "corrective_action", TargetID: p.ActionID, Details: map[string]any{
				"before": map[string]any{"action": before.Action, "disposition": before.Disposition, "notes": before.Notes},
				"after":  map[string]any{"action": out.Action, "disposition": out.Disposition, "notes": out.Notes}}})
	})
	if err != nil {
		return RecordedAction{}, err
	}
	out.TakenAt = out.TakenAt.UTC()
	return out, nil
}
