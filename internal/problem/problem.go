package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

// ContentType is the media type of problem details.
const ContentType = "application/problem+json"

// TypeBase prefixes every problem type URI.
const TypeBase = "https://freshtrack.dev/problems/"

// FieldError names one invalid field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Problem is an RFC 9457 problem detail. It is also an error, so handlers can
// return it and the error handler writes it.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Fields []FieldError `json:"errors,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header when set.
	RetryAfter int `json:"-"`
	// Extensions are members beside the standard ones (RFC 9457 §3.2), for
	// a client to act on: a limit's code, count and maximum, say. They
	// cannot replace a standard member.
	Extensions map[string]any `json:"-"`
}

// MarshalJSON writes the standard members and the extensions.
func (p *Problem) MarshalJSON() ([]byte, error) {
	type standard Problem
	b, err := json.Marshal((*standard)(p))
	if err != nil || len(p.Extensions) == 0 {
		return b, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return nil, err
	}
	for k, v := range p.Extensions {
		if _, taken := members[k]; taken || k == "detail" || k == "errors" {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("problem extension %s: %w", k, err)
		}
		members[k] = raw
	}
	return json.Marshal(members)
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// New returns a problem with a stable type slug (e.g. "validation").
func New(status int, slug, title, detail string) *Problem {
	return &Problem{Type: TypeBase + slug, Title: title, Status: status, Detail: detail}
}

// BadRequest is a 400 for a request that cannot be understood.
func BadRequest(detail string) *Problem {
	return New(fiber.StatusBadRequest, "bad-request", "Bad request", detail)
}

// Validation is a 400 naming each invalid field.
func Validation(fields ...FieldError) *Problem {
	p := New(fiber.StatusBadRequest, "validation", "Invalid request", "one or more fields are invalid")
	p.Fields = fields
	return p
}

// NotFound is a 404. A resource of another organisation gets the same answer.
func NotFound(what string) *Problem {
	return New(fiber.StatusNotFound, "not-found", "Not found", what+" not found")
}

// Unavailable is a 503 asking the client to retry after the given seconds.
func Unavailable(detail string, retryAfter int) *Problem {
	p := New(fiber.StatusServiceUnavailable, "unavailable", "Service unavailable", detail)
	p.RetryAfter = retryAfter
	return p
}

// Write sends p as the response.
func Write(c *fiber.Ctx, p *Problem) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if p.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.RetryAfter))
	}
	c.Set(fiber.HeaderContentType, ContentType)
	return c.Status(p.Status).Send(body)
}

// Handler is a Fiber ErrorHandler: a *Problem is written as is, a
// *fiber.Error becomes a problem with its status, and anything else is a 500
// whose detail stays in the log, not in the response.
func Handler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var p *Problem
		var fe *fiber.Error
		switch {
		case errors.As(err, &p):
		case errors.As(err, &fe):
			p = New(fe.Code, slugFor(fe.Code), statusTitle(fe.Code), fe.Message)
		default:
			log.ErrorContext(c.UserContext(), "request failed", slog.String("method", c.Method()), slog.String("path", c.Path()), slog.Any("err", err))
			detail := "the server failed to handle this request; it has been logged"
			if id := string(c.Response().Header.Peek("X-Request-Id")); id != "" {
				detail += " with request id " + id
			}
			p = New(fiber.StatusInternalServerError, "internal", "Internal server error", detail)
		}
		return Write(c, p)
	}
}

func slugFor(code int) string {
	switch code {
	case fiber.StatusNotFound:
		return "not-found"
	case fiber.StatusMethodNotAllowed:
		return "method-not-allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "too-large"
	case fiber.StatusUnauthorized:
		return "unauthorized"
	case fiber.StatusForbidden:
		return "forbidden"
	case fiber.StatusTooManyRequests:
		return "rate-limited"
	case fiber.StatusServiceUnavailable:
		return "unavailable"
	}
	if code >= 500 {
		return "internal"
	}
	return "bad-request"
}

func statusTitle(code int) string {
	if t := utils.StatusMessage(code); t != "" {
		return t
	}
	return "Error"
}
