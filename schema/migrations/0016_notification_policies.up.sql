-- Notification policies (issue 20): who hears of an alert, on which
-- channels, when, and how often, per organisation, site or unit and per
-- alert kind. They take precedence over escalation_policies: an alert whose
-- scope has no notification policy escalates exactly as before (the site's
-- escalation policy, else the organisation default, else the built-in
-- steps).
--
-- Scope and precedence. A policy names at most one of site_id and unit_id
-- (none: the organisation), and alert_kind (NULL: any kind). For an alert the
-- most specific policy wins, in this order:
--   unit+kind > unit > site+kind > site > org+kind > org
-- (the unit's own site counts for a site policy). At most one policy exists
-- per scope (notification_policies_scope).
--
-- Semantics of the fields:
--   steps                  the escalation steps, the same shape and rules as
--                          escalation_policies.steps (alerting.ParseSteps).
--   initial_channels       the channels of the first notification (step 0);
--                          an empty array keeps step 0's own channels. A JSON
--                          array of "sms"/"email" (jsonb rather than text[]
--                          so the generic resource engine carries it).
--   ack_deadline_minutes   how long the first recipients have to acknowledge:
--                          no later step fires before it. A step whose
--                          after_minutes is earlier fires at the deadline
--                          instead; later steps keep their own times. 0 = the
--                          steps' own times.
--   reminder_minutes       while the alert stays unacknowledged, the
--                          recipients of its latest step are reminded every
--                          reminder_minutes; acknowledging or resolving stops
--                          them. 0 = no reminders.
--   notify_on_resolve      when the alert resolves (by a person or by itself)
--                          everyone who was notified of it gets a "resolved"
--                          message on the channel they were notified on,
--                          at once (quiet hours do not hold good news back).
--   quiet_start, quiet_end 'HH:MM' local time in the SITE's time zone
--                          (sites.timezone, UTC when unset); the window may
--                          wrap midnight (22:00-07:00); both NULL = none.
--                          A step due inside the window is DEFERRED to the
--                          window's end (and sent then if the alert is still
--                          unacknowledged); a reminder due inside it is
--                          skipped (the next one comes after the window). The
--                          recipients' decision is recorded as quiet_hours.
--   quiet_overridden_by_critical
--                          critical alerts ignore the quiet hours unless this
--                          is false.
--   min_severity           alerts below it notify nobody (recorded as
--                          below_severity).
CREATE TABLE notification_policies (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    site_id                      uuid,
    unit_id                      uuid,
    alert_kind                   text,
    name                         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    initial_channels             jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(initial_channels) = 'array'),
    ack_deadline_minutes         integer NOT NULL DEFAULT 0 CHECK (ack_deadline_minutes BETWEEN 0 AND 10080),
    steps                        jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array'),
    reminder_minutes             integer NOT NULL DEFAULT 0 CHECK (reminder_minutes = 0 OR reminder_minutes BETWEEN 5 AND 1440),
    notify_on_resolve            boolean NOT NULL DEFAULT false,
    quiet_start                  text CONSTRAINT notification_policies_quiet_start_check CHECK (quiet_start ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    quiet_end                    text CONSTRAINT notification_policies_quiet_end_check CHECK (quiet_end ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    quiet_overridden_by_critical boolean NOT NULL DEFAULT true,
    min_severity                 text NOT NULL DEFAULT 'info' CHECK (min_severity IN ('info', 'warning', 'critical')),
    version                      integer NOT NULL DEFAULT 1,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE,
    CONSTRAINT notification_policies_scope_check CHECK (site_id IS NULL OR unit_id IS NULL),
    CONSTRAINT notification_policies_quiet_check CHECK ((quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL OR quiet_start <> quiet_end))
);
-- One policy per scope: NULLS NOT DISTINCT makes "organisation, any kind"
-- (all NULL) a scope like the others.
CREATE UNIQUE INDEX notification_policies_scope ON notification_policies (org_id, site_id, unit_id, alert_kind) NULLS NOT DISTINCT;

-- Which notification policy an alert follows and which scope matched
-- ('unit+kind', 'unit', 'site+kind', 'site', 'org+kind', 'org'); NULL: the
-- escalation policy (alerts.policy_id) or the built-in steps.
-- resolved_notified_at: when the "resolved" messages were enqueued.
ALTER TABLE alerts
    ADD COLUMN notification_policy_id uuid,
    ADD COLUMN notification_scope text,
    ADD COLUMN resolved_notified_at timestamptz,
    ADD CONSTRAINT alerts_notification_policy_fk FOREIGN KEY (org_id, notification_policy_id)
        REFERENCES notification_policies (org_id, id) ON DELETE SET NULL (notification_policy_id);

-- Why each person was or was not told: one row per contact and channel that
-- a step (cycle, step; purpose notify | deferred | reminder | resolved)
-- considered, with the decision and its reason in words. contact_id NULL
-- with decision below_severity: the whole step reached nobody.
CREATE TABLE alert_recipient_decisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      uuid NOT NULL,
    alert_id    uuid NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    cycle       integer NOT NULL DEFAULT 0,
    step        integer NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('notify', 'deferred', 'reminder', 'resolved')),
    contact_id  uuid,
    name        text NOT NULL DEFAULT '',
    channel     text NOT NULL DEFAULT '',
    address     text NOT NULL DEFAULT '',
    decision    text NOT NULL CHECK (decision IN ('notified', 'quiet_hours', 'opted_out', 'no_address', 'off_shift', 'below_severity')),
    reason      text NOT NULL,
    FOREIGN KEY (org_id, alert_id) REFERENCES alerts (org_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_recipient_decisions_alert ON alert_recipient_decisions (alert_id, id);
