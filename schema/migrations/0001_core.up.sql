-- Core data model shared by both storage modes. Every tenant-owned row carries
-- org_id; child tables reference their parent through (org_id, id) so a row can
-- never point into another organisation.

CREATE TYPE member_role AS ENUM ('viewer', 'staff', 'manager', 'admin', 'owner');

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer      text NOT NULL,
    subject     text NOT NULL,
    email       text,
    name        text,
    phone       text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject)
);

CREATE TABLE memberships (
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        member_role NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sites (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    text NOT NULL DEFAULT 'UTC',
    address     text,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);

CREATE TABLE areas (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL,
    site_id     uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id) ON DELETE CASCADE
);
CREATE INDEX areas_site ON areas (org_id, site_id);

CREATE TABLE units (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL,
    site_id     uuid NOT NULL,
    area_id     uuid,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('fridge', 'freezer', 'hot_holding', 'walk_in', 'blast_chiller', 'display', 'ambient', 'other')),
    safe_min_c  double precision NOT NULL,
    safe_max_c  double precision NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    CHECK (safe_min_c < safe_max_c),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, area_id) REFERENCES areas (org_id, id) ON DELETE SET NULL (area_id)
);
CREATE INDEX units_site ON units (org_id, site_id);

-- sensors.id is the compact key that readings carry; public_id is what the API shows.
CREATE TABLE sensors (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    external_id   text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
    unit_id       uuid,
    name          text,
    model         text,
    last_seen_at  timestamptz,
    battery       real,
    retired_at    timestamptz,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, external_id),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE SET NULL (unit_id)
);
CREATE INDEX sensors_unit ON sensors (org_id, unit_id);

-- API keys are shown once; only a SHA-256 of the key is kept, found by prefix.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix        text NOT NULL UNIQUE,
    hash          bytea NOT NULL,
    scopes        text[] NOT NULL DEFAULT '{ingest}',
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

-- Rules with unit_id set apply to that unit; rules with only unit_kind set are
-- the organisation's defaults for that kind of unit.
CREATE TABLE alert_rules (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    unit_id          uuid,
    unit_kind        text,
    kind             text NOT NULL CHECK (kind IN ('temp_high', 'temp_low', 'sensor_offline', 'battery_low')),
    threshold        double precision NOT NULL,
    confirm_seconds  integer NOT NULL DEFAULT 600 CHECK (confirm_seconds >= 0),
    hysteresis       double precision NOT NULL DEFAULT 0.5 CHECK (hysteresis >= 0),
    severity         text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    auto_resolve     boolean NOT NULL DEFAULT false,
    enabled          boolean NOT NULL DEFAULT true,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    CHECK (unit_id IS NOT NULL OR unit_kind IS NOT NULL),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_rules_unit ON alert_rules (org_id, unit_id);

CREATE TABLE escalation_policies (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id     uuid,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- ordered steps: [{"after_minutes":0,"channels":["sms"],"roles":["staff"],"contact_ids":[...]}, ...]
    steps       jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(steps) = 'array'),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id) ON DELETE CASCADE
);
-- one organisation default and at most one policy per site
CREATE UNIQUE INDEX escalation_policies_org_default ON escalation_policies (org_id) WHERE site_id IS NULL;
CREATE UNIQUE INDEX escalation_policies_site ON escalation_policies (org_id, site_id) WHERE site_id IS NOT NULL;

CREATE TABLE contacts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id     uuid,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phone       text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    email       text CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    role        member_role NOT NULL DEFAULT 'staff',
    on_shift    boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    CHECK (phone IS NOT NULL OR email IS NOT NULL),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id) ON DELETE CASCADE
);
CREATE INDEX contacts_site ON contacts (org_id, site_id);

CREATE TABLE alerts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL,
    unit_id          uuid NOT NULL,
    rule_id          uuid NOT NULL,
    sensor_id        bigint REFERENCES sensors (id) ON DELETE SET NULL,
    kind             text NOT NULL,
    severity         text NOT NULL,
    status           text NOT NULL DEFAULT 'triggered' CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    started_at       timestamptz NOT NULL,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    peak_c           double precision,
    escalation_step  integer NOT NULL DEFAULT 0,
    acknowledged_at  timestamptz,
    acknowledged_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    resolved_at      timestamptz,
    resolved_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    auto_resolved    boolean NOT NULL DEFAULT false,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, rule_id) REFERENCES alert_rules (org_id, id) ON DELETE CASCADE,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- The database, not the application, guarantees one open alert per unit and rule.
CREATE UNIQUE INDEX alerts_one_open ON alerts (unit_id, rule_id) WHERE status <> 'resolved';
CREATE INDEX alerts_org_opened ON alerts (org_id, opened_at DESC);
CREATE INDEX alerts_org_unit_opened ON alerts (org_id, unit_id, opened_at DESC);
CREATE INDEX alerts_open ON alerts (org_id) WHERE status <> 'resolved';

CREATE TABLE alert_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      uuid NOT NULL,
    alert_id    uuid NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('triggered', 'notified', 'escalated', 'acknowledged', 'comment', 'resolved', 'auto_resolved')),
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    FOREIGN KEY (org_id, alert_id) REFERENCES alerts (org_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

CREATE TABLE corrective_actions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL,
    unit_id      uuid NOT NULL,
    alert_id     uuid,
    action       text NOT NULL CHECK (length(action) BETWEEN 1 AND 4000),
    disposition  text NOT NULL CHECK (disposition IN ('kept', 'moved', 'reheated', 'discarded', 'other')),
    taken_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    taken_at     timestamptz NOT NULL DEFAULT now(),
    notes        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, alert_id) REFERENCES alerts (org_id, id) ON DELETE SET NULL (alert_id)
);
CREATE INDEX corrective_actions_alert ON corrective_actions (alert_id);
CREATE INDEX corrective_actions_unit ON corrective_actions (org_id, unit_id, taken_at);

-- Delivery log of every SMS and email attempt; dedupe_key makes a resend a no-op.
CREATE TABLE notifications (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    alert_id      uuid,
    contact_id    uuid,
    channel       text NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient     text NOT NULL,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed')),
    provider_id   text,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    dedupe_key    text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    delivered_at  timestamptz,
    FOREIGN KEY (org_id, alert_id) REFERENCES alerts (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE SET NULL (contact_id)
);
CREATE INDEX notifications_alert ON notifications (alert_id, created_at);
CREATE INDEX notifications_provider ON notifications (provider_id) WHERE provider_id IS NOT NULL;

-- Append-only audit trail: each row's hash covers the previous row's hash of the
-- same organisation, so editing or removing a row breaks the chain.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       uuid REFERENCES organizations (id),
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    action       text NOT NULL,
    target_type  text NOT NULL DEFAULT '',
    target_id    text NOT NULL DEFAULT '',
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- serialise appends per organisation so the chain has no forks
    PERFORM pg_advisory_xact_lock(hashtextextended('freshtrack.audit:' || coalesce(NEW.org_id::text, ''), 0));
    SELECT hash INTO NEW.prev_hash FROM audit_log
     WHERE org_id IS NOT DISTINCT FROM NEW.org_id ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, '\x'::bytea);
    NEW.hash := sha256(NEW.prev_hash || convert_to(concat_ws(E'\x1f',
        NEW.id::text, coalesce(NEW.org_id::text, ''), to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        NEW.actor, NEW.action, NEW.target_type, NEW.target_id, NEW.details::text), 'UTF8'));
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable();

CREATE TABLE subscriptions (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                  uuid NOT NULL UNIQUE REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_customer_id      text UNIQUE,
    stripe_subscription_id  text UNIQUE,
    plan                    text NOT NULL DEFAULT 'free',
    status                  text NOT NULL DEFAULT 'active',
    sensor_limit            integer,
    current_period_end      timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE usage_reports (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    metric         text NOT NULL,
    period_start   timestamptz NOT NULL,
    period_end     timestamptz NOT NULL,
    quantity       bigint NOT NULL CHECK (quantity >= 0),
    reported_at    timestamptz,
    stripe_record  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, metric, period_start),
    CHECK (period_start < period_end)
);

-- The storage mode chosen at migrate time; the readings migration of that mode
-- writes the single row.
CREATE TABLE storage_mode (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    mode         text NOT NULL CHECK (mode IN ('postgres', 'timescale')),
    migrated_at  timestamptz NOT NULL DEFAULT now()
);
