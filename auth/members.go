package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// MemberRole returns a user's role in an organisation that has not been
// deleted, or [ErrNotFound]: not a member, no such organisation, and an id
// that is not a UUID all look the same.
func MemberRole(ctx context.Context, db database.Querier, orgID, userID string) (Role, error) {
	if !uuids.Valid(orgID) {
		return "", ErrNotFound
	}
	var role Role
	err := db.QueryRow(ctx, `
			SELECT m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
			 WHERE m.org_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL`, orgID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return role, nil
}

// memberProjection is a member's wire form.
const memberProjection = `jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', m.role, 'created_at', m.created_at)`

// ListMembers returns an organisation's members, oldest membership first,
// each in its wire form (id, email, name, role, created_at).
func ListMembers(ctx context.Context, db database.Querier, orgID string) ([]json.RawMessage, error) {
	rows, err := db.Query(ctx, `SELECT `+memberProjection+` FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY m.created_at, u.id`, orgID)
	if err != nil {
		return nil, err
	}
	return database.JSONList(rows)
}

// GetMember returns a member in its wire form, or [ErrNotFound].
func GetMember(ctx context.Context, db database.Querier, orgID, userID string) (json.RawMessage, error) {
	if !uuids.Valid(userID) {
		return nil, ErrNotFound
	}
	var item json.RawMessage
	err := db.QueryRow(ctx, `SELECT `+memberProjection+` FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID).Scan(&item)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return item, err
}

// AddMemberParams are the inputs of [AddMember].
type AddMemberParams struct {
	OrgID string
	// Email finds the user, who must have signed in before (case-insensitive).
	Email string
	Role  Role
	// Actor is recorded in the audit log ("user:<id>").
	Actor string
}

// AddMember makes a user who has signed in before a member, with its audit
// row, in one transaction, and returns the member in its wire form. An
// unknown email is a [*ValidationError] naming email; a member already, a
// [*ConflictError]. Who may grant which role is the caller's check.
func AddMember(ctx context.Context, db database.DB, p AddMemberParams) (json.RawMessage, error) {
	var item json.RawMessage
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var userID string
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE lower(email) = lower($1) ORDER BY created_at LIMIT 1`, strings.TrimSpace(p.Email)).Scan(&userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ValidationError{Field: "email", Reason: "no user with this email has signed in yet; ask them to sign in once"}
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, p.OrgID, userID, p.Role)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &ConflictError{Reason: "this user is already a member; change their role with PATCH"}
		}
		if err := WriteAudit(ctx, tx, AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "member.add", TargetType: "user", TargetID: userID,
			Details: map[string]any{"role": p.Role}}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT `+memberProjection+` FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.user_id = $2`, p.OrgID, userID).Scan(&item)
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}

// MemberChange names a membership to change and who changes it.
type MemberChange struct {
	OrgID, UserID string
	// By is the caller's own role: only an owner changes an owner's
	// membership or makes someone an owner ([*ForbiddenError]).
	By Role
	// Actor is recorded in the audit log ("user:<id>").
	Actor string
}

// SetMemberRole changes a member's role, with its audit row, in one
// transaction, and returns the member in its wire form. [ErrNotFound] for a
// user who is not a member; the last owner stays owner ([*ConflictError]).
func SetMemberRole(ctx context.Context, db database.DB, m MemberChange, role Role) (json.RawMessage, error) {
	var item json.RawMessage
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := changeMember(ctx, tx, m, &role); err != nil {
			return err
		}
		var err error
		item, err = GetMember(ctx, tx, m.OrgID, m.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}

// RemoveMember ends a membership, with its audit row, in one transaction;
// errors as for [SetMemberRole].
func RemoveMember(ctx context.Context, db database.DB, m MemberChange) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { return changeMember(ctx, tx, m, nil) })
}

// changeMember sets (role != nil) or removes a membership. Owners are
// protected: only an owner changes an owner, and the last owner stays.
func changeMember(ctx context.Context, tx pgx.Tx, m MemberChange, role *Role) error {
	if !uuids.Valid(m.UserID) {
		return ErrNotFound
	}
	var current Role
	err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2 FOR UPDATE`, m.OrgID, m.UserID).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if (current == Owner || (role != nil && *role == Owner)) && m.By != Owner {
		return &ForbiddenError{Reason: "only an owner may change an owner's membership or make someone an owner"}
	}
	if current == Owner && (role == nil || *role != Owner) {
		var owners int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, m.OrgID).Scan(&owners); err != nil {
			return err
		}
		if owners <= 1 {
			return &ConflictError{Reason: "an organisation keeps at least one owner; make someone else owner first"}
		}
	}
	if role == nil {
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, m.OrgID, m.UserID); err != nil {
			return err
		}
		return WriteAudit(ctx, tx, AuditEntry{OrgID: m.OrgID, Actor: m.Actor, Action: "member.remove", TargetType: "user", TargetID: m.UserID,
			Details: map[string]any{"role": current}})
	}
	if _, err := tx.Exec(ctx, `UPDATE memberships SET role = $3, updated_at = now() WHERE org_id = $1 AND user_id = $2`, m.OrgID, m.UserID, *role); err != nil {
		return err
	}
	return WriteAudit(ctx, tx, AuditEntry{OrgID: m.OrgID, Actor: m.Actor, Action: "member.role", TargetType: "user", TargetID: m.UserID,
		Details: map[string]any{"from": current, "to": *role}})
}

// GrantMembership makes userID a member of orgID with role, changing the role
// of an existing membership. It writes no audit row: it serves the
// development issuer's tokens (freshtrack dev-token), whose people are made up.
func GrantMembership(ctx context.Context, db database.Querier, orgID, userID string, role Role) error {
	_, err := db.Exec(ctx, `
		INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, updated_at = now()`, orgID, userID, role)
	return err
}

// MayRead reports whether userID is a member of orgID with the read
// permission: the check a live event stream repeats when the database says
// the membership changed.
func MayRead(ctx context.Context, db database.Querier, orgID, userID string) (bool, error) {
	role, err := MemberRole(ctx, db, orgID, userID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return role.Can(PermRead), nil
}
