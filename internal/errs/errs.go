package errs

import (
	"errors"
	"fmt"
)

// ErrNotFound is a row that does not exist, belongs to another organisation,
// or whose id is not a UUID. The cases are deliberately indistinguishable, so
// a caller cannot probe other tenants.
var ErrNotFound = errors.New("not found")

// ValidationError reports a parameter that cannot be accepted.
type ValidationError struct {
	// Field names the parameter in snake_case, as the API spells it
	// ("from", "steps[1].channels").
	Field string
	// Reason says what is wrong and what is allowed.
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// ConflictError is a change the current rows do not allow: a duplicate, the
// last owner's removal, a row still referenced.
type ConflictError struct {
	// Reason says what is in the way and what to do instead.
	Reason string
}

// Error implements error.
func (e *ConflictError) Error() string { return e.Reason }

// ForbiddenError is a change the caller's role may not make, found only once
// the rows it touches are read (an owner's membership).
type ForbiddenError struct {
	// Reason says who may make the change.
	Reason string
}

// Error implements error.
func (e *ForbiddenError) Error() string { return e.Reason }
