package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/errs"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// capabilityError maps the errors every capability shares (internal/errs) to
// problems; what names the resource a not-found refers to ("alert", "unit").
// Any other error is returned unchanged, for the caller's own mapping or the
// server's 500.
func capabilityError(what string, err error) error {
	var ve *errs.ValidationError
	var fe *errs.ForbiddenError
	var ce *errs.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errs.ErrNotFound):
		return problem.NotFound(what)
	case errors.As(err, &ve):
		return problem.Validation(problem.FieldError{Field: ve.Field, Reason: ve.Reason})
	case errors.As(err, &fe):
		return problem.New(fiber.StatusForbidden, "forbidden", "Forbidden", fe.Reason)
	case errors.As(err, &ce):
		return problem.New(fiber.StatusConflict, "conflict", "Conflict", ce.Reason)
	}
	return err
}
