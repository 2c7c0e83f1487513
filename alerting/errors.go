package alerting

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/errs"
)

// ErrNotFound is returned for an alert (or unit, rule) that does not exist,
// belongs to another organisation, or whose id is not a UUID. It deliberately
// does not say which.
var ErrNotFound = errs.ErrNotFound

// ValidationError reports a parameter that cannot be accepted. The API maps
// it to a 400 naming Field.
type ValidationError = errs.ValidationError

// ConflictError reports a lifecycle change that the alert's current status
// does not allow, such as acknowledging a resolved alert. The API maps it to
// a 409.
type ConflictError struct {
	// AlertID is the alert concerned.
	AlertID string
	// Status is the alert's current status ("acknowledged", "resolved").
	Status string
	// Reason says what was refused.
	Reason string
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("alert %s is %s: %s", e.AlertID, e.Status, e.Reason)
}

// pgCode returns the SQLSTATE and constraint of a PostgreSQL error.
func pgCode(err error) (code, constraint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}

// retryable reports whether a transaction failed only because of a
// concurrent one (deadlock, serialization failure) and may simply be re-run.
func retryable(err error) bool {
	code, _ := pgCode(err)
	return code == "40P01" || code == "40001"
}
