package api

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// memberSchema is a member (auth's wire form of a membership).
var memberSchema = obj(map[string]any{
	"id": map[string]any{"type": "string", "format": "uuid", "description": "the user's id"}, "email": map[string]any{"type": []string{"string", "null"}},
	"name": map[string]any{"type": []string{"string", "null"}}, "role": map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}},
	"created_at": map[string]any{"type": "string", "format": "date-time", "description": "when they became a member"},
}, "id", "email", "name", "role", "created_at")

func (r *Router) registerMembers() {
	base := "/v1/orgs/:org/members"
	r.Handle(Route{Method: "GET", Path: base, Summary: "List members and their roles", Tag: "members", Perm: auth.PermRead,
		Response: listSchema(memberSchema)},
		func(c *fiber.Ctx) error {
			items, err := auth.ListMembers(c.UserContext(), r.deps.Pool, OrgOf(c))
			if err != nil {
				return err
			}
			return sendList(c, items)
		})
	r.Handle(Route{Method: "POST", Path: base, Summary: "Add a user who has signed in before, by email, with a role", Tag: "members", Perm: auth.PermAdminister,
		Success: fiber.StatusCreated, Response: memberSchema,
		Request: map[string]any{"type": "object", "required": []string{"email", "role"}, "additionalProperties": false, "properties": map[string]any{
			"email": map[string]any{"type": "string", "format": "email"}, "role": map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}}}},
		Example: func(ids map[string]string) map[string]any {
			return map[string]any{"email": ids["newcomer_email"], "role": "staff"}
		}},
		func(c *fiber.Ctx) error {
			body, err := decodeBody(c)
			if err != nil {
				return err
			}
			var in struct {
				Email string `json:"email"`
				Role  string `json:"role"`
			}
			var errs []problem.FieldError
			for k := range body {
				if k != "email" && k != "role" {
					errs = append(errs, problem.FieldError{Field: k, Reason: "is not a field of a member"})
				}
			}
			_ = json.Unmarshal(body["email"], &in.Email)
			_ = json.Unmarshal(body["role"], &in.Role)
			if strings.TrimSpace(in.Email) == "" {
				errs = append(errs, problem.FieldError{Field: "email", Reason: "is required"})
			}
			role, rerr := auth.ParseRole(in.Role)
			if rerr != nil {
				errs = append(errs, problem.FieldError{Field: "role", Reason: "must be viewer, staff, manager, admin or owner"})
			}
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			if role == auth.Owner && RoleOf(c) != auth.Owner {
				return problem.New(fiber.StatusForbidden, "forbidden", "Forbidden", "only an owner may make someone an owner")
			}
			item, err := auth.AddMember(c.UserContext(), r.deps.Pool, auth.AddMemberParams{OrgID: OrgOf(c), Email: in.Email, Role: role, Actor: Actor(c)})
			if err != nil {
				return memberError(err)
			}
			return sendJSON(c, fiber.StatusCreated, item)
		})
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get a member", Tag: "members", Perm: auth.PermRead, Response: memberSchema},
		func(c *fiber.Ctx) error {
			item, err := auth.GetMember(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"))
			if err != nil {
				return memberError(err)
			}
			return sendJSON(c, fiber.StatusOK, item)
		})
	r.Handle(Route{Method: "PATCH", Path: base + "/:id", Summary: "Change a member's role", Tag: "members", Perm: auth.PermAdminister, Response: memberSchema,
		Request: map[string]any{"type": "object", "required": []string{"role"}, "additionalProperties": false, "properties": map[string]any{
			"role": map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}}}},
		Example: func(ids map[string]string) map[string]any { return map[string]any{"role": "manager"} }},
		func(c *fiber.Ctx) error {
			body, err := decodeBody(c)
			if err != nil {
				return err
			}
			var s string
			if raw, ok := body["role"]; !ok || json.Unmarshal(raw, &s) != nil {
				return problem.Validation(problem.FieldError{Field: "role", Reason: "is required: viewer, staff, manager, admin or owner"})
			}
			for k := range body {
				if k != "role" {
					return problem.Validation(problem.FieldError{Field: k, Reason: "is not a field of a member"})
				}
			}
			role, err := auth.ParseRole(s)
			if err != nil {
				return problem.Validation(problem.FieldError{Field: "role", Reason: "must be viewer, staff, manager, admin or owner"})
			}
			item, err := auth.SetMemberRole(c.UserContext(), r.deps.Pool, memberChange(c), role)
			if err != nil {
				return memberError(err)
			}
			return sendJSON(c, fiber.StatusOK, item)
		})
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Remove a member", Tag: "members", Perm: auth.PermAdminister, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			if err := auth.RemoveMember(c.UserContext(), r.deps.Pool, memberChange(c)); err != nil {
				return memberError(err)
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}

// memberChange is the membership in the path, changed by the caller.
func memberChange(c *fiber.Ctx) auth.MemberChange {
	return auth.MemberChange{OrgID: OrgOf(c), UserID: c.Params("id"), By: RoleOf(c), Actor: Actor(c)}
}

// memberError maps auth's membership errors to problems.
func memberError(err error) error { return capabilityError("member", err) }
