package seedimport

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Reading the seed's tables (everything but the readings themselves) in the
// source snapshot. Columns that a seed's history may lack are read as NULL
// (see catalog); tables it lacks are empty.

// notMigratedTables are counted in the report and not imported: FreshTrack
// has no place for them, or they hold secrets (SEED-SYSTEM.md §3.2).
var notMigratedTables = []string{
	"sms_configs", "stripe_events", "reading_metrics", "pairing_sessions", "calibration_records",
	"door_events", "hubs", "gateways", "inspector_sessions", "pilot_feedback", "entity_dashboard_layouts",
	"widget_health", "notification_settings", "ttn_settings", "ttn_provisioning_logs", "sms_alert_log",
	"platform_roles", "user_sync_log", "emulator_sync_runs",
}

// opt is column c of table t, or a typed NULL when the seed lacks it.
func (c catalog) opt(t, col, typ string) string {
	if c.col(t, col) {
		return col
	}
	return "NULL::" + typ
}

// first is the first of the columns the table has (a column renamed across
// the seed's history), or a typed NULL.
func (c catalog) first(t, typ string, cols ...string) string {
	for _, col := range cols {
		if c.col(t, col) {
			return col
		}
	}
	return "NULL::" + typ
}

func collect[T any](ctx context.Context, tx pgx.Tx, table, sql string, scan func(pgx.CollectableRow) (T, error)) ([]T, error) {
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("seed: read %s: %w", table, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("seed: read %s: %w", table, err)
	}
	return out, nil
}

// loadSeed reads every table the import maps.
func loadSeed(ctx context.Context, tx pgx.Tx, cat catalog) (*seedData, error) {
	d := &seedData{lora: map[string]sLora{}}
	var err error
	o := cat.opt
	d.orgs, err = collect(ctx, tx, "organizations", `
		SELECT id::text, name, coalesce(`+o("organizations", "slug", "text")+`, ''), coalesce(`+o("organizations", "timezone", "text")+`, ''),
		       coalesce(`+o("organizations", "compliance_mode", "text")+`::text, ''), `+o("organizations", "sensor_limit", "int")+`,
		       `+o("organizations", "deleted_at", "timestamptz")+`
		  FROM organizations ORDER BY id`,
		func(r pgx.CollectableRow) (x sOrg, err error) {
			err = r.Scan(&x.ID, &x.Name, &x.Slug, &x.Timezone, &x.ComplianceMode, &x.SensorLimit, &x.DeletedAt)
			return
		})
	if err != nil {
		return nil, err
	}
	if cat.has("profiles") {
		t := "profiles"
		d.profiles, err = collect(ctx, tx, t, `
			SELECT id::text, user_id::text, organization_id::text, email, full_name, phone,
			       coalesce(`+o(t, "sms_enabled", "bool")+`, false), coalesce(`+o(t, "email_enabled", "bool")+`, true),
			       coalesce(`+o(t, "digest_daily", "bool")+`, false), coalesce(`+o(t, "digest_weekly", "bool")+`, false),
			       `+o(t, "digest_daily_time", "text")+`, `+o(t, "digest_site_ids", "text")+`, `+o(t, "timezone", "text")+`
			  FROM profiles ORDER BY id`,
			func(r pgx.CollectableRow) (x sProfile, err error) {
				err = r.Scan(&x.ID, &x.UserID, &x.OrgID, &x.Email, &x.FullName, &x.Phone, &x.SMSEnabled, &x.EmailEnabled,
					&x.DigestDaily, &x.DigestWeekly, &x.DigestTime, &x.DigestSites, &x.Timezone)
				return
			})
		if err != nil {
			return nil, err
		}
	}
	if cat.has("user_roles") {
		d.roles, err = collect(ctx, tx, "user_roles", `
			SELECT user_id::text, organization_id::text, role::text FROM user_roles ORDER BY user_id, organization_id`,
			func(r pgx.CollectableRow) (x sRole, err error) {
				err = r.Scan(&x.UserID, &x.OrgID, &x.Role)
				return
			})
		if err != nil {
			return nil, err
		}
	}
	if cat.has("escalation_contacts") {
		t := "escalation_contacts"
		d.contacts, err = collect(ctx, tx, t, `
			SELECT id::text, organization_id::text, profile_id::text, name, coalesce(phone, ''), email,
			       coalesce(`+o(t, "priority", "int")+`, 0), coalesce(`+o(t, "is_active", "bool")+`, true)
			  FROM escalation_contacts ORDER BY id`,
			func(r pgx.CollectableRow) (x sContact, err error) {
				err = r.Scan(&x.ID, &x.OrgID, &x.ProfileID, &x.Name, &x.Phone, &x.Email, &x.Priority, &x.Active)
				return
			})
		if err != nil {
			return nil, err
		}
	}
	if cat.has("subscriptions") {
		t := "subscriptions"
		d.subs, err = collect(ctx, tx, t, `
			SELECT id::text, organization_id::text, plan::text, status::text, `+o(t, "stripe_customer_id", "text")+`,
			       `+o(t, "stripe_subscription_id", "text")+`, `+o(t, "current_period_end", "timestamptz")+`,
			       coalesce(`+o(t, "updated_at", "timestamptz")+`, '-infinity')
			  FROM subscriptions ORDER BY id`,
			func(r pgx.CollectableRow) (x sSub, err error) {
				err = r.Scan(&x.ID, &x.OrgID, &x.Plan, &x.Status, &x.CustomerID, &x.SubscriptionID, &x.PeriodEnd, &x.UpdatedAt)
				return
			})
		if err != nil {
			return nil, err
		}
	}
	if err := loadPlaces(ctx, tx, cat, d); err != nil {
		return nil, err
	}
	if err := loadAlerting(ctx, tx, cat, d); err != nil {
		return nil, err
	}
	if err := loadRecords(ctx, tx, cat, d); err != nil {
		return nil, err
	}
	d.notMigrated, err = countRows(ctx, tx, cat, notMigratedTables...)
	return d, err
}

func loadPlaces(ctx context.Context, tx pgx.Tx, cat catalog, d *seedData) error {
	var err error
	o := cat.opt
	t := "sites"
	d.sites, err = collect(ctx, tx, t, `
		SELECT id::text, organization_id::text, name, `+o(t, "address", "text")+`, `+o(t, "city", "text")+`,
		       `+o(t, "state", "text")+`, `+o(t, "postal_code", "text")+`, `+o(t, "country", "text")+`,
		       coalesce(`+o(t, "timezone", "text")+`, ''), coalesce(`+o(t, "is_active", "bool")+`, true), `+o(t, "deleted_at", "timestamptz")+`
		  FROM sites ORDER BY id`,
		func(r pgx.CollectableRow) (x sSite, err error) {
			err = r.Scan(&x.ID, &x.OrgID, &x.Name, &x.Address, &x.City, &x.State, &x.PostalCode, &x.Country, &x.Timezone, &x.Active, &x.DeletedAt)
			return
		})
	if err != nil {
		return err
	}
	t = "areas"
	d.areas, err = collect(ctx, tx, t, `
		SELECT id::text, site_id::text, name, coalesce(`+o(t, "is_active", "bool")+`, true), `+o(t, "deleted_at", "timestamptz")+`
		  FROM areas ORDER BY id`,
		func(r pgx.CollectableRow) (x sArea, err error) {
			err = r.Scan(&x.ID, &x.SiteID, &x.Name, &x.Active, &x.DeletedAt)
			return
		})
	if err != nil {
		return err
	}
	t = "units"
	d.frostguard = !cat.col(t, "temp_max") && cat.col(t, "temp_limit_high")
	limits := `temp_min::float8, temp_max::float8, coalesce(` + o(t, "temp_unit", "text") + `::text, 'F')`
	if d.frostguard {
		limits = `temp_limit_low::float8, temp_limit_high::float8, ''`
	}
	d.units, err = collect(ctx, tx, t, `
		SELECT id::text, area_id::text, name, unit_type::text, `+limits+`, `+o(t, "temp_hysteresis", "float8")+`::float8,
		       coalesce(`+o(t, "is_active", "bool")+`, true), `+o(t, "deleted_at", "timestamptz")+`
		  FROM units ORDER BY id`,
		func(r pgx.CollectableRow) (x sUnit, err error) {
			err = r.Scan(&x.ID, &x.AreaID, &x.Name, &x.Type, &x.TempMin, &x.TempMax, &x.TempUnit, &x.HysteresisF, &x.Active, &x.DeletedAt)
			return
		})
	if err != nil {
		return err
	}
	t = "devices"
	d.devices, err = collect(ctx, tx, t, `
		SELECT id::text, unit_id::text, coalesce(`+cat.first(t, "text", "device_eui", "serial_number")+`, ''),
		       `+o(t, "name", "text")+`, `+o(t, "device_type", "text")+`, `+cat.first(t, "int", "battery", "battery_level")+`,
		       `+o(t, "last_seen_at", "timestamptz")+`, coalesce(`+o(t, "is_active", "bool")+`, true)
		  FROM devices ORDER BY id`,
		func(r pgx.CollectableRow) (x sDevice, err error) {
			err = r.Scan(&x.ID, &x.UnitID, &x.EUI, &x.Name, &x.Type, &x.Battery, &x.LastSeenAt, &x.Active)
			return
		})
	if err != nil {
		return err
	}
	if cat.has("lora_sensors") {
		rows, err := tx.Query(ctx, `SELECT device_id::text, dev_eui, `+o("lora_sensors", "network_server_id", "text")+` FROM lora_sensors`)
		if err != nil {
			return fmt.Errorf("seed: read lora_sensors: %w", err)
		}
		var id string
		var l sLora
		if _, err := pgx.ForEachRow(rows, []any{&id, &l.DevEUI, &l.NetworkServerID}, func() error {
			d.lora[id] = l
			return nil
		}); err != nil {
			return fmt.Errorf("seed: read lora_sensors: %w", err)
		}
	}
	if cat.has("ttn_connections") {
		t = "ttn_connections"
		d.ttn, err = collect(ctx, tx, t, `
			SELECT id::text, organization_id::text, `+o(t, "application_id", "text")+`, `+o(t, "ttn_application_id", "text")+`,
			       webhook_secret, coalesce(`+o(t, "is_active", "bool")+`, true), coalesce(`+o(t, "ttn_webhook_secret_encrypted", "text")+`, '')
			  FROM ttn_connections ORDER BY id`,
			func(r pgx.CollectableRow) (x sTTN, err error) {
				err = r.Scan(&x.ID, &x.OrgID, &x.ApplicationID, &x.TTNApplicationID, &x.Secret, &x.Active, &x.EncryptedSecret)
				return
			})
	}
	return err
}

// reportOnlyRuleColumns are alert_rules settings FreshTrack has no rule for.
var reportOnlyRuleColumns = []string{
	"manual_interval_minutes", "manual_grace_minutes", "manual_log_missed_checkins_threshold",
	"door_open_warning_minutes", "door_open_critical_minutes", "door_open_max_mask_minutes_per_day",
	"excursion_confirm_minutes_door_open", "max_excursion_minutes", "schedule",
	"offline_warning_missed_checkins", "offline_critical_missed_checkins",
}

func loadAlerting(ctx context.Context, tx pgx.Tx, cat catalog, d *seedData) error {
	var err error
	o := cat.opt
	if cat.has("alert_rules") {
		t := "alert_rules"
		var set []string
		for _, c := range reportOnlyRuleColumns {
			if cat.col(t, c) {
				set = append(set, fmt.Sprintf("CASE WHEN %s IS NOT NULL THEN '%s' END", c, c))
			}
		}
		reportOnly := "ARRAY[]::text[]"
		if len(set) > 0 {
			reportOnly = "array_remove(ARRAY[" + strings.Join(set, ", ") + "], NULL)"
		}
		d.rules, err = collect(ctx, tx, t, `
			SELECT id::text, organization_id::text, site_id::text, unit_id::text, temp_min::float8, temp_max::float8,
			       coalesce(`+o(t, "delay_minutes", "int")+`, 5), `+o(t, "expected_reading_interval_seconds", "int")+`,
			       `+o(t, "offline_trigger_multiplier", "float8")+`::float8, `+o(t, "offline_trigger_additional_minutes", "int")+`,
			       alert_type::text, coalesce(`+o(t, "is_enabled", "bool")+`, true),
			       coalesce(`+o(t, "updated_at", "timestamptz")+`, '-infinity'), `+reportOnly+`
			  FROM alert_rules ORDER BY id`,
			func(r pgx.CollectableRow) (x sRule, err error) {
				err = r.Scan(&x.ID, &x.OrgID, &x.SiteID, &x.UnitID, &x.TempMin, &x.TempMax, &x.DelayMinutes, &x.ExpectedInterval,
					&x.OfflineMultiplier, &x.OfflineAdditionalMins, &x.AlertType, &x.Enabled, &x.UpdatedAt, &x.ReportOnly)
				return
			})
		if err != nil {
			return err
		}
	}
	if cat.has("notification_policies") {
		t := "notification_policies"
		d.policies, err = collect(ctx, tx, t, `
			SELECT id::text, organization_id::text, site_id::text, unit_id::text, alert_type::text,
			       coalesce(`+o(t, "initial_channels", "text[]")+`::text[], '{}'), coalesce(`+o(t, "escalation_steps", "jsonb")+`::jsonb, '[]')::text,
			       coalesce(`+o(t, "notify_roles", "text[]")+`::text[], '{}'), coalesce(`+o(t, "quiet_hours_enabled", "bool")+`, false),
			       coalesce(`+o(t, "reminders_enabled", "bool")+`, false), coalesce(`+o(t, "requires_ack", "bool")+`, false),
			       `+o(t, "ack_deadline_minutes", "int")+`::int, `+o(t, "reminder_interval_minutes", "int")+`::int,
			       coalesce(`+o(t, "send_resolved_notifications", "bool")+`, false),
			       `+o(t, "quiet_hours_start_local", "text")+`::text, `+o(t, "quiet_hours_end_local", "text")+`::text,
			       `+o(t, "severity_threshold", "text")+`::text, coalesce(`+o(t, "allow_warning_notifications", "bool")+`, true),
			       coalesce(`+o(t, "notify_site_managers", "bool")+`, false), coalesce(`+o(t, "notify_assigned_users", "bool")+`, false),
			       coalesce(`+o(t, "updated_at", "timestamptz")+`, '-infinity')
			  FROM notification_policies ORDER BY id`,
			func(r pgx.CollectableRow) (x sPolicy, err error) {
				var steps string
				err = r.Scan(&x.ID, &x.OrgID, &x.SiteID, &x.UnitID, &x.AlertType, &x.InitialChannels, &steps, &x.NotifyRoles,
					&x.QuietHours, &x.Reminders, &x.RequiresAck, &x.AckDeadline, &x.ReminderMinutes, &x.SendResolved,
					&x.QuietStart, &x.QuietEnd, &x.SeverityThreshold, &x.AllowWarnings, &x.NotifySiteManagers, &x.NotifyAssignedUsers,
					&x.UpdatedAt)
				x.Steps = []byte(steps)
				return
			})
		if err != nil {
			return err
		}
	}
	if cat.has("alerts") {
		t := "alerts"
		d.alerts, err = collect(ctx, tx, t, `
			SELECT id::text, unit_id::text, alert_type::text, severity::text, status::text, `+o(t, "message", "text")+`,
			       `+o(t, "trigger_temperature", "int")+`, `+o(t, "threshold_violated", "text")+`, triggered_at,
			       acknowledged_at, acknowledged_by::text, resolved_at, resolved_by::text, `+o(t, "escalated_at", "timestamptz")+`,
			       coalesce(`+o(t, "escalation_level", "int")+`, 0), `+o(t, "metadata", "text")+`,
			       coalesce(`+o(t, "updated_at", "timestamptz")+`, triggered_at)
			  FROM alerts ORDER BY id`,
			func(r pgx.CollectableRow) (x sAlert, err error) {
				err = r.Scan(&x.ID, &x.UnitID, &x.Type, &x.Severity, &x.Status, &x.Message, &x.TriggerTemp, &x.Violated, &x.TriggeredAt,
					&x.AckAt, &x.AckBy, &x.ResolvedAt, &x.ResolvedBy, &x.EscalatedAt, &x.EscalationLevel, &x.Metadata, &x.UpdatedAt)
				return
			})
	}
	return err
}

func loadRecords(ctx context.Context, tx pgx.Tx, cat catalog, d *seedData) error {
	var err error
	o := cat.opt
	if cat.has("corrective_actions") {
		t := "corrective_actions"
		d.actions, err = collect(ctx, tx, t, `
			SELECT id::text, alert_id::text, unit_id::text, profile_id::text, coalesce(description, ''), `+o(t, "action_taken", "text")+`,
			       `+o(t, "photo_url", "text")+`, action_at, coalesce(`+o(t, "created_at", "timestamptz")+`, action_at)
			  FROM corrective_actions ORDER BY id`,
			func(r pgx.CollectableRow) (x sAction, err error) {
				err = r.Scan(&x.ID, &x.AlertID, &x.UnitID, &x.ProfileID, &x.Description, &x.ActionTaken, &x.PhotoURL, &x.ActionAt, &x.CreatedAt)
				return
			})
		if err != nil {
			return err
		}
	}
	if cat.has("notification_deliveries") {
		t := "notification_deliveries"
		d.deliveries, err = collect(ctx, tx, t, `
			SELECT id::text, alert_id::text, `+o(t, "profile_id", "uuid")+`::text, channel::text, coalesce(`+o(t, "recipient", "text")+`, ''),
			       status::text, `+o(t, "external_id", "text")+`, error_message, coalesce(`+o(t, "scheduled_at", "timestamptz")+`, created_at),
			       sent_at, delivered_at, `+o(t, "failed_at", "timestamptz")+`, `+o(t, "retry_count", "text")+`::text, created_at
			  FROM notification_deliveries ORDER BY id`,
			func(r pgx.CollectableRow) (x sDelivery, err error) {
				err = r.Scan(&x.ID, &x.AlertID, &x.ProfileID, &x.Channel, &x.Recipient, &x.Status, &x.ExternalID, &x.Error,
					&x.ScheduledAt, &x.SentAt, &x.DeliveredAt, &x.FailedAt, &x.RetryCount, &x.CreatedAt)
				return
			})
		if err != nil {
			return err
		}
	}
	if cat.has("manual_temperature_logs") {
		t := "manual_temperature_logs"
		d.manual, err = collect(ctx, tx, t, `
			SELECT id::text, unit_id::text, `+cat.first(t, "uuid", "profile_id")+`::text, temperature::float8, notes, photo_url,
			       `+cat.first(t, "timestamptz", "recorded_at", "logged_at")+`, created_at
			  FROM manual_temperature_logs ORDER BY id`,
			func(r pgx.CollectableRow) (x sManual, err error) {
				err = r.Scan(&x.ID, &x.UnitID, &x.ProfileID, &x.Temperature, &x.Notes, &x.PhotoURL, &x.RecordedAt, &x.CreatedAt)
				return
			})
		if err != nil {
			return err
		}
	}
	if cat.has("event_logs") {
		t := "event_logs"
		d.events, err = collect(ctx, tx, t, `
			SELECT id::text, organization_id::text, actor_id::text, coalesce(actor_type, 'user'), event_type,
			       `+cat.first(t, "text", "category", "event_category")+`, `+o(t, "severity", "text")+`, `+cat.first(t, "text", "title", "description")+`,
			       `+o(t, "site_id", "uuid")+`::text, `+o(t, "area_id", "uuid")+`::text, `+o(t, "unit_id", "uuid")+`::text,
			       `+cat.first(t, "text", "event_data", "payload")+`::text, ip_address, user_agent,
			       `+o(t, "acting_user_id", "uuid")+`::text, `+o(t, "impersonation_session_id", "uuid")+`::text,
			       coalesce(`+o(t, "was_impersonated", "bool")+`, false), `+cat.first(t, "timestamptz", "recorded_at", "occurred_at")+`
			  FROM event_logs ORDER BY id`,
			func(r pgx.CollectableRow) (x sEvent, err error) {
				err = r.Scan(&x.ID, &x.OrgID, &x.ActorID, &x.ActorType, &x.EventType, &x.Category, &x.Severity, &x.Title,
					&x.SiteID, &x.AreaID, &x.UnitID, &x.Data, &x.IP, &x.UA, &x.ActingUserID, &x.ImpersonationID, &x.Impersonated, &x.At)
				return
			})
		if err != nil {
			return err
		}
	}
	if cat.has("alert_rules_history") {
		t := "alert_rules_history"
		d.history, err = collect(ctx, tx, t, `
			SELECT id::text, alert_rule_id::text, changed_by::text, change_type, old_values, new_values, changed_at
			  FROM alert_rules_history ORDER BY id`,
			func(r pgx.CollectableRow) (x sHistory, err error) {
				err = r.Scan(&x.ID, &x.RuleID, &x.ChangedBy, &x.ChangeType, &x.OldValues, &x.NewValues, &x.At)
				return
			})
	}
	return err
}
