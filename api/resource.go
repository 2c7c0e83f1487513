package api

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/crud"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// resource is a REST collection under /v1/orgs/:org/<path>: the HTTP half
// of the generic engine. Its storage half, the collection with its fields
// and SQL, is owned by a capability (fleet, alerting) through internal/crud.
type resource struct {
	*crud.Collection
	path    string // "sites"
	write   auth.Permission
	example func(ids map[string]string) map[string]any
	// fieldSchemas describe JSON fields (crud.JSON) whose shape the engine
	// does not know, by wire name.
	fieldSchemas map[string]map[string]any
	// afterWrite, when set, is told after a create, update or delete.
	afterWrite func(c *fiber.Ctx, orgID string)
	// createGuard, when set, returns what must allow a create in its
	// transaction (nil: nothing).
	createGuard func(orgID string) crud.Guard
}

// register adds the five routes of a resource.
func (r *Router) register(res *resource) {
	base := "/v1/orgs/:org/" + res.path
	schema := res.schema(false)
	page := listSchema(schema)
	update := res.schema(false)
	delete(update, "required") // an update sends any of the fields
	params := []Param{{Name: "cursor", Description: "opaque cursor from next_cursor", Schema: map[string]any{"type": "string"}},
		{Name: "limit", Description: "page size, 1-200 (default 50)", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 200}}}
	for _, fname := range res.Filters {
		params = append(params, Param{Name: fname, Description: "only " + res.path + " with this " + fname, Schema: map[string]any{"type": "string"}})
	}
	one := withArticle(res.Singular)
	r.Handle(Route{Method: "GET", Path: base, Summary: "List " + strings.ReplaceAll(res.path, "-", " "), Tag: res.path, Perm: auth.PermRead, Response: page, Params: params}, r.list(res))
	r.Handle(Route{Method: "POST", Path: base, Summary: "Create " + one, Tag: res.path, Perm: res.write, Success: fiber.StatusCreated,
		Request: res.schema(true), Response: schema, Example: res.example}, r.create(res))
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get " + one, Tag: res.path, Perm: auth.PermRead, Response: schema}, r.get(res))
	r.Handle(Route{Method: "PATCH", Path: base + "/:id", Summary: "Update " + one + " (If-Match: its ETag, or \"version\" in the body)", Tag: res.path, Perm: res.write,
		Request: update, Response: schema, Example: res.example}, r.patch(res))
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Delete " + one, Tag: res.path, Perm: res.write, Success: fiber.StatusNoContent}, r.remove(res))
}

// withArticle puts "a" or "an" before a noun phrase, by its sound: "an
// area", "an alert rule", "a unit", "a site".
func withArticle(noun string) string {
	w := strings.ToLower(noun)
	for _, p := range []string{"uni", "use", "usu", "uti", "eu", "one"} {
		if strings.HasPrefix(w, p) {
			return "a " + noun
		}
	}
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + noun
	}
	return "a " + noun
}

// crudError maps the engine's errors to problems.
func (res *resource) crudError(err error) error {
	var ve *crud.ValidationError
	var se *crud.StaleError
	switch {
	case errors.As(err, &ve):
		return problem.Validation(fieldErrors(ve.Fields)...)
	case errors.As(err, &se):
		return problem.New(fiber.StatusPreconditionFailed, "precondition-failed", "Precondition failed", se.Error())
	case errors.Is(err, crud.ErrOutOfRange):
		return problem.BadRequest(err.Error())
	}
	if le, ok := billing.IsLimit(err); ok {
		return limitProblem(le)
	}
	return capabilityError(res.Singular, err)
}

func fieldErrors(in []crud.FieldError) []problem.FieldError {
	out := make([]problem.FieldError, len(in))
	for i, f := range in {
		out[i] = problem.FieldError{Field: f.Field, Reason: f.Reason}
	}
	return out
}

// pageLimit reads limit (1-200, default 50).
func pageLimit(c *fiber.Ctx) (int, error) {
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return 0, problem.Validation(problem.FieldError{Field: "limit", Reason: "must be a whole number from 1 to 200"})
		}
		limit = n
	}
	return limit, nil
}

func (r *Router) list(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		limit, err := pageLimit(c)
		if err != nil {
			return err
		}
		p := crud.ListParams{OrgID: OrgOf(c), Cursor: c.Query("cursor"), Limit: limit, Filters: map[string]string{}}
		for _, fname := range res.Filters {
			p.Filters[fname] = c.Query(fname)
		}
		page, err := res.List(c.UserContext(), r.deps.Pool, p)
		if err != nil {
			return res.crudError(err)
		}
		return c.JSON(fiber.Map{"items": page.Items, "next_cursor": page.NextCursor})
	}
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

func (r *Router) get(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		item, version, err := res.Get(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"))
		if err != nil {
			return res.crudError(err)
		}
		c.Set(fiber.HeaderETag, etag(version))
		return sendJSON(c, fiber.StatusOK, item)
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

// values converts and validates a body against the resource's fields
// (crud.Collection.Values): the columns and values it would store, or the
// fields it refuses. create requires the required fields; an update accepts
// any subset.
func (res *resource) values(body map[string]json.RawMessage, create bool) ([]string, []any, []problem.FieldError) {
	ch, errs := res.Values(body, create)
	return ch.Cols, ch.Vals, fieldErrors(errs)
}

func (r *Router) create(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		body, err := decodeBody(c)
		if err != nil {
			return err
		}
		var errs []problem.FieldError
		if res.CreateDefaults != nil {
			errs = fieldErrors(res.CreateDefaults(body))
		}
		cols, vals, verrs := res.values(body, true)
		if errs = append(errs, verrs...); len(errs) > 0 {
			return problem.Validation(errs...)
		}
		org := OrgOf(c)
		ch := crud.Change{Cols: cols, Vals: vals, Body: body}
		if res.createGuard != nil {
			ch.Guard = res.createGuard(org)
		}
		item, id, err := res.Create(c.UserContext(), r.deps.Pool, org, Actor(c), ch)
		if err != nil {
			return res.crudError(err)
		}
		if res.afterWrite != nil {
			res.afterWrite(c, org)
		}
		c.Set(fiber.HeaderETag, etag(1))
		c.Set(fiber.HeaderLocation, c.Path()+"/"+id)
		return sendJSON(c, fiber.StatusCreated, item)
	}
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
		if !uuids.Valid(id) {
			return problem.NotFound(res.Singular)
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
		item, newVersion, err := res.Update(c.UserContext(), r.deps.Pool, org, id, Actor(c), version, crud.Change{Cols: cols, Vals: vals, Body: body})
		if err != nil {
			return res.crudError(err)
		}
		if res.afterWrite != nil {
			res.afterWrite(c, org)
		}
		c.Set(fiber.HeaderETag, etag(newVersion))
		return sendJSON(c, fiber.StatusOK, item)
	}
}

func (r *Router) remove(res *resource) fiber.Handler {
	return func(c *fiber.Ctx) error {
		org, id := OrgOf(c), c.Params("id")
		if !uuids.Valid(id) {
			return problem.NotFound(res.Singular)
		}
		if err := res.Delete(c.UserContext(), r.deps.Pool, org, id, Actor(c)); err != nil {
			return res.crudError(err)
		}
		if res.afterWrite != nil {
			res.afterWrite(c, org)
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}
