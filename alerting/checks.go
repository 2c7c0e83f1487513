package alerting

// This file owns manual temperature checks (manual_checks): a person's probe
// reading of a unit, listed with the unit's history and kept for the HACCP
// record. The api package decodes the request and calls these; it runs none
// of their SQL.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// ListManualChecks returns a unit's manual checks, newest first (at most
// 500), each in its wire form; [ErrNotFound] for a unit the organisation
// does not have.
func ListManualChecks(ctx context.Context, db database.DB, orgID, unitID string) ([]json.RawMessage, error) {
	if !uuids.Valid(unitID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `
				SELECT jsonb_build_object('id', m.id, 'unit_id', m.unit_id, 'checked_at', m.checked_at, 'temp_c', m.temp_c, 'checked_by', m.checked_by, 'notes', m.notes)
				  FROM manual_checks m JOIN units u ON u.id = m.unit_id AND u.org_id = m.org_id
				 WHERE m.org_id = $1 AND m.unit_id = $2 ORDER BY m.checked_at DESC LIMIT 500`, orgID, unitID)
	if err != nil {
		return nil, err
	}
	items, err := database.JSONList(rows)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE org_id = $1 AND id = $2)`, orgID, unitID).Scan(&exists); err != nil {
			return nil, err
		}
		if !exists {
			return nil, ErrNotFound
		}
		items = []json.RawMessage{}
	}
	return items, nil
}

// ManualCheckParams are the inputs of [RecordManualCheck].
type ManualCheckParams struct {
	OrgID  string
	UnitID string
	// UserID is who measured (checked_by); Actor is recorded in the audit
	// log ("user:<id>").
	UserID, Actor string
	// TempC is required, from -100 to 200 °C.
	TempC *float64
	// CheckedAt is when it was measured, at most 5 minutes ahead; nil: now.
	CheckedAt *time.Time
	// Notes are at most 4000 characters; empty is stored as null.
	Notes string
}

// RecordManualCheck stores a manual check of a unit with its audit row, in
// one transaction, and returns it in its wire form. Bad input is a
// [*ValidationError]; a unit the organisation does not have, [ErrNotFound].
func RecordManualCheck(ctx context.Context, db database.DB, p ManualCheckParams) (json.RawMessage, error) {
	switch {
	case p.TempC == nil || *p.TempC < -100 || *p.TempC > 200:
		return nil, &ValidationError{Field: "temp_c", Reason: "is required, from -100 to 200 °C"}
	case p.CheckedAt != nil && p.CheckedAt.After(time.Now().Add(5*time.Minute)):
		return nil, &ValidationError{Field: "checked_at", Reason: "must not be in the future"}
	case len(p.Notes) > 4000:
		return nil, &ValidationError{Field: "notes", Reason: "must be at most 4000 characters"}
	}
	at := time.Now()
	if p.CheckedAt != nil {
		at = *p.CheckedAt
	}
	if !uuids.Valid(p.UnitID) {
		return nil, ErrNotFound
	}
	var item json.RawMessage
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `
					INSERT INTO manual_checks (org_id, unit_id, checked_at, temp_c, checked_by, notes)
					SELECT $1, u.id, $3, $4, $5, nullif($6, '') FROM units u WHERE u.org_id = $1 AND u.id = $2
					RETURNING id, jsonb_build_object('id', id, 'unit_id', unit_id, 'checked_at', checked_at, 'temp_c', temp_c, 'checked_by', checked_by, 'notes', notes)`,
			p.OrgID, p.UnitID, at, *p.TempC, p.UserID, p.Notes).Scan(&id, &item)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "manual_check.create",
			TargetType: "unit", TargetID: p.UnitID, Details: map[string]any{"temp_c": *p.TempC, "checked_at": at}})
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}
