// Package errs holds the errors every capability returns for the same three
// outcomes, so the API maps each of them to one answer wherever it comes from:
// [ErrNotFound] (404), [*ValidationError] (400 naming the field),
// [*ConflictError] (409) and [*ForbiddenError] (403).
//
// Capabilities re-export them under their own names (auth.ErrNotFound,
// query.ValidationError, ...), with a doc comment that says when they are
// returned there; the values and types are these, so errors.Is and errors.As
// match across packages. An error with more to say (alerting's ConflictError
// names the alert and its status; crud's ValidationError lists several
// fields) stays with its capability.
//
// It must not import any FreshTrack package: every capability imports it.
package errs
