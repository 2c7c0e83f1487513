package query

import (
	"github.com/freshtrack/freshtrack/internal/errs"
)

// ErrNotFound is returned when a unit or site does not exist, belongs to
// another organisation, or its id is not a UUID. The three cases are
// deliberately indistinguishable, so a caller cannot probe other tenants.
var ErrNotFound = errs.ErrNotFound

// ValidationError reports a parameter that cannot be answered.
type ValidationError = errs.ValidationError
