-- A FreshTrack Pro (fresh-staged) database as its migrations and Drizzle
-- schema build it (backend/drizzle/*.sql, backend/src/db/schema/*.ts; see
-- SEED-SYSTEM.md §3.1), with the raw-SQL tables the seed expects to survive
-- from Supabase (notification_policies). Only what the importer reads, and
-- the tables it counts as not migrated, are here; column types, defaults,
-- enums, partitions and indexes are the seed's.

CREATE TYPE alert_severity AS ENUM ('info', 'warning', 'critical');
CREATE TYPE alert_status AS ENUM ('active', 'acknowledged', 'resolved', 'escalated');
CREATE TYPE alert_type AS ENUM ('alarm_active', 'monitoring_interrupted', 'missed_manual_entry', 'low_battery', 'sensor_fault', 'door_open', 'calibration_due');
CREATE TYPE app_role AS ENUM ('owner', 'admin', 'manager', 'staff', 'viewer');
CREATE TYPE compliance_mode AS ENUM ('standard', 'haccp');
CREATE TYPE device_status AS ENUM ('active', 'inactive', 'pairing', 'error');
CREATE TYPE notification_channel AS ENUM ('push', 'email', 'sms');
CREATE TYPE notification_status AS ENUM ('pending', 'sent', 'delivered', 'failed');
CREATE TYPE subscription_plan AS ENUM ('starter', 'pro', 'haccp', 'enterprise');
CREATE TYPE subscription_status AS ENUM ('trial', 'active', 'past_due', 'canceled', 'paused');
CREATE TYPE unit_status AS ENUM ('ok', 'excursion', 'alarm_active', 'monitoring_interrupted', 'manual_required', 'restoring', 'offline');
CREATE TYPE unit_type AS ENUM ('fridge', 'freezer', 'display_case', 'walk_in_cooler', 'walk_in_freezer', 'blast_chiller');
CREATE TYPE temp_unit AS ENUM ('F', 'C');

CREATE TABLE organizations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    name varchar(256) NOT NULL,
    slug varchar(256) NOT NULL UNIQUE,
    timezone varchar(100) DEFAULT 'UTC' NOT NULL,
    compliance_mode compliance_mode DEFAULT 'standard' NOT NULL,
    sensor_limit integer DEFAULT 10 NOT NULL,
    logo_url text,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

CREATE TABLE profiles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL UNIQUE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email varchar(256) NOT NULL,
    full_name varchar(256),
    avatar_url text,
    phone varchar(50),
    phone_verified boolean DEFAULT false NOT NULL,
    push_enabled boolean DEFAULT true NOT NULL,
    email_enabled boolean DEFAULT true NOT NULL,
    sms_enabled boolean DEFAULT false NOT NULL,
    digest_daily boolean DEFAULT false NOT NULL,
    digest_weekly boolean DEFAULT false NOT NULL,
    timezone varchar(64) DEFAULT 'UTC' NOT NULL,
    digest_daily_time varchar(5) NOT NULL DEFAULT '09:00',
    digest_site_ids text,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE user_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role app_role DEFAULT 'viewer' NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    UNIQUE (user_id, organization_id)
);

CREATE TABLE escalation_contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    profile_id uuid REFERENCES profiles (id) ON DELETE CASCADE,
    name varchar(256) NOT NULL,
    phone varchar(50) NOT NULL,
    email varchar(256),
    priority integer DEFAULT 0 NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    plan subscription_plan DEFAULT 'starter' NOT NULL,
    status subscription_status DEFAULT 'trial' NOT NULL,
    stripe_customer_id varchar(256),
    stripe_subscription_id varchar(256),
    current_period_start timestamp(3) with time zone,
    current_period_end timestamp(3) with time zone,
    trial_ends_at timestamp(3) with time zone,
    canceled_at timestamp(3) with time zone,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE sites (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name varchar(256) NOT NULL,
    address text,
    city varchar(128),
    state varchar(64),
    postal_code varchar(20),
    country varchar(64),
    timezone varchar(100) DEFAULT 'UTC' NOT NULL,
    compliance_mode compliance_mode,
    manual_log_cadence_seconds integer,
    corrective_action_required boolean DEFAULT false NOT NULL,
    latitude varchar(32),
    longitude varchar(32),
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp(3) with time zone
);

-- The seed has areas.site_id REFERENCES sites; it is left out here so that
-- the tests can hold an orphan area, as a seed restored with the seed's own
-- import --disable-fk (session_replication_role = replica) can.
CREATE TABLE areas (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    site_id uuid NOT NULL,
    name varchar(256) NOT NULL,
    description text,
    sort_order integer DEFAULT 0 NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp(3) with time zone
);

CREATE TABLE units (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    area_id uuid NOT NULL REFERENCES areas (id) ON DELETE CASCADE,
    name varchar(256) NOT NULL,
    unit_type unit_type NOT NULL,
    status unit_status DEFAULT 'ok' NOT NULL,
    temp_min integer NOT NULL,
    temp_max integer NOT NULL,
    temp_unit temp_unit DEFAULT 'F' NOT NULL,
    manual_monitoring_required boolean DEFAULT false NOT NULL,
    manual_monitoring_interval integer,
    last_reading_at timestamp(3) with time zone,
    last_temperature integer,
    last_manual_log_at timestamp(3) with time zone,
    is_active boolean DEFAULT true NOT NULL,
    sort_order integer DEFAULT 0 NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp(3) with time zone
);

CREATE TABLE hubs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    site_id uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name varchar(256) NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE devices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    unit_id uuid REFERENCES units (id) ON DELETE SET NULL,
    hub_id uuid REFERENCES hubs (id) ON DELETE SET NULL,
    device_eui varchar(32) NOT NULL,
    name varchar(256),
    device_type varchar(64),
    status device_status DEFAULT 'inactive' NOT NULL,
    battery integer,
    signal_strength integer,
    firmware_version varchar(32),
    last_seen_at timestamp(3) with time zone,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);
CREATE UNIQUE INDEX devices_eui_idx ON devices (device_eui);

CREATE TABLE lora_sensors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    app_eui varchar(32) NOT NULL,
    dev_eui varchar(32) NOT NULL,
    app_key varchar(64),
    join_eui varchar(32),
    network_server_id varchar(128),
    activation_type varchar(16) DEFAULT 'OTAA',
    last_join_at timestamp(3) with time zone,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);
CREATE UNIQUE INDEX lora_sensors_device_idx ON lora_sensors (device_id);
CREATE UNIQUE INDEX lora_sensors_dev_eui_idx ON lora_sensors (dev_eui);

-- backend/drizzle/0006_partition_sensor_readings.sql: monthly partitions
-- 2024-01 .. 2026-06 and a default partition for everything else.
CREATE TABLE sensor_readings (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    device_id uuid REFERENCES devices (id) ON DELETE SET NULL,
    temperature numeric(7, 2) NOT NULL,
    humidity numeric(5, 2),
    battery integer,
    signal_strength integer,
    raw_payload text,
    recorded_at timestamptz(3) NOT NULL,
    received_at timestamptz(3) NOT NULL DEFAULT now(),
    source varchar(32),
    PRIMARY KEY (id, recorded_at)
) PARTITION BY RANGE (recorded_at);
DO $$
DECLARE m date := date '2024-01-01';
BEGIN
    WHILE m < date '2026-07-01' LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF sensor_readings FOR VALUES FROM (%L) TO (%L)',
                       'sensor_readings_y' || to_char(m, 'YYYY') || 'm' || to_char(m, 'MM'),
                       m::timestamptz, (m + interval '1 month')::timestamptz);
        m := m + interval '1 month';
    END LOOP;
END $$;
CREATE TABLE sensor_readings_default PARTITION OF sensor_readings DEFAULT;
CREATE INDEX sensor_readings_unit_time_idx ON sensor_readings (unit_id, recorded_at);
CREATE INDEX sensor_readings_device_idx ON sensor_readings (device_id);
CREATE INDEX sensor_readings_recorded_idx ON sensor_readings (recorded_at);

CREATE TABLE manual_temperature_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    profile_id uuid REFERENCES profiles (id) ON DELETE SET NULL,
    temperature numeric(7, 2) NOT NULL,
    humidity numeric(5, 2),
    notes text,
    photo_url text,
    recorded_at timestamp(3) with time zone NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE door_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    state varchar(16) NOT NULL,
    "timestamp" timestamp(3) with time zone NOT NULL
);

CREATE TABLE alert_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id uuid REFERENCES sites (id) ON DELETE CASCADE,
    unit_id uuid REFERENCES units (id) ON DELETE CASCADE,
    name varchar(256) NOT NULL,
    temp_min integer,
    temp_max integer,
    delay_minutes integer DEFAULT 5 NOT NULL,
    manual_interval_minutes integer,
    manual_grace_minutes integer,
    expected_reading_interval_seconds integer,
    offline_trigger_multiplier numeric(4, 2),
    offline_trigger_additional_minutes integer,
    offline_warning_missed_checkins integer,
    offline_critical_missed_checkins integer,
    manual_log_missed_checkins_threshold integer,
    door_open_warning_minutes integer,
    door_open_critical_minutes integer,
    door_open_max_mask_minutes_per_day integer,
    excursion_confirm_minutes_door_closed integer,
    excursion_confirm_minutes_door_open integer,
    max_excursion_minutes integer,
    alert_type alert_type DEFAULT 'alarm_active' NOT NULL,
    severity alert_severity DEFAULT 'warning' NOT NULL,
    is_enabled boolean DEFAULT true NOT NULL,
    schedule text,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE alert_rules_history (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    alert_rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    changed_by uuid REFERENCES profiles (id) ON DELETE SET NULL,
    change_type varchar(32) NOT NULL,
    old_values text,
    new_values text,
    changed_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE alerts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    alert_rule_id uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    alert_type alert_type NOT NULL,
    severity alert_severity NOT NULL,
    status alert_status DEFAULT 'active' NOT NULL,
    message text,
    trigger_temperature integer,
    threshold_violated varchar(16),
    triggered_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    acknowledged_at timestamp(3) with time zone,
    acknowledged_by uuid REFERENCES profiles (id) ON DELETE SET NULL,
    resolved_at timestamp(3) with time zone,
    resolved_by uuid REFERENCES profiles (id) ON DELETE SET NULL,
    escalated_at timestamp(3) with time zone,
    escalation_level integer DEFAULT 0 NOT NULL,
    metadata text,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE corrective_actions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    profile_id uuid REFERENCES profiles (id) ON DELETE SET NULL,
    description text NOT NULL,
    action_taken text,
    photo_url text,
    resolved_alert boolean DEFAULT false NOT NULL,
    action_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE notification_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    profile_id uuid REFERENCES profiles (id) ON DELETE SET NULL,
    channel notification_channel NOT NULL,
    recipient varchar(256) NOT NULL,
    status notification_status DEFAULT 'pending' NOT NULL,
    external_id varchar(256),
    error_message text,
    scheduled_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    sent_at timestamp(3) with time zone,
    delivered_at timestamp(3) with time zone,
    failed_at timestamp(3) with time zone,
    retry_count integer DEFAULT 0,
    last_retry_at timestamp(3) with time zone,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE event_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    actor_id uuid REFERENCES profiles (id) ON DELETE SET NULL,
    actor_type varchar(32) NOT NULL,
    event_type varchar(64) NOT NULL,
    category varchar(64),
    severity varchar(32),
    title text,
    site_id uuid,
    area_id uuid,
    unit_id uuid,
    event_data jsonb,
    ip_address varchar(45),
    user_agent text,
    acting_user_id uuid,
    impersonation_session_id uuid,
    was_impersonated boolean DEFAULT false,
    event_hash varchar(64),
    previous_hash varchar(64),
    recorded_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ttn_connections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    application_id varchar(256),
    ttn_application_id varchar(256),
    webhook_secret varchar(256) NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    is_enabled boolean NOT NULL DEFAULT false,
    ttn_region varchar(256),
    ttn_api_key_encrypted varchar(512),
    ttn_webhook_secret_encrypted varchar(512),
    last_used_at timestamp(3) with time zone,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL
);
CREATE UNIQUE INDEX ttn_connections_webhook_secret_idx ON ttn_connections (webhook_secret);

CREATE TABLE sms_configs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    telnyx_api_key varchar(512) NOT NULL,
    telnyx_phone_number varchar(32) NOT NULL
);

CREATE TABLE stripe_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    event_id varchar(256) NOT NULL,
    event_type varchar(256) NOT NULL,
    processed_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE reading_metrics (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    period_start timestamp(3) with time zone NOT NULL,
    granularity varchar(16) NOT NULL,
    reading_count integer DEFAULT 0 NOT NULL
);

CREATE TABLE pairing_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    device_id uuid REFERENCES devices (id) ON DELETE CASCADE,
    started_at timestamp(3) with time zone DEFAULT now() NOT NULL
);

CREATE TABLE calibration_records (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    calibrated_at timestamp(3) with time zone NOT NULL
);

-- raw SQL in the seed (services/notification-policy.service.ts)
CREATE TABLE notification_policies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    site_id uuid REFERENCES sites (id) ON DELETE CASCADE,
    unit_id uuid REFERENCES units (id) ON DELETE CASCADE,
    alert_type text NOT NULL,
    initial_channels text[] NOT NULL DEFAULT '{IN_APP_CENTER}',
    requires_ack boolean NOT NULL DEFAULT false,
    ack_deadline_minutes integer,
    escalation_steps jsonb NOT NULL DEFAULT '[]',
    send_resolved_notifications boolean NOT NULL DEFAULT false,
    reminders_enabled boolean NOT NULL DEFAULT false,
    reminder_interval_minutes integer,
    quiet_hours_enabled boolean NOT NULL DEFAULT false,
    quiet_hours_start_local text,
    quiet_hours_end_local text,
    severity_threshold text NOT NULL DEFAULT 'WARNING',
    allow_warning_notifications boolean NOT NULL DEFAULT true,
    notify_roles text[] NOT NULL DEFAULT '{owner,admin}',
    notify_site_managers boolean NOT NULL DEFAULT true,
    notify_assigned_users boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
