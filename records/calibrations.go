package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Calibration is one calibration record of a sensor, in its wire form.
type Calibration struct {
	ID string `json:"id"`
	// SensorID is the sensor's public id.
	SensorID     string    `json:"sensor_id"`
	CalibratedAt time.Time `json:"calibrated_at"`
	// DueAt is when the next calibration is due.
	DueAt time.Time `json:"due_at"`
	// ReferenceC is what the reference thermometer (or ice bath) read,
	// MeasuredC what the sensor read, OffsetC the correction applied.
	ReferenceC  *float64 `json:"reference_c"`
	MeasuredC   *float64 `json:"measured_c"`
	OffsetC     *float64 `json:"offset_c"`
	Method      *string  `json:"method"`
	Certificate *string  `json:"certificate"`
	// PerformedBy is the user who recorded it; null once that user is
	// deleted.
	PerformedBy *string   `json:"performed_by"`
	Notes       *string   `json:"notes"`
	CreatedAt   time.Time `json:"created_at"`
}

// Bounds of a calibration record.
const (
	// MaxCalibrationInterval is the longest a calibration may stay valid.
	MaxCalibrationInterval = 5 * 365 * 24 * time.Hour
	// clockSkew is how far ahead of the server's clock a time a person
	// gives may be, for devices whose clocks run fast.
	clockSkew = 5 * time.Minute
	// maxCalibrations is the most records a list answers.
	maxCalibrations = 500
)

const calibrationSelect = `
	SELECT c.id::text, s.public_id::text, c.calibrated_at, c.due_at, c.reference_c, c.measured_c, c.offset_c,
	       c.method, c.certificate, c.performed_by::text, c.notes, c.created_at
	  FROM sensor_calibrations c JOIN sensors s ON s.org_id = c.org_id AND s.id = c.sensor_id`

func scanCalibration(row pgx.Row) (Calibration, error) {
	var c Calibration
	err := row.Scan(&c.ID, &c.SensorID, &c.CalibratedAt, &c.DueAt, &c.ReferenceC, &c.MeasuredC, &c.OffsetC,
		&c.Method, &c.Certificate, &c.PerformedBy, &c.Notes, &c.CreatedAt)
	return c, err
}

// ListCalibrations returns a sensor's calibration records, newest
// calibration first (at most 500); [ErrNotFound] for a sensor (public id)
// the organisation does not have. A retired sensor's records are still
// listed: they are part of its history.
func ListCalibrations(ctx context.Context, db database.Querier, orgID, sensorID string) ([]Calibration, error) {
	if !uuids.Valid(orgID) || !uuids.Valid(sensorID) {
		return nil, ErrNotFound
	}
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sensors WHERE org_id = $1 AND public_id = $2)`, orgID, sensorID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("list calibrations: %w", err)
	}
	if !exists {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, calibrationSelect+`
		 WHERE c.org_id = $1 AND s.public_id = $2
		 ORDER BY c.calibrated_at DESC, c.created_at DESC, c.id DESC LIMIT $3`, orgID, sensorID, maxCalibrations)
	if err != nil {
		return nil, fmt.Errorf("list calibrations: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Calibration, error) { return scanCalibration(r) })
	if err != nil {
		return nil, fmt.Errorf("list calibrations: %w", err)
	}
	if items == nil {
		items = []Calibration{}
	}
	return items, nil
}

// CalibrationParams are the inputs of [RecordCalibration].
type CalibrationParams struct {
	OrgID string
	// SensorID is the sensor's public id.
	SensorID string
	// UserID is who records it (performed_by); Actor is recorded in the
	// audit log ("user:<id>").
	UserID, Actor string
	// CalibratedAt is required and not in the future; DueAt is required,
	// after CalibratedAt and at most MaxCalibrationInterval after it.
	CalibratedAt, DueAt *time.Time
	// ReferenceC and MeasuredC are optional, -100 to 200 °C; OffsetC is
	// optional, -20 to 20 °C.
	ReferenceC, MeasuredC, OffsetC *float64
	// Method (at most 200 characters), Certificate (500) and Notes (4000)
	// are optional; empty is stored as null.
	Method, Certificate, Notes string
}

func (p *CalibrationParams) validate(now time.Time) (method, certificate, notes *string, err error) {
	switch {
	case p.CalibratedAt == nil:
		return nil, nil, nil, &ValidationError{Field: "calibrated_at", Reason: "is required (RFC 3339)"}
	case p.CalibratedAt.After(now.Add(clockSkew)):
		return nil, nil, nil, &ValidationError{Field: "calibrated_at", Reason: "must not be in the future"}
	case p.DueAt == nil:
		return nil, nil, nil, &ValidationError{Field: "due_at", Reason: "is required (RFC 3339)"}
	case !p.DueAt.After(*p.CalibratedAt):
		return nil, nil, nil, &ValidationError{Field: "due_at", Reason: "must be after calibrated_at"}
	case p.DueAt.Sub(*p.CalibratedAt) > MaxCalibrationInterval:
		return nil, nil, nil, &ValidationError{Field: "due_at", Reason: "must be at most 5 years after calibrated_at"}
	}
	for _, v := range []struct {
		field  string
		c      *float64
		lo, hi float64
	}{{"reference_c", p.ReferenceC, -100, 200}, {"measured_c", p.MeasuredC, -100, 200}, {"offset_c", p.OffsetC, -20, 20}} {
		if v.c != nil && (*v.c < v.lo || *v.c > v.hi) {
			return nil, nil, nil, &ValidationError{Field: v.field, Reason: fmt.Sprintf("must be from %g to %g °C", v.lo, v.hi)}
		}
	}
	if method, err = text("method", p.Method, 200); err != nil {
		return nil, nil, nil, err
	}
	if certificate, err = text("certificate", p.Certificate, 500); err != nil {
		return nil, nil, nil, err
	}
	if notes, err = text("notes", p.Notes, 4000); err != nil {
		return nil, nil, nil, err
	}
	return method, certificate, notes, nil
}

// RecordCalibration stores a sensor's calibration record with its audit
// row, in one transaction. Bad input is a [*ValidationError]; a sensor the
// organisation does not have, or has retired, [ErrNotFound].
func RecordCalibration(ctx context.Context, db database.DB, p CalibrationParams) (Calibration, error) {
	method, certificate, notes, err := p.validate(time.Now())
	if err != nil {
		return Calibration{}, err
	}
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.SensorID) {
		return Calibration{}, ErrNotFound
	}
	var c Calibration
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `
			INSERT INTO sensor_calibrations (org_id, sensor_id, calibrated_at, due_at, reference_c, measured_c, offset_c,
			                                 method, certificate, performed_by, notes)
			SELECT $1, s.id, $3, $4, $5, $6, $7, $8, $9, $10, $11
			  FROM sensors s WHERE s.org_id = $1 AND s.public_id = $2 AND s.retired_at IS NULL
			RETURNING id::text`,
			p.OrgID, p.SensorID, *p.CalibratedAt, *p.DueAt, p.ReferenceC, p.MeasuredC, p.OffsetC,
			method, certificate, p.UserID, notes).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("record calibration: %w", err)
		}
		if c, err = scanCalibration(tx.QueryRow(ctx, calibrationSelect+` WHERE c.id = $1`, id)); err != nil {
			return fmt.Errorf("record calibration: %w", err)
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "sensor_calibration.create",
			TargetType: "sensor", TargetID: p.SensorID,
			Details: map[string]any{"calibration_id": id, "calibrated_at": c.CalibratedAt, "due_at": c.DueAt, "offset_c": c.OffsetC}})
	})
	if err != nil {
		return Calibration{}, err
	}
	return c, nil
}
