package crud

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Kind is a field's type on the wire and in the database.
type Kind int

// Field kinds.
const (
	Text Kind = iota
	Ref       // uuid of another resource of the same organisation
	Enum
	Number
	Int
	Bool
	Timezone
	Phone
	Email
	JSON
	Time // read-only timestamps
)

// Field is one column of a collection.
type Field struct {
	JSON     string // wire name
	Col      string // column; defaults to JSON
	Kind     Kind
	Required bool // on create
	ReadOnly bool // never written by clients
	MaxLen   int
	Min, Max *float64
	Enum     []string
	Ref      string // human name of the referenced resource
	Nullable bool   // may be set to null
	Validate func(raw json.RawMessage) string
	Doc      string
}

// Column is the field's column.
func (f Field) Column() string {
	if f.Col != "" {
		return f.Col
	}
	return f.JSON
}

// Num returns a pointer to v, for Field.Min and Field.Max.
func Num(v float64) *float64 { return &v }

// FieldError names one invalid field.
type FieldError struct {
	Field  string
	Reason string
}

// Change is a validated body: the columns it sets, their values, and the
// body itself, which the audit row records.
type Change struct {
	Cols []string
	Vals []any
	Body map[string]json.RawMessage
	// Guard, when set, runs in a create's transaction before the insert;
	// its error refuses the create (a plan's sensor limit, say).
	Guard Guard
}

// Guard checks, in a create's transaction, that the create may happen.
type Guard func(ctx context.Context, tx pgx.Tx) error

// Values converts and validates a body against the collection's fields.
// create requires the required fields; an update accepts any subset. A
// create body is completed with CreateDefaults first, by the caller.
func (c *Collection) Values(body map[string]json.RawMessage, create bool) (Change, []FieldError) {
	var errs []FieldError
	ch := Change{Body: body}
	known := map[string]bool{"version": true}
	for _, f := range c.Fields {
		known[f.JSON] = true
		raw, ok := body[f.JSON]
		if !ok {
			if create && f.Required {
				errs = append(errs, FieldError{Field: f.JSON, Reason: "is required"})
			}
			continue
		}
		if f.ReadOnly {
			errs = append(errs, FieldError{Field: f.JSON, Reason: "is read-only"})
			continue
		}
		v, reason := f.Convert(raw)
		if reason != "" {
			errs = append(errs, FieldError{Field: f.JSON, Reason: reason})
			continue
		}
		ch.Cols = append(ch.Cols, f.Column())
		ch.Vals = append(ch.Vals, v)
	}
	for k := range body {
		if !known[k] && k != "id" && k != "created_at" && k != "updated_at" {
			name := k
			if name == "" {
				name = `""` // an empty key, which a field error must still name
			}
			errs = append(errs, FieldError{Field: name, Reason: "is not a field of a " + c.Singular})
		}
	}
	return ch, errs
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// Convert turns a raw JSON value into the column's Go value, or a reason.
func (f Field) Convert(raw json.RawMessage) (any, string) {
	if string(raw) == "null" {
		if f.Nullable {
			return nil, ""
		}
		return nil, "may not be null"
	}
	switch f.Kind {
	case Text, Ref, Enum, Timezone, Phone, Email:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "must be a string"
		}
		s = strings.TrimSpace(s)
		switch f.Kind {
		case Text:
			if s == "" || len(s) > f.MaxLen {
				return nil, fmt.Sprintf("must be 1 to %d characters", f.MaxLen)
			}
		case Ref:
			if !uuids.Valid(s) {
				return nil, "must be the UUID of a " + f.Ref
			}
		case Enum:
			for _, e := range f.Enum {
				if s == e {
					return s, ""
				}
			}
			return nil, "must be one of " + strings.Join(f.Enum, ", ")
		case Timezone:
			if _, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
				return nil, "must be an IANA time zone such as Europe/Berlin or America/New_York"
			}
		case Phone:
			if !e164.MatchString(s) {
				return nil, "must be a phone number in E.164 form, e.g. +4915112345678"
			}
		case Email:
			a, err := mail.ParseAddress(s)
			if err != nil || a.Address != s || len(s) > 254 {
				return nil, "must be an email address such as chef@example.com"
			}
		}
		return s, ""
	case Number, Int:
		var x float64
		if err := json.Unmarshal(raw, &x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, "must be a number"
		}
		if f.Kind == Int && x != math.Trunc(x) {
			return nil, "must be a whole number"
		}
		if (f.Min != nil && x < *f.Min) || (f.Max != nil && x > *f.Max) {
			return nil, fmt.Sprintf("must be between %g and %g", *f.Min, *f.Max)
		}
		if f.Kind == Int {
			return int64(x), ""
		}
		return x, ""
	case Bool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, "must be true or false"
		}
		return b, ""
	case JSON:
		if f.Validate != nil {
			if reason := f.Validate(raw); reason != "" {
				return nil, reason
			}
		}
		return string(raw), ""
	}
	return nil, "cannot be set"
}
