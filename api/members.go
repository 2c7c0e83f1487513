package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

var memberSchema = map[string]any{"type": "object", "properties": map[string]any{
	"id": map[string]any{"type": "string", "format": "uuid", "description": "the user's id"}, "email": map[string]any{"type": []string{"string", "null"}},
	"name": map[string]any{"type": []string{"string", "null"}}, "role": map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}},
	"created_at": map[string]any{"type": "string", "format": "date-time"},
}}

const memberProjection = `jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', m.role, 'created_at', m.created_at)`

func (r *Router) registerMembers() {
	base := "/v1/orgs/:org/members"
	r.Handle(Route{Method: "GET", Path: base, Summary: "List members and their roles", Tag: "members", Perm: auth.PermRead,
		Response: map[string]any{"type": "object", "properties": map[string]any{"items": map[string]any{"type": "array", "items": memberSchema}}}},
		func(c *fiber.Ctx) error {
			rows, err := r.deps.Pool.Query(c.UserContext(), `SELECT `+memberProjection+` FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY m.created_at, u.id`, OrgOf(c))
			if err != nil {
				return err
			}
			items, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
			if err != nil {
				return err
			}
			return c.JSON(fiber.Map{"items": items, "next_cursor": nil})
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
			var item json.RawMessage
			err = r.tx(c.UserContext(), func(tx pgx.Tx) error {
				var userID string
				err := tx.QueryRow(c.UserContext(), `SELECT id FROM users WHERE lower(email) = lower($1) ORDER BY created_at LIMIT 1`, strings.TrimSpace(in.Email)).Scan(&userID)
				if errors.Is(err, pgx.ErrNoRows) {
					return problem.Validation(problem.FieldError{Field: "email", Reason: "no user with this email has signed in yet; ask them to sign in once"})
				}
				if err != nil {
					return err
				}
				tag, err := tx.Exec(c.UserContext(), `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, OrgOf(c), userID, role)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					return problem.New(fiber.StatusConflict, "conflict", "Conflict", "this user is already a member; change their role with PATCH")
				}
				if err := audit(c, tx, "member.add", "user", userID, map[string]any{"role": role}); err != nil {
					return err
				}
				return tx.QueryRow(c.UserContext(), `SELECT `+memberProjection+` FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.user_id = $2`, OrgOf(c), userID).Scan(&item)
			})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Status(fiber.StatusCreated).Send(item)
		})
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get a member", Tag: "members", Perm: auth.PermRead, Response: memberSchema},
		func(c *fiber.Ctx) error {
			item, err := r.member1(c, r.deps.Pool, c.Params("id"))
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(item)
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
			var item json.RawMessage
			err = r.tx(c.UserContext(), func(tx pgx.Tx) error {
				if err := r.changeMember(c, tx, c.Params("id"), &role); err != nil {
					return err
				}
				var err error
				item, err = r.member1(c, tx, c.Params("id"))
				return err
			})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(item)
		})
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Remove a member", Tag: "members", Perm: auth.PermAdminister, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			err := r.tx(c.UserContext(), func(tx pgx.Tx) error { return r.changeMember(c, tx, c.Params("id"), nil) })
			if err != nil {
				return err
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}

func (r *Router) member1(c *fiber.Ctx, q rowQuerier, id string) (json.RawMessage, error) {
	if !uuids.Valid(id) {
		return nil, problem.NotFound("member")
	}
	var item json.RawMessage
	err := q.QueryRow(c.UserContext(), `SELECT `+memberProjection+` FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.user_id = $2`, OrgOf(c), id).Scan(&item)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, problem.NotFound("member")
	}
	return item, err
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// changeMember sets (role != nil) or removes a membership. Owners are
// protected: only an owner changes an owner, and the last owner stays.
func (r *Router) changeMember(c *fiber.Ctx, tx pgx.Tx, userID string, role *auth.Role) error {
	if !uuids.Valid(userID) {
		return problem.NotFound("member")
	}
	var current auth.Role
	err := tx.QueryRow(c.UserContext(), `SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2 FOR UPDATE`, OrgOf(c), userID).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.NotFound("member")
	}
	if err != nil {
		return err
	}
	if (current == auth.Owner || (role != nil && *role == auth.Owner)) && RoleOf(c) != auth.Owner {
		return problem.New(fiber.StatusForbidden, "forbidden", "Forbidden", "only an owner may change an owner's membership or make someone an owner")
	}
	if current == auth.Owner && (role == nil || *role != auth.Owner) {
		var owners int
		if err := tx.QueryRow(c.UserContext(), `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, OrgOf(c)).Scan(&owners); err != nil {
			return err
		}
		if owners <= 1 {
			return problem.New(fiber.StatusConflict, "conflict", "Conflict", "an organisation keeps at least one owner; make someone else owner first")
		}
	}
	if role == nil {
		if _, err := tx.Exec(c.UserContext(), `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, OrgOf(c), userID); err != nil {
			return err
		}
		return audit(c, tx, "member.remove", "user", userID, map[string]any{"role": current})
	}
	if _, err := tx.Exec(c.UserContext(), `UPDATE memberships SET role = $3, updated_at = now() WHERE org_id = $1 AND user_id = $2`, OrgOf(c), userID, *role); err != nil {
		return err
	}
	return audit(c, tx, "member.role", "user", userID, map[string]any{"from": current, "to": *role})
}
