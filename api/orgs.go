package api

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

var orgSchema = map[string]any{"type": "object", "properties": map[string]any{
	"id": map[string]any{"type": "string", "format": "uuid"}, "name": map[string]any{"type": "string"},
	"role":     map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}},
	"settings": map[string]any{"type": "object"}, "version": map[string]any{"type": "integer"},
	"created_at": map[string]any{"type": "string", "format": "date-time"},
}}

var orgBody = map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
	"name":     map[string]any{"type": "string", "minLength": 1, "maxLength": 200},
	"settings": map[string]any{"type": "object", "description": `{"auto_register_sensors": bool, "ttn": {"temperature": [...], "humidity": [...], "battery": [...]}}`},
	"version":  map[string]any{"type": "integer"},
}}

const orgProjection = `jsonb_build_object('id', o.id, 'name', o.name, 'settings', o.settings, 'version', o.version, 'created_at', o.created_at, 'role', m.role)`

func (r *Router) registerOrgs() {
	r.Handle(Route{Method: "GET", Path: "/v1/orgs", Summary: "List the organisations you belong to", Tag: "organisations",
		Response: map[string]any{"type": "object", "properties": map[string]any{"items": map[string]any{"type": "array", "items": orgSchema}}}},
		func(c *fiber.Ctx) error {
			rows, err := r.deps.Pool.Query(c.UserContext(), `
				SELECT `+orgProjection+` FROM organizations o JOIN memberships m ON m.org_id = o.id
				 WHERE m.user_id = $1 AND o.deleted_at IS NULL ORDER BY o.created_at, o.id`, UserOf(c).ID)
			if err != nil {
				return err
			}
			items, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
			if err != nil {
				return err
			}
			if items == nil {
				items = []json.RawMessage{}
			}
			return c.JSON(fiber.Map{"items": items})
		})

	r.Handle(Route{Method: "POST", Path: "/v1/orgs", Summary: "Create an organisation; you become its owner", Tag: "organisations",
		Success: fiber.StatusCreated, Request: orgBody, Response: orgSchema,
		Example: func(map[string]string) map[string]any { return map[string]any{"name": "New Bistro"} }},
		func(c *fiber.Ctx) error {
			body, err := decodeBody(c)
			if err != nil {
				return err
			}
			name, settings, errs := orgFields(body, true)
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			var item json.RawMessage
			err = r.tx(c.UserContext(), func(tx pgx.Tx) error {
				var id string
				if err := tx.QueryRow(c.UserContext(), `INSERT INTO organizations (name, settings) VALUES ($1, coalesce($2::jsonb, '{}')) RETURNING id`, name, settings).Scan(&id); err != nil {
					return err
				}
				if _, err := tx.Exec(c.UserContext(), `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')`, id, UserOf(c).ID); err != nil {
					return err
				}
				c.Locals(localOrg, id)
				if err := audit(c, tx, "organization.create", "organization", id, body); err != nil {
					return err
				}
				return tx.QueryRow(c.UserContext(), `SELECT `+orgProjection+` FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2`, id, UserOf(c).ID).Scan(&item)
			})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Status(fiber.StatusCreated).Send(item)
		})

	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org", Summary: "Get an organisation", Tag: "organisations", Perm: auth.PermRead, Response: orgSchema},
		func(c *fiber.Ctx) error {
			var item json.RawMessage
			var version int
			err := r.deps.Pool.QueryRow(c.UserContext(), `SELECT `+orgProjection+`, o.version FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2`,
				OrgOf(c), UserOf(c).ID).Scan(&item, &version)
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderETag, etag(version))
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(item)
		})

	r.Handle(Route{Method: "PATCH", Path: "/v1/orgs/:org", Summary: "Rename an organisation or change its settings (If-Match or version)", Tag: "organisations",
		Perm: auth.PermAdminister, Request: orgBody, Response: orgSchema,
		Example: func(map[string]string) map[string]any { return map[string]any{"name": "Renamed Bistro"} }},
		func(c *fiber.Ctx) error {
			body, err := decodeBody(c)
			if err != nil {
				return err
			}
			name, settings, errs := orgFields(body, false)
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			version, err := wantVersion(c, body)
			if err != nil {
				return err
			}
			var item json.RawMessage
			var newVersion int
			err = r.tx(c.UserContext(), func(tx pgx.Tx) error {
				err := tx.QueryRow(c.UserContext(), `
					UPDATE organizations SET name = coalesce($3, name), settings = coalesce($4::jsonb, settings),
					       version = version + 1, updated_at = now()
					 WHERE id = $1 AND version = $2 AND deleted_at IS NULL RETURNING version`, OrgOf(c), version, name, settings).Scan(&newVersion)
				if errors.Is(err, pgx.ErrNoRows) {
					return problem.New(fiber.StatusPreconditionFailed, "precondition-failed", "Precondition failed", "the organisation changed since you read it; read it again")
				}
				if err != nil {
					return err
				}
				if err := audit(c, tx, "organization.update", "organization", OrgOf(c), body); err != nil {
					return err
				}
				return tx.QueryRow(c.UserContext(), `SELECT `+orgProjection+` FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2`, OrgOf(c), UserOf(c).ID).Scan(&item)
			})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderETag, etag(newVersion))
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(item)
		})

	r.Handle(Route{Method: "DELETE", Path: "/v1/orgs/:org", Summary: "Delete an organisation (its records are kept, hidden, for compliance)", Tag: "organisations",
		Perm: auth.PermOwn, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			err := r.tx(c.UserContext(), func(tx pgx.Tx) error {
				if _, err := tx.Exec(c.UserContext(), `UPDATE organizations SET deleted_at = now(), updated_at = now() WHERE id = $1`, OrgOf(c)); err != nil {
					return err
				}
				if _, err := tx.Exec(c.UserContext(), `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1`, OrgOf(c)); err != nil {
					return err
				}
				return audit(c, tx, "organization.delete", "organization", OrgOf(c), nil)
			})
			if err != nil {
				return err
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}

// orgFields validates an organisation body.
func orgFields(body map[string]json.RawMessage, create bool) (name *string, settings *string, errs []problem.FieldError) {
	for k := range body {
		if k != "name" && k != "settings" && k != "version" {
			errs = append(errs, problem.FieldError{Field: k, Reason: "is not a field of an organisation"})
		}
	}
	if raw, ok := body["name"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" || len(strings.TrimSpace(s)) > 200 {
			errs = append(errs, problem.FieldError{Field: "name", Reason: "must be 1 to 200 characters"})
		} else {
			s = strings.TrimSpace(s)
			name = &s
		}
	} else if create {
		errs = append(errs, problem.FieldError{Field: "name", Reason: "is required"})
	}
	if raw, ok := body["settings"]; ok {
		var st auth.OrgSettings
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			errs = append(errs, problem.FieldError{Field: "settings", Reason: `must be {"auto_register_sensors": bool, "ttn": {"temperature": [keys], "humidity": [keys], "battery": [keys]}}`})
		} else {
			b, _ := json.Marshal(st)
			s := string(b)
			settings = &s
		}
	}
	return name, settings, errs
}
