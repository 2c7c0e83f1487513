package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/freshtrack/freshtrack/internal/crud"
	"github.com/freshtrack/freshtrack/safety"
)

// name is a required display name of up to 200 characters.
func name(doc string) crud.Field {
	return crud.Field{JSON: "name", Kind: crud.Text, Required: true, MaxLen: 200, Doc: doc}
}

// Sites are an organisation's premises, each in its own time zone.
var Sites = &crud.Collection{
	Singular: "site", Table: "sites",
	Fields: []crud.Field{
		name("site name"),
		{JSON: "timezone", Kind: crud.Timezone, Required: true, Doc: "the site's IANA time zone; reports use its local days"},
		{JSON: "address", Kind: crud.Text, MaxLen: 500, Nullable: true},
		{JSON: "manual_log_cadence_minutes", Kind: crud.Int, Min: crud.Num(15), Max: crud.Num(10080), Nullable: true,
			Doc: "how often staff must log a manual temperature check of each unit, in minutes (15 to 10080, a week); " +
				"the manual_log_missed rule alerts when one is late; null: no manual-log duty"},
	},
	Checks: map[string]crud.FieldError{
		"sites_manual_log_cadence_minutes_check": {Field: "manual_log_cadence_minutes", Reason: "must be from 15 to 10080 minutes, or null"},
	},
	Blocks: []crud.Dependent{{Table: "units", Column: "site_id", What: "units"}, {Table: "areas", Column: "site_id", What: "areas"}},
}

// Areas divide a site (Kitchen, Storage).
var Areas = &crud.Collection{
	Singular: "area", Table: "areas", Filters: []string{"site_id"},
	Fields: []crud.Field{
		{JSON: "site_id", Kind: crud.Ref, Ref: "site", Required: true},
		name("area name, e.g. Kitchen or Storage"),
	},
}

// Units are what is kept at a safe temperature.
var Units = &crud.Collection{
	Singular: "unit", Table: "units", Filters: []string{"site_id", "area_id", "kind"},
	Fields: []crud.Field{
		{JSON: "site_id", Kind: crud.Ref, Ref: "site", Required: true},
		{JSON: "area_id", Kind: crud.Ref, Ref: "area", Nullable: true},
		name("unit name, e.g. Prep fridge 2"),
		{JSON: "kind", Kind: crud.Enum, Enum: safety.UnitKinds, Required: true},
		{JSON: "safe_min_c", Kind: crud.Number, Min: crud.Num(-100), Max: crud.Num(200),
			Doc: "lowest safe temperature, °C; on create it defaults by kind (" + safeRangeDefaults(func(r safety.SafeRange) float64 { return r.MinC }) + "), and a unit of kind other needs it"},
		{JSON: "safe_max_c", Kind: crud.Number, Min: crud.Num(-100), Max: crud.Num(200),
			Doc: "highest safe temperature, °C; on create it defaults by kind (" + safeRangeDefaults(func(r safety.SafeRange) float64 { return r.MaxC }) + "), and a unit of kind other needs it"},
	},
	Checks:         map[string]crud.FieldError{"units_check": {Field: "safe_max_c", Reason: "must be greater than safe_min_c"}},
	Blocks:         []crud.Dependent{{Table: "alerts", Column: "unit_id", What: "alerts"}},
	CreateDefaults: defaultSafeRange,
}

// Sensors are the devices that report readings; a deleted sensor is
// retired, keeping its readings' history.
var Sensors = &crud.Collection{
	Singular: "sensor", Table: "sensors", IDCol: "public_id", KeyCol: "id",
	Filters: []string{"unit_id"}, SoftDelete: "retired_at",
	Fields: []crud.Field{
		{JSON: "external_id", Kind: crud.Text, Required: true, MaxLen: 128, Doc: "the device's serial or TTN dev_eui, unique in the organisation"},
		{JSON: "unit_id", Kind: crud.Ref, Ref: "unit", Nullable: true, Doc: "the unit it measures; null while unassigned"},
		{JSON: "name", Kind: crud.Text, MaxLen: 200, Nullable: true},
		{JSON: "model", Kind: crud.Text, MaxLen: 200, Nullable: true},
		{JSON: "last_seen_at", Kind: crud.Time, ReadOnly: true},
		{JSON: "battery", Kind: crud.Number, ReadOnly: true},
	},
}

// Contacts are the people escalation steps notify.
var Contacts = &crud.Collection{
	Singular: "contact", Table: "contacts", Filters: []string{"site_id"},
	Fields: []crud.Field{
		name("contact name"),
		{JSON: "site_id", Kind: crud.Ref, Ref: "site", Nullable: true},
		{JSON: "phone", Kind: crud.Phone, Nullable: true},
		{JSON: "email", Kind: crud.Email, Nullable: true},
		{JSON: "role", Kind: crud.Enum, Enum: []string{"viewer", "staff", "manager", "admin", "owner"}, Doc: "who this contact is for escalation steps"},
		{JSON: "on_shift", Kind: crud.Bool},
	},
	Checks: map[string]crud.FieldError{"contacts_check": {Field: "phone", Reason: "a contact needs a phone or an email"}},
}

// defaultSafeRange completes a unit's create body with its kind's default
// safe range (safety.DefaultSafeRange) where safe_min_c or safe_max_c is
// absent; a kind without one (other) needs both.
func defaultSafeRange(body map[string]json.RawMessage) []crud.FieldError {
	var kind string
	if raw, ok := body["kind"]; !ok || json.Unmarshal(raw, &kind) != nil || !slices.Contains(safety.UnitKinds, kind) {
		return nil // Values reports the kind
	}
	r, ok := safety.DefaultSafeRange(kind)
	var errs []crud.FieldError
	for _, side := range []struct {
		field string
		c     float64
	}{{"safe_min_c", r.MinC}, {"safe_max_c", r.MaxC}} {
		if _, given := body[side.field]; given {
			continue
		}
		if !ok {
			errs = append(errs, crud.FieldError{Field: side.field, Reason: "is required for a unit of kind " + kind + ", which has no default safe range"})
			continue
		}
		body[side.field] = json.RawMessage(strconv.FormatFloat(side.c, 'g', -1, 64))
	}
	return errs
}

// safeRangeDefaults lists one side of each unit kind's default safe range.
func safeRangeDefaults(side func(safety.SafeRange) float64) string {
	var parts []string
	for _, k := range safety.UnitKinds {
		if r, ok := safety.DefaultSafeRange(k); ok {
			parts = append(parts, fmt.Sprintf("%s %g", k, side(r)))
		}
	}
	return strings.Join(parts, ", ")
}
