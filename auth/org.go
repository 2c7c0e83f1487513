package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Organization is a tenant: every site, sensor, key and alert belongs to one.
type Organization struct {
	// ID is the organisation's UUID.
	ID string `json:"id"`
	// Name is what people see.
	Name string `json:"name"`
	// Settings are the organisation's ingest preferences.
	Settings OrgSettings `json:"settings"`
	// CreatedAt is when the organisation was created.
	CreatedAt time.Time `json:"created_at"`
}

// OrgSettings are the per-organisation preferences stored in
// organizations.settings.
type OrgSettings struct {
	// AutoRegisterSensors makes ingest create a sensor the first time an
	// unknown device id reports, instead of rejecting its readings.
	AutoRegisterSensors bool `json:"auto_register_sensors"`
	// TTN overrides which keys of a The Things Network uplink's
	// decoded_payload hold which value. Nil means the built-in defaults.
	TTN *TTNFieldNames `json:"ttn,omitempty"`
	// TemperatureUnit is how people see temperatures: "C" (empty) or "F".
	// The API always speaks °C; this is the web app's and reports' choice.
	TemperatureUnit string `json:"temperature_unit,omitempty"`
}

// TTNFieldNames lists, per value, the decoded_payload keys to try in order.
// An empty list means the built-in default for that value.
type TTNFieldNames struct {
	// Temperature keys hold degrees Celsius.
	Temperature []string `json:"temperature,omitempty"`
	// Humidity keys hold relative humidity in percent.
	Humidity []string `json:"humidity,omitempty"`
	// Battery keys hold the battery level.
	Battery []string `json:"battery,omitempty"`
}

// CreateOrganizationParams are the inputs of [CreateOrganization].
type CreateOrganizationParams struct {
	// Name is trimmed and must then be 1 to 200 characters.
	Name string
	// AutoRegisterSensors sets [OrgSettings.AutoRegisterSensors].
	AutoRegisterSensors bool
	// Actor is recorded in the audit log ("cli", "user:<id>"). Defaults to "system".
	Actor string
}

// CreateOrganization creates an organisation and records it in the audit log,
// in one statement.
func CreateOrganization(ctx context.Context, db database.Querier, p CreateOrganizationParams) (Organization, error) {
	name, err := cleanName("name", p.Name)
	if err != nil {
		return Organization{}, err
	}
	settings, err := json.Marshal(OrgSettings{AutoRegisterSensors: p.AutoRegisterSensors})
	if err != nil {
		return Organization{}, fmt.Errorf("create organization: %w", err)
	}
	row := db.QueryRow(ctx, `
		WITH o AS (
			INSERT INTO organizations (name, settings) VALUES ($1, $2)
			RETURNING id, name, settings, created_at
		), a AS (
			INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
			SELECT id, $3, 'organization.create', 'organization', id::text,
			       jsonb_build_object('name', name, 'settings', settings)
			  FROM o
		)
		SELECT id, name, settings, created_at FROM o`,
		name, json.RawMessage(settings), actorOr(p.Actor))
	org, err := scanOrganization(row)
	if err != nil {
		return Organization{}, fmt.Errorf("create organization: %w", err)
	}
	return org, nil
}

// GetOrganization returns an organisation that has not been deleted, or
// [ErrNotFound].
func GetOrganization(ctx context.Context, db database.Querier, id string) (Organization, error) {
	if !uuids.Valid(id) {
		return Organization{}, ErrNotFound
	}
	row := db.QueryRow(ctx, `
		SELECT id, name, settings, created_at FROM organizations
		 WHERE id = $1 AND deleted_at IS NULL`, id)
	org, err := scanOrganization(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Organization{}, ErrNotFound
	}
	if err != nil {
		return Organization{}, fmt.Errorf("get organization: %w", err)
	}
	return org, nil
}

func scanOrganization(row pgx.Row) (Organization, error) {
	var org Organization
	err := row.Scan(&org.ID, &org.Name, &org.Settings, &org.CreatedAt)
	return org, err
}
