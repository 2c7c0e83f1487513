package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// orgSchema is an organisation as a member sees it (auth's wire form).
var orgSchema = obj(map[string]any{
	"id": map[string]any{"type": "string", "format": "uuid"}, "name": map[string]any{"type": "string"},
	"role":     map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}, "description": "your role in it; absent for an inspector link"},
	"settings": orgSettingsSchema, "version": map[string]any{"type": "integer", "description": "optimistic-lock version; the ETag carries it too"},
	"created_at": map[string]any{"type": "string", "format": "date-time"},
}, "id", "name", "settings", "version", "created_at")

// orgSettingsSchema is auth.OrgSettings; stored settings may predate a
// field, so none is required.
var orgSettingsSchema = func() map[string]any {
	s := schemaOf(auth.OrgSettings{})
	delete(s, "required")
	return s
}()

var orgBody = map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
	"name":     map[string]any{"type": "string", "minLength": 1, "maxLength": 200},
	"settings": map[string]any{"type": "object", "description": `{"auto_register_sensors": bool, "ttn": {"temperature": [...], "humidity": [...], "battery": [...]}, "temperature_unit": "C" or "F"}; replaces the settings as a whole`},
	"version":  map[string]any{"type": "integer"},
}}

func (r *Router) registerOrgs() {
	r.Handle(Route{Method: "GET", Path: "/v1/orgs", Summary: "List the organisations you belong to", Tag: "organisations",
		Response: listSchema(orgSchema)},
		func(c *fiber.Ctx) error {
			items, err := auth.ListUserOrganizations(c.UserContext(), r.deps.Pool, UserOf(c).ID)
			if err != nil {
				return err
			}
			return sendList(c, items)
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
			item, err := auth.CreateOwnedOrganization(c.UserContext(), r.deps.Pool, auth.CreateOwnedOrganizationParams{
				Name: *name, Settings: settings, OwnerID: UserOf(c).ID, Actor: Actor(c), Details: body})
			if err != nil {
				return err
			}
			return sendJSON(c, fiber.StatusCreated, item)
		})

	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org", Summary: "Get an organisation", Tag: "organisations", Perm: auth.PermRead, Response: orgSchema},
		func(c *fiber.Ctx) error {
			getOrg := auth.GetUserOrganization
			if InspectorOf(c) != nil {
				getOrg = func(ctx context.Context, db database.Querier, org, _ string) (json.RawMessage, int, error) {
					return auth.GetOrganizationView(ctx, db, org)
				}
			}
			item, version, err := getOrg(c.UserContext(), r.deps.Pool, OrgOf(c), UserOf(c).ID)
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderETag, etag(version))
			return sendJSON(c, fiber.StatusOK, item)
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
			item, newVersion, err := auth.UpdateOrganization(c.UserContext(), r.deps.Pool, auth.UpdateOrganizationParams{
				OrgID: OrgOf(c), UserID: UserOf(c).ID, Version: version, Name: name, Settings: settings, Actor: Actor(c), Details: body})
			if errors.Is(err, auth.ErrOrganizationChanged) {
				return problem.New(fiber.StatusPreconditionFailed, "precondition-failed", "Precondition failed", err.Error())
			}
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderETag, etag(newVersion))
			return sendJSON(c, fiber.StatusOK, item)
		})

	r.Handle(Route{Method: "DELETE", Path: "/v1/orgs/:org", Summary: "Delete an organisation (its records are kept, hidden, for compliance)", Tag: "organisations",
		Perm: auth.PermOwn, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			if err := auth.DeleteOrganization(c.UserContext(), r.deps.Pool, OrgOf(c), Actor(c)); err != nil {
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
			errs = append(errs, problem.FieldError{Field: "settings", Reason: `must be {"auto_register_sensors": bool, "ttn": {"temperature": [keys], "humidity": [keys], "battery": [keys]}, "temperature_unit": "C" or "F"}`})
		} else if st.TemperatureUnit != "" && st.TemperatureUnit != "C" && st.TemperatureUnit != "F" {
			errs = append(errs, problem.FieldError{Field: "settings.temperature_unit", Reason: `must be "C" or "F"`})
		} else {
			b, _ := json.Marshal(st)
			s := string(b)
			settings = &s
		}
	}
	return name, settings, errs
}
