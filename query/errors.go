package query

import (
	"errors"
	"fmt"

	"github.com/freshtrack/freshtrack/schema"
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

// Querier is what a pool, a connection and a transaction have in common.
type Querier = schema.Querier

// ValidUUID reports whether s is a UUID in the canonical 8-4-4-4-12 hex form.
// Ids are checked before they reach PostgreSQL: a cast error there would
// abort the caller's transaction, and a malformed id can only be "not found".
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
