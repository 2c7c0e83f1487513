package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/errs"
)

// ErrNotFound is returned when an organisation or API key does not exist, has
// been deleted, belongs to another organisation, or its id is not a UUID.
var ErrNotFound = errs.ErrNotFound

// ErrUnauthorized is returned by [KeyVerifier.Verify] for an API key that is
// malformed, unknown or revoked, or whose organisation has been deleted. It
// deliberately does not say which.
var ErrUnauthorized = errors.New("invalid or revoked API key")

// ValidationError reports a parameter that cannot be stored.
type ValidationError = errs.ValidationError

// ConflictError is a change the current rows do not allow (an API answers
// 409): adding a member twice, removing the last owner.
type ConflictError = errs.ConflictError

// ForbiddenError is a change the caller's role may not make (an API answers
// 403), found only once the rows it touches are read: an owner's membership.
type ForbiddenError = errs.ForbiddenError

// ErrOrganizationChanged is returned by [UpdateOrganization] when the
// organisation's version is no longer the one the caller read.
var ErrOrganizationChanged = errors.New("the organisation changed since you read it; read it again")

// pgCode returns the SQLSTATE and constraint name of a PostgreSQL error, or
// empty strings for any other error.
func pgCode(err error) (code, constraint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}

// maxNameLen is the longest name the schema's CHECK constraints allow.
const maxNameLen = 200

// cleanName trims a display name and checks it against the schema's rules:
// 1 to 200 characters, valid UTF-8, no control characters.
func cleanName(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return "", &ValidationError{Field: field, Reason: "must be valid UTF-8"}
	case n == 0:
		return "", &ValidationError{Field: field, Reason: "must not be empty"}
	case n > maxNameLen:
		return "", &ValidationError{Field: field, Reason: fmt.Sprintf("must be at most %d characters, got %d", maxNameLen, n)}
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", &ValidationError{Field: field, Reason: "must not contain control characters"}
	}
	return s, nil
}

// actorOr returns actor, or "system" when it is empty.
func actorOr(actor string) string {
	if actor = strings.TrimSpace(actor); actor == "" {
		return "system"
	}
	return actor
}
