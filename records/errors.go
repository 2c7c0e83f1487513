package records

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/freshtrack/freshtrack/internal/errs"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// ErrNotFound is a sensor, unit or log that does not exist, belongs to
// another organisation or has a malformed id.
var ErrNotFound = errs.ErrNotFound

// ValidationError names the field of a request that cannot be accepted.
type ValidationError = errs.ValidationError

// ConflictError is a change the current rows do not allow (a second
// running cooling log on a unit, cancelling a finished one).
type ConflictError = errs.ConflictError

// Page is one page of a list, in the shape every list of the API answers.
type Page[T any] struct {
	Items []T `json:"items"`
	// NextCursor fetches the next page; null on the last one.
	NextCursor *string `json:"next_cursor"`
}

// Limits of a page, as the API's other lists.
const (
	defaultLimit = 50
	maxLimit     = 200
)

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return defaultLimit, nil
	case n < 1 || n > maxLimit:
		return 0, &ValidationError{Field: "limit", Reason: "must be from 1 to 200"}
	}
	return n, nil
}

// A cursor is an opaque encoding of the last row's (time, id): pages stay
// stable while rows are added.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "." + id))
}

func decodeCursor(c string) (*time.Time, *string, error) {
	if c == "" {
		return nil, nil, nil
	}
	bad := &ValidationError{Field: "cursor", Reason: "is not a cursor this API returned"}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, nil, bad
	}
	us, id, ok := strings.Cut(string(b), ".")
	if !ok || !uuids.Valid(id) {
		return nil, nil, bad
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return nil, nil, bad
	}
	at := time.UnixMicro(n).UTC()
	return &at, &id, nil
}

// window checks a list's from and to: from before to when both are given.
func window(from, to time.Time) (*time.Time, *time.Time, error) {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, nil, &ValidationError{Field: "from", Reason: "must be before to"}
	}
	return nullTime(from), nullTime(to), nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// text is an optional text field: empty is stored as null.
func text(field, s string, max int) (*string, error) {
	switch {
	case s == "":
		return nil, nil
	case len([]rune(s)) > max:
		return nil, &ValidationError{Field: field, Reason: "must be at most " + strconv.Itoa(max) + " characters"}
	}
	return &s, nil
}
