package auth

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// This file serves organisations as their members see and manage them
// through the API: in their wire form, with the caller's role. The API
// validates the name and settings; [CreateOrganization] is the CLI's way in.

// orgProjection is an organisation's wire form, with the member's role.
const orgProjection = `jsonb_build_object('id', o.id, 'name', o.name, 'settings', o.settings, 'version', o.version, 'created_at', o.created_at, 'role', m.role)`

// ListUserOrganizations returns the organisations a user belongs to that
// have not been deleted, oldest first, each in its wire form.
func ListUserOrganizations(ctx context.Context, db database.Querier, userID string) ([]json.RawMessage, error) {
	rows, err := db.Query(ctx, `
				SELECT `+orgProjection+` FROM organizations o JOIN memberships m ON m.org_id = o.id
				 WHERE m.user_id = $1 AND o.deleted_at IS NULL ORDER BY o.created_at, o.id`, userID)
	if err != nil {
		return nil, err
	}
	return database.JSONList(rows)
}

// CreateOwnedOrganizationParams are the inputs of [CreateOwnedOrganization].
type CreateOwnedOrganizationParams struct {
	// Name is the validated name.
	Name string
	// Settings is the validated settings as JSON; nil: {}.
	Settings *string
	// OwnerID is the user who becomes its owner.
	OwnerID string
	// Actor and Details go into the audit row.
	Actor   string
	Details any
}

// CreateOwnedOrganization creates an organisation with its creator as its
// owner and the audit row, in one transaction, and returns it in its wire
// form.
func CreateOwnedOrganization(ctx context.Context, db database.DB, p CreateOwnedOrganizationParams) (json.RawMessage, error) {
	var item json.RawMessage
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `INSERT INTO organizations (name, settings) VALUES ($1, coalesce($2::jsonb, '{}')) RETURNING id`, p.Name, p.Settings).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')`, id, p.OwnerID); err != nil {
			return err
		}
		if err := WriteAudit(ctx, tx, AuditEntry{OrgID: id, Actor: p.Actor, Action: "organization.create", TargetType: "organization", TargetID: id, Details: p.Details}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT `+orgProjection+` FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2`, id, p.OwnerID).Scan(&item)
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}

// GetUserOrganization returns an organisation in its wire form with the
// user's role, and its version. The caller has checked the membership.
func GetUserOrganization(ctx context.Context, db database.Querier, orgID, userID string) (json.RawMessage, int, error) {
	var item json.RawMessage
	var version int
	err := db.QueryRow(ctx, `SELECT `+orgProjection+`, o.version FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2`,
		orgID, userID).Scan(&item, &version)
	if err != nil {
		return nil, 0, err
	}
	return item, version, nil
}

// UpdateOrganizationParams are the inputs of [UpdateOrganization].
type UpdateOrganizationParams struct {
	OrgID string
	// UserID is whose role the answer carries.
	UserID string
	// Version is the version the caller read.
	Version int
	// Name and Settings (JSON) are validated; nil keeps the current value.
	Name, Settings *string
	// Actor and Details go into the audit row.
	Actor   string
	Details any
}

// UpdateOrganization renames an organisation or replaces its settings if
// its version is still p.Version ([ErrOrganizationChanged] otherwise), with
// the audit row, in one transaction, and returns its wire form and new
// version.
func UpdateOrganization(ctx context.Context, db database.DB, p UpdateOrganizationParams) (json.RawMessage, int, error) {
	var item json.RawMessage
	var newVersion int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
					UPDATE organizations SET name = coalesce($3, name), settings = coalesce($4::jsonb, settings),
					       version = version + 1, updated_at = now()
					 WHERE id = $1 AND version = $2 AND deleted_at IS NULL RETURNING version`, p.OrgID, p.Version, p.Name, p.Settings).Scan(&newVersion)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrOrganizationChanged
		}
		if err != nil {
			return err
		}
		if err := WriteAudit(ctx, tx, AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "organization.update", TargetType: "organization", TargetID: p.OrgID, Details: p.Details}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT `+orgProjection+` FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2`, p.OrgID, p.UserID).Scan(&item)
	})
	if err != nil {
		return nil, 0, err
	}
	return item, newVersion, nil
}

// DeleteOrganization hides an organisation (its records are kept for
// compliance) and revokes its API keys, with the audit row, in one
// transaction.
func DeleteOrganization(ctx context.Context, db database.DB, orgID, actor string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE organizations SET deleted_at = now(), updated_at = now() WHERE id = $1`, orgID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1`, orgID); err != nil {
			return err
		}
		return WriteAudit(ctx, tx, AuditEntry{OrgID: orgID, Actor: actor, Action: "organization.delete", TargetType: "organization", TargetID: orgID})
	})
}
