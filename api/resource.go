package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// kind is a field's type on the wire and in the database.
type kind int

const (
	kText kind = iota
	kRef       // uuid of another resource of the same organisation
	kEnum
	kNumber
	kInt
	kBool
	kTimezone
	kPhone
	kEmail
	kJSON
	kTime // read-only timestamps
)

// field is one column of a resource.
type field struct {
	json     string // wire name
	col      string // column; defaults to json
	kind     kind
	required bool // on create
	readOnly bool // never written by clients
	maxLen   int
	min, max *float64
	enum     []string
	ref      string // human name of the referenced resource
	nullable bool   // may be set to null
	validate func(raw json.RawMessage) string
	doc      string
}

func (f field) column() string {
	if f.col != "" {
		return f.col
	}
	return f.json
}

func num(v float64) *float64 { return &v }

// dependent is a table whose rows block a delete.
type dependent struct {
	table, column, what string
}

// resource is a REST collection under /v1/orgs/:org/<path>.
type resource struct {
	path     string // "sites"
	singular string // "site"
	table    string
	idCol    string // public id column; defaults to "id"
	keyCol   string // primary key for cursors; defaults to idCol
	fields   []field
	write    auth.Permission
	filters  []string // fields usable as list filters
	checks   map[string]problem.FieldError
	blocks   []dependent
	// softDelete, when set, is the timestamp column DELETE sets instead of
	// removing the row (the row keeps its history).
	softDelete string
	example    func(ids map[string]string) map[string]any
	afterWrite func(c *fiber.Ctx, orgID string)
	// createDefaults, when set, completes a create body before it is
	// validated (fields whose default depends on another field), or names
	// the fields it cannot complete.
	createDefaults func(body map[string]json.RawMessage) []problem.FieldError
}

func (res *resource) id() string {
	if res.idCol != "" {
		return res.idCol
	}
	return "id"
}

func (res *resource) key() string {
	if res.keyCol != "" {
		return res.keyCol
	}
	return res.id()
}

// projection is the jsonb_build_object expression of the wire form.
func (res *resource) projection() string {
	parts := []string{"'id'", "t." + res.id()}
	for _, f := range res.fields {
		parts = append(parts, "'"+f.json+"'", "t."+f.column())
	}
	parts = append(parts, "'version'", "t.version", "'created_at'", "t.created_at", "'updated_at'", "t.updated_at")
	if res.softDelete != "" {
		parts = append(parts, "'"+res.softDelete+"'", "t."+res.softDelete)
	}
	// jsonb_build_object takes at most 100 arguments.
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

// register adds the five routes of a resource.
func (r *Router) register(res *resource) {
	base := "/v1/orgs/:org/" + res.path
	schema := res.schema(false)
	page := map[string]any{"type": "object", "properties": map[string]any{
		"items": map[string]any{"type": "array", "items": schema}, "next_cursor": map[string]any{"type": []string{"string", "null"}}}}
	params := []Param{{Name: "cursor", Description: "opaque cursor from next_cursor", Schema: map[string]any{"type": "string"}},
		{Name: "limit", Description: "page size, 1-200 (default 50)", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 200}}}
	for _, fname := range res.filters {
		params = append(params, Param{Name: fname, Description: "only " + res.path + " with this " + fname, Schema: map[string]any{"type": "string"}})
	}
	r.Handle(Route{Method: "GET", Path: base, Summary: "List " + res.path, Tag: res.path, Perm: auth.PermRead, Response: page, Params: params}, r.list(res))
	r.Handle(Route{Method: "POST", Path: base, Summary: "Create a " + res.singular, Tag: res.path, Perm: res.write, Success: fiber.StatusCreated,
		Request: res.schema(true), Response: schema, Example: res.example}, r.create(res))
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get a " + res.singular, Tag: res.path, Perm: auth.PermRead, Response: schema}, r.get(res))
	r.Handle(Route{Method: "PATCH", Path: base + "/:id", Summary: "Update a " + res.singular + " (If-Match: its ETag, or \"version\" in the body)", Tag: res.path, Perm: res.write,
		Request: res.schema(false), Response: schema, Example: res.example}, r.patch(res))
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Delete a " + res.singular, Tag: res.path, Perm: res.write, Success: fiber.StatusNoContent}, r.remove(res))
}

type cursor struct {
	At  time.Time `json:"t"`
	Key string    `json:"k"`
}

func encodeCursor(at time.Time, key string) string {
	b, _ := json.Marshal(cursor{at, key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}

// pageParams reads cursor and limit.
func pageParams(c *fiber.Ctx) (cur *cursor, limit int, err error) {
	limit = 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return nil, 0, problem.Validation(problem.FieldError{Field: "limit", Reason: "must be a whole number from 1 to 200"})
		}
		limit = n
	}
	if s := c.Query("cursor"); s != "" {
		cc, err := decodeCursor(s)
		if err != nil {
			return nil, 0, problem.Validation(problem.FieldError{Field: "cursor", Reason: "is not a cursor this API gave out"})
		}
		cur = &cc
	}
	return cur, limit, nil
}

func (r *Router) list(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cur, limit, err := pageParams(c)
		if err != nil {
			return err
		}
		args := []any{OrgOf(c)}
		where := []string{"t.org_id = $1"}
		for _, fname := range res.filters {
			v := c.Query(fname)
			if v == "" {
				continue
			}
			f := res.field(fname)
			if f.kind == kRef && !uuids.Valid(v) {
				return problem.Validation(problem.FieldError{Field: fname, Reason: "must be a UUID"})
			}
			args = append(args, v)
			where = append(where, fmt.Sprintf("t.%s = $%d", f.column(), len(args)))
		}
		if cur != nil {
			args = append(args, cur.At, cur.Key)
			where = append(where, fmt.Sprintf("(t.created_at, t.%s::text) > ($%d, $%d)", res.key(), len(args)-1, len(args)))
		}
		args = append(args, limit+1)
		rows, err := r.deps.Pool.Query(c.UserContext(), fmt.Sprintf(`
			SELECT %s, t.created_at, t.%s::text FROM %s t WHERE %s
			 ORDER BY t.created_at, t.%s::text LIMIT $%d`,
			res.projection(), res.key(), res.table, strings.Join(where, " AND "), res.key(), len(args)), args...)
		if err != nil {
			return err
		}
		items := make([]json.RawMessage, 0, limit)
		var next *string
		var (
			item         json.RawMessage
			at, lastAt   time.Time
			key, lastKey string
		)
		_, err = pgx.ForEachRow(rows, []any{&item, &at, &key}, func() error {
			if len(items) == limit {
				s := encodeCursor(lastAt, lastKey)
				next = &s
				return nil
			}
			items = append(items, append(json.RawMessage(nil), item...))
			lastAt, lastKey = at, key
			return nil
		})
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"items": items, "next_cursor": next})
	}
}

func (res *resource) field(name string) field {
	for _, f := range res.fields {
		if f.json == name {
			return f
		}
	}
	return field{json: name}
}

func (r *Router) fetch(ctx context.Context, q rowQuerier, res *resource, org, id string) (json.RawMessage, int, error) {
	if !res.validID(id) {
		return nil, 0, problem.NotFound(res.singular)
	}
	var item json.RawMessage
	var version int
	err := q.QueryRow(ctx, fmt.Sprintf(`SELECT %s, t.version FROM %s t WHERE t.org_id = $1 AND t.%s = $2`, res.projection(), res.table, res.id()), org, id).Scan(&item, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, problem.NotFound(res.singular)
	}
	return item, version, err
}

func (res *resource) validID(id string) bool { return uuids.Valid(id) }

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

func (r *Router) get(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		item, version, err := r.fetch(c.UserContext(), r.deps.Pool, res, OrgOf(c), c.Params("id"))
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, etag(version))
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(item)
	}
}

// decodeBody parses a JSON object body into raw fields.
func decodeBody(c *fiber.Ctx) (map[string]json.RawMessage, error) {
	var body map[string]json.RawMessage
	if len(c.Body()) == 0 {
		return nil, problem.BadRequest("the request needs a JSON object body")
	}
	if err := json.Unmarshal(c.Body(), &body); err != nil || body == nil {
		return nil, problem.BadRequest("the body must be a JSON object")
	}
	return body, nil
}

// values converts and validates a body against the resource's fields.
// create requires the required fields; patch accepts any subset.
func (res *resource) values(body map[string]json.RawMessage, create bool) ([]string, []any, []problem.FieldError) {
	var cols []string
	var vals []any
	var errs []problem.FieldError
	known := map[string]bool{"version": true}
	for _, f := range res.fields {
		known[f.json] = true
		raw, ok := body[f.json]
		if !ok {
			if create && f.required {
				errs = append(errs, problem.FieldError{Field: f.json, Reason: "is required"})
			}
			continue
		}
		if f.readOnly {
			errs = append(errs, problem.FieldError{Field: f.json, Reason: "is read-only"})
			continue
		}
		v, reason := f.convert(raw)
		if reason != "" {
			errs = append(errs, problem.FieldError{Field: f.json, Reason: reason})
			continue
		}
		cols = append(cols, f.column())
		vals = append(vals, v)
	}
	for k := range body {
		if !known[k] && k != "id" && k != "created_at" && k != "updated_at" {
			name := k
			if name == "" {
				name = `""` // an empty key, which a field error must still name
			}
			errs = append(errs, problem.FieldError{Field: name, Reason: "is not a field of a " + res.singular})
		}
	}
	return cols, vals, errs
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// convert turns a raw JSON value into the column's Go value, or a reason.
func (f field) convert(raw json.RawMessage) (any, string) {
	if string(raw) == "null" {
		if f.nullable {
			return nil, ""
		}
		return nil, "may not be null"
	}
	switch f.kind {
	case kText, kRef, kEnum, kTimezone, kPhone, kEmail:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "must be a string"
		}
		s = strings.TrimSpace(s)
		switch f.kind {
		case kText:
			if s == "" || len(s) > f.maxLen {
				return nil, fmt.Sprintf("must be 1 to %d characters", f.maxLen)
			}
		case kRef:
			if !uuids.Valid(s) {
				return nil, "must be the UUID of a " + f.ref
			}
		case kEnum:
			for _, e := range f.enum {
				if s == e {
					return s, ""
				}
			}
			return nil, "must be one of " + strings.Join(f.enum, ", ")
		case kTimezone:
			if _, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
				return nil, "must be an IANA time zone such as Europe/Berlin or America/New_York"
			}
		case kPhone:
			if !e164.MatchString(s) {
				return nil, "must be a phone number in E.164 form, e.g. +4915112345678"
			}
		case kEmail:
			a, err := mail.ParseAddress(s)
			if err != nil || a.Address != s || len(s) > 254 {
				return nil, "must be an email address such as chef@example.com"
			}
		}
		return s, ""
	case kNumber, kInt:
		var x float64
		if err := json.Unmarshal(raw, &x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, "must be a number"
		}
		if f.kind == kInt && x != math.Trunc(x) {
			return nil, "must be a whole number"
		}
		if (f.min != nil && x < *f.min) || (f.max != nil && x > *f.max) {
			return nil, fmt.Sprintf("must be between %g and %g", *f.min, *f.max)
		}
		if f.kind == kInt {
			return int64(x), ""
		}
		return x, ""
	case kBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, "must be true or false"
		}
		return b, ""
	case kJSON:
		if f.validate != nil {
			if reason := f.validate(raw); reason != "" {
				return nil, reason
			}
		}
		return string(raw), ""
	}
	return nil, "cannot be set"
}

// dbError maps constraint violations to client errors naming the field.
func (res *resource) dbError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "23503": // foreign key
		for _, f := range res.fields {
			if f.kind == kRef && strings.Contains(pgErr.ConstraintName, f.column()) {
				return problem.Validation(problem.FieldError{Field: f.json, Reason: "no " + f.ref + " with this id in the organisation"})
			}
		}
		return problem.New(fiber.StatusConflict, "conflict", "Conflict", "the "+res.singular+" is referenced elsewhere")
	case "23505":
		return problem.New(fiber.StatusConflict, "conflict", "Conflict", "a "+res.singular+" with these values already exists")
	case "23514":
		if fe, ok := res.checks[pgErr.ConstraintName]; ok {
			return problem.Validation(fe)
		}
		return problem.Validation(problem.FieldError{Field: res.singular, Reason: "violates " + pgErr.ConstraintName})
	case "22P02", "22003", "22023":
		return problem.BadRequest("a value is out of range for its field")
	}
	return err
}

func (r *Router) create(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		body, err := decodeBody(c)
		if err != nil {
			return err
		}
		var errs []problem.FieldError
		if res.createDefaults != nil {
			errs = res.createDefaults(body)
		}
		cols, vals, verrs := res.values(body, true)
		if errs = append(errs, verrs...); len(errs) > 0 {
			return problem.Validation(errs...)
		}
		org := OrgOf(c)
		ph := make([]string, len(cols))
		for i := range cols {
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		var item json.RawMessage
		var id string
		err = r.tx(c.UserContext(), func(tx pgx.Tx) error {
			colList := strings.Join(append([]string{"org_id"}, cols...), ", ")
			err := tx.QueryRow(c.UserContext(), fmt.Sprintf(`
				WITH t AS (INSERT INTO %s (%s) VALUES ($1%s) RETURNING *)
				SELECT %s, t.%s::text FROM t`, res.table, colList, prefixComma(ph), res.projection(), res.id()),
				append([]any{org}, vals...)...).Scan(&item, &id)
			if err != nil {
				return res.dbError(err)
			}
			return audit(c, tx, res.singular+".create", res.singular, id, body)
		})
		if err != nil {
			return err
		}
		if res.afterWrite != nil {
			res.afterWrite(c, org)
		}
		c.Set(fiber.HeaderETag, etag(1))
		c.Set(fiber.HeaderLocation, c.Path()+"/"+id)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Status(fiber.StatusCreated).Send(item)
	}
}

func prefixComma(ph []string) string {
	if len(ph) == 0 {
		return ""
	}
	return ", " + strings.Join(ph, ", ")
}

// wantVersion reads the client's idea of the current version from If-Match
// or the body's "version"; an update without either is refused, so two
// editors never silently overwrite each other.
func wantVersion(c *fiber.Ctx, body map[string]json.RawMessage) (int, error) {
	if m := strings.TrimSpace(c.Get(fiber.HeaderIfMatch)); m != "" {
		v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(m, "W/"), `"`))
		if err != nil {
			return 0, problem.New(fiber.StatusPreconditionFailed, "precondition-failed", "Precondition failed", "If-Match must be the ETag this API gave out")
		}
		return v, nil
	}
	if raw, ok := body["version"]; ok {
		var v int
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, problem.Validation(problem.FieldError{Field: "version", Reason: "must be the whole-number version you read"})
		}
		return v, nil
	}
	return 0, problem.New(fiber.StatusPreconditionRequired, "precondition-required", "Precondition required",
		"send If-Match with the ETag you read (or \"version\" in the body) so concurrent edits are not lost")
}

func (r *Router) patch(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		org, id := OrgOf(c), c.Params("id")
		if !res.validID(id) {
			return problem.NotFound(res.singular)
		}
		body, err := decodeBody(c)
		if err != nil {
			return err
		}
		cols, vals, errs := res.values(body, false)
		if len(errs) > 0 {
			return problem.Validation(errs...)
		}
		version, err := wantVersion(c, body)
		if err != nil {
			return err
		}
		sets := []string{"version = version + 1", "updated_at = now()"}
		for i, col := range cols {
			sets = append(sets, fmt.Sprintf("%s = $%d", col, i+4))
		}
		var item json.RawMessage
		var newVersion int
		err = r.tx(c.UserContext(), func(tx pgx.Tx) error {
			err := tx.QueryRow(c.UserContext(), fmt.Sprintf(`
				WITH t AS (UPDATE %s SET %s WHERE org_id = $1 AND %s = $2 AND version = $3 RETURNING *)
				SELECT %s, t.version FROM t`, res.table, strings.Join(sets, ", "), res.id(), res.projection()),
				append([]any{org, id, version}, vals...)...).Scan(&item, &newVersion)
			if errors.Is(err, pgx.ErrNoRows) {
				_, current, ferr := r.fetch(c.UserContext(), tx, res, org, id)
				if ferr != nil {
					return ferr
				}
				return problem.New(fiber.StatusPreconditionFailed, "precondition-failed", "Precondition failed",
					fmt.Sprintf("the %s changed since you read it (now version %d); read it again and reapply your change", res.singular, current))
			}
			if err != nil {
				return res.dbError(err)
			}
			return audit(c, tx, res.singular+".update", res.singular, id, body)
		})
		if err != nil {
			return err
		}
		if res.afterWrite != nil {
			res.afterWrite(c, org)
		}
		c.Set(fiber.HeaderETag, etag(newVersion))
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(item)
	}
}

func (r *Router) remove(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		org, id := OrgOf(c), c.Params("id")
		if !res.validID(id) {
			return problem.NotFound(res.singular)
		}
		err := r.tx(c.UserContext(), func(tx pgx.Tx) error {
			var key string
			err := tx.QueryRow(c.UserContext(), fmt.Sprintf(`SELECT %s::text FROM %s WHERE org_id = $1 AND %s = $2 FOR UPDATE`, res.key(), res.table, res.id()), org, id).Scan(&key)
			if errors.Is(err, pgx.ErrNoRows) {
				return problem.NotFound(res.singular)
			}
			if err != nil {
				return err
			}
			for _, d := range res.blocks {
				var n int
				if err := tx.QueryRow(c.UserContext(), fmt.Sprintf(`SELECT count(*) FROM %s WHERE org_id = $1 AND %s::text = $2`, d.table, d.column), org, key).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					return problem.New(fiber.StatusConflict, "conflict", "Conflict",
						fmt.Sprintf("the %s still has %d %s; remove or move them first (their history is kept for compliance)", res.singular, n, d.what))
				}
			}
			if res.softDelete != "" {
				_, err = tx.Exec(c.UserContext(), fmt.Sprintf(`UPDATE %s SET %s = coalesce(%s, now()), version = version + 1, updated_at = now() WHERE org_id = $1 AND %s = $2`,
					res.table, res.softDelete, res.softDelete, res.id()), org, id)
			} else {
				_, err = tx.Exec(c.UserContext(), fmt.Sprintf(`DELETE FROM %s WHERE org_id = $1 AND %s = $2`, res.table, res.id()), org, id)
			}
			if err != nil {
				return res.dbError(err)
			}
			return audit(c, tx, res.singular+".delete", res.singular, id, nil)
		})
		if err != nil {
			return err
		}
		if res.afterWrite != nil {
			res.afterWrite(c, org)
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// audit appends an audit_log row in the request's transaction.
func audit(c *fiber.Ctx, tx pgx.Tx, action, targetType, targetID string, details any) error {
	d, err := json.Marshal(details)
	if err != nil || string(d) == "null" {
		d = []byte("{}")
	}
	_, err = tx.Exec(c.UserContext(), `INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6)`,
		OrgOf(c), Actor(c), action, targetType, targetID, d)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
