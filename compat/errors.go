package compat

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/problem"
)

// ContentType is the media type of every answer of the legacy routes, as
// Fastify sent it.
const ContentType = "application/json; charset=utf-8"

// Error is an answer in FreshTrack Pro's error shape:
//
//	{"error":{"code":"FORBIDDEN","message":"Units do not belong to organization"}}
type Error struct {
	Status  int
	Code    string
	Message string
	// Details name each invalid field (validation errors only).
	Details []Detail
	// RetryAfter, in seconds, is sent as Retry-After when set.
	RetryAfter int
}

// Detail is one invalid field of a refused request.
type Detail struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// codeFor is FreshTrack Pro's code for a status.
func codeFor(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "BAD_REQUEST"
	case fiber.StatusUnauthorized:
		return "UNAUTHORIZED"
	case fiber.StatusForbidden:
		return "FORBIDDEN"
	case fiber.StatusNotFound:
		return "NOT_FOUND"
	case fiber.StatusRequestEntityTooLarge:
		return "PAYLOAD_TOO_LARGE"
	case fiber.StatusUnsupportedMediaType:
		return "UNSUPPORTED_MEDIA_TYPE"
	case fiber.StatusUnprocessableEntity:
		return "UNPROCESSABLE_ENTITY"
	case fiber.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case fiber.StatusServiceUnavailable:
		return "SERVICE_UNAVAILABLE"
	}
	if status >= 500 {
		return "INTERNAL_ERROR"
	}
	return "REQUEST_ERROR"
}

// newError is an Error with the code of its status.
func newError(status int, message string) *Error {
	return &Error{Status: status, Code: codeFor(status), Message: message}
}

var (
	errMissingKey = newError(fiber.StatusUnauthorized, "Missing API key")
	errInvalidKey = newError(fiber.StatusUnauthorized, "Invalid API key")
	errForeign    = newError(fiber.StatusForbidden, "Units do not belong to organization")
)

// seedError translates any error into FreshTrack Pro's shape: an *Error
// as it is, a problem (from httpbody, admission, ingest) with its status,
// detail and fields, anything else as a 500 whose detail stays in the log.
func seedError(err error, log *slog.Logger, c *fiber.Ctx) *Error {
	var e *Error
	var p *problem.Problem
	var fe *fiber.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &p):
		e = newError(p.Status, p.Detail)
		if e.Message == "" {
			e.Message = p.Title
		}
		for _, f := range p.Fields {
			e.Details = append(e.Details, Detail{Field: f.Field, Message: f.Reason})
		}
		e.RetryAfter = p.RetryAfter
		return e
	case errors.As(err, &fe):
		return newError(fe.Code, fe.Message)
	}
	log.Error("legacy route failed", slog.String("method", c.Method()), slog.String("path", c.Path()), slog.Any("err", err))
	return newError(fiber.StatusInternalServerError, "An internal error occurred")
}

// handle adapts a handler to answer its errors in FreshTrack Pro's shape.
// The error is written here rather than by the app's error handler, which
// answers problem+json.
func handle(log *slog.Logger, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := h(c)
		if err == nil {
			return nil
		}
		e := seedError(err, log, c)
		if e.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
		}
		type body struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Details []Detail `json:"details,omitempty"`
		}
		return send(c, e.Status, struct {
			Error body `json:"error"`
		}{body{e.Code, e.Message, e.Details}})
	}
}

// send answers v as JSON with status.
func send(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ContentType)
	return c.Status(status).Send(b)
}
