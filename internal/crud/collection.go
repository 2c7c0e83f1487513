package crud

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/errs"
)

// Dependent is a table whose rows block a delete.
type Dependent struct {
	Table, Column, What string
}

// Collection is an organisation's collection of rows of one table, each
// with an id, org_id, version, created_at and updated_at besides its fields.
type Collection struct {
	Singular string // "site"
	Table    string
	IDCol    string // public id column; defaults to "id"
	KeyCol   string // primary key for cursors; defaults to IDCol
	Fields   []Field
	Filters  []string // fields usable as list filters
	// Checks name the field a CHECK constraint's violation is about.
	Checks map[string]FieldError
	// Blocks are the dependents that must be gone before a delete.
	Blocks []Dependent
	// SoftDelete, when set, is the timestamp column a delete sets instead of
	// removing the row (the row keeps its history).
	SoftDelete string
	// CreateDefaults, when set, completes a create body before Values
	// validates it (fields whose default depends on another field), or
	// names the fields it cannot complete.
	CreateDefaults func(body map[string]json.RawMessage) []FieldError
	// UpdateCheck, when set, checks an updated row as it would be stored
	// (its wire form: the change merged with what was there) before the
	// update commits: rules across fields that a change of one field alone
	// can break.
	UpdateCheck func(row map[string]json.RawMessage) []FieldError
}

// ID is the public id column.
func (c *Collection) ID() string {
	if c.IDCol != "" {
		return c.IDCol
	}
	return "id"
}

func (c *Collection) key() string {
	if c.KeyCol != "" {
		return c.KeyCol
	}
	return c.ID()
}

// Field returns the field named name (the zero Field with that name if
// there is none).
func (c *Collection) Field(name string) Field {
	for _, f := range c.Fields {
		if f.JSON == name {
			return f
		}
	}
	return Field{JSON: name}
}

// projection is the jsonb_build_object expression of the wire form.
func (c *Collection) projection() string {
	parts := []string{"'id'", "t." + c.ID()}
	for _, f := range c.Fields {
		parts = append(parts, "'"+f.JSON+"'", "t."+f.Column())
	}
	parts = append(parts, "'version'", "t.version", "'created_at'", "t.created_at", "'updated_at'", "t.updated_at")
	if c.SoftDelete != "" {
		parts = append(parts, "'"+c.SoftDelete+"'", "t."+c.SoftDelete)
	}
	// jsonb_build_object takes at most 100 arguments.
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

// ErrNotFound is returned for a row that does not exist, belongs to another
// organisation, or whose id is not a UUID.
var ErrNotFound = errs.ErrNotFound

// ErrOutOfRange is returned when the database refuses a value as out of
// range for its column.
var ErrOutOfRange = errors.New("a value is out of range for its field")

// ValidationError names the fields that cannot be stored.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Reason
	}
	return "invalid: " + strings.Join(parts, "; ")
}

func invalid(fields ...FieldError) *ValidationError { return &ValidationError{Fields: fields} }

// ConflictError is a change the current rows do not allow: a duplicate, a
// row still referenced, dependents that block a delete.
type ConflictError = errs.ConflictError

// StaleError is an update of a version that is no longer the current one.
type StaleError struct {
	What    string
	Current int
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the %s changed since you read it (now version %d); read it again and reapply your change", e.What, e.Current)
}

// dbError maps constraint violations to errors naming the field.
func (c *Collection) dbError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "23503": // foreign key
		for _, f := range c.Fields {
			if f.Kind == Ref && strings.Contains(pgErr.ConstraintName, f.Column()) {
				return invalid(FieldError{Field: f.JSON, Reason: "no " + f.Ref + " with this id in the organisation"})
			}
		}
		return &ConflictError{Reason: "the " + c.Singular + " is referenced elsewhere"}
	case "23505":
		return &ConflictError{Reason: "a " + c.Singular + " with these values already exists"}
	case "23514":
		if fe, ok := c.Checks[pgErr.ConstraintName]; ok {
			return invalid(fe)
		}
		return invalid(FieldError{Field: c.Singular, Reason: "violates " + pgErr.ConstraintName})
	case "22P02", "22003", "22023":
		return ErrOutOfRange
	}
	return err
}
