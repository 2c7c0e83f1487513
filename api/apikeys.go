package api

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

var apiKeySchema = refine(schemaOf(auth.APIKeyView{}), map[string]map[string]any{
	"id":           {"format": "uuid"},
	"prefix":       {"description": "the key's lookup prefix; the secret is never shown again"},
	"scopes":       {"items": map[string]any{"type": "string", "enum": []string{"ingest", "read"}}},
	"last_used_at": {"description": "when the key last authenticated a request, to within about a minute"},
	"key":          {"description": "the whole key: only in the answer to POST"},
})

func (r *Router) registerAPIKeys() {
	base := "/v1/orgs/:org/api-keys"
	find := func(c *fiber.Ctx) (auth.APIKey, error) {
		keys, err := auth.ListAPIKeys(c.UserContext(), r.deps.Pool, OrgOf(c))
		if err != nil {
			return auth.APIKey{}, err
		}
		for _, k := range keys {
			if k.ID == c.Params("id") {
				return k, nil
			}
		}
		return auth.APIKey{}, problem.NotFound("API key")
	}
	r.Handle(Route{Method: "GET", Path: base, Summary: "List API keys (prefixes only)", Tag: "api-keys", Perm: auth.PermRead,
		Response: listSchema(apiKeySchema)},
		func(c *fiber.Ctx) error {
			keys, err := auth.ListAPIKeys(c.UserContext(), r.deps.Pool, OrgOf(c))
			if err != nil {
				return err
			}
			out := make([]auth.APIKeyView, len(keys))
			for i, k := range keys {
				out[i] = k.View()
			}
			return sendList(c, out)
		})
	r.Handle(Route{Method: "POST", Path: base, Summary: "Create an API key; the answer shows the key once", Tag: "api-keys", Perm: auth.PermAdminister,
		Success: fiber.StatusCreated, Response: apiKeySchema,
		Request: map[string]any{"type": "object", "required": []string{"name"}, "additionalProperties": false, "properties": map[string]any{
			"name": map[string]any{"type": "string", "minLength": 1, "maxLength": 200}, "scopes": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"ingest", "read"}}}}},
		Example: func(map[string]string) map[string]any { return map[string]any{"name": "gateway 7"} }},
		func(c *fiber.Ctx) error {
			body, err := decodeBody(c)
			if err != nil {
				return err
			}
			var p auth.CreateAPIKeyParams
			for k, raw := range body {
				switch k {
				case "name":
					if json.Unmarshal(raw, &p.Name) != nil {
						return problem.Validation(problem.FieldError{Field: "name", Reason: "must be a string"})
					}
				case "scopes":
					if json.Unmarshal(raw, &p.Scopes) != nil {
						return problem.Validation(problem.FieldError{Field: "scopes", Reason: "must be a list of ingest, read"})
					}
				default:
					return problem.Validation(problem.FieldError{Field: k, Reason: "is not a field of an API key"})
				}
			}
			p.OrgID, p.Actor = OrgOf(c), Actor(c)
			uid := UserOf(c).ID
			p.CreatedBy = &uid
			created, err := auth.CreateAPIKey(c.UserContext(), r.deps.Pool, p)
			if err != nil {
				return capabilityError("API key", err)
			}
			return c.Status(fiber.StatusCreated).JSON(created.View())
		})
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get an API key (prefix only)", Tag: "api-keys", Perm: auth.PermRead, Response: apiKeySchema},
		func(c *fiber.Ctx) error {
			k, err := find(c)
			if err != nil {
				return err
			}
			return c.JSON(k.View())
		})
	r.Handle(Route{Method: "PATCH", Path: base + "/:id", Summary: "Rename an API key", Tag: "api-keys", Perm: auth.PermAdminister, Response: apiKeySchema,
		Request: map[string]any{"type": "object", "required": []string{"name"}, "additionalProperties": false, "properties": map[string]any{"name": map[string]any{"type": "string", "minLength": 1, "maxLength": 200}}},
		Example: func(map[string]string) map[string]any { return map[string]any{"name": "gateway 8"} }},
		func(c *fiber.Ctx) error {
			body, err := decodeBody(c)
			if err != nil {
				return err
			}
			var name string
			if raw, ok := body["name"]; !ok || json.Unmarshal(raw, &name) != nil || strings.TrimSpace(name) == "" || len(strings.TrimSpace(name)) > 200 {
				return problem.Validation(problem.FieldError{Field: "name", Reason: "must be 1 to 200 characters"})
			}
			for k := range body {
				if k != "name" {
					return problem.Validation(problem.FieldError{Field: k, Reason: "is not a field of an API key"})
				}
			}
			if _, err := find(c); err != nil {
				return err
			}
			if err := auth.RenameAPIKey(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"), strings.TrimSpace(name), Actor(c), body); err != nil {
				return err
			}
			k, err := find(c)
			if err != nil {
				return err
			}
			return c.JSON(k.View())
		})
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Revoke an API key; devices using it are refused within seconds", Tag: "api-keys", Perm: auth.PermAdminister, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			err := auth.RevokeAPIKey(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"), Actor(c))
			if err != nil {
				return capabilityError("API key", err)
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}
