package query

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned when a unit or site does not exist, belongs to
// another organisation, or its id is not a UUID. The three cases are
// deliberately indistinguishable, so a caller cannot probe other tenants.
var ErrNotFound = errors.New("not found")

// ValidationError reports a parameter that cannot be answered.
type ValidationError struct {
	// Field names the parameter in snake_case, as an API would ("from", "resolution").
	Field string
	// Reason says what is wrong and what is allowed.
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}
