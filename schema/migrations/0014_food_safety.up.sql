-- Food-safety intelligence: the rule kinds beyond threshold-plus-delay, and
-- what they learn and record.
--
--   trend_warning      threshold: lead time in minutes (warn when the trend
--                      crosses the limit within it); confirm_seconds: how
--                      long the trend must be sustained
--   defrost            threshold: °C a recognised defrost may peak above the
--                      learned peak; confirm_seconds: how much longer than
--                      the learned duration it may run
--   door_open          threshold: minutes a door may stay open
--   time_out_of_temp   threshold: minutes out of range per local day
--   cooling            threshold: minutes before a stage's deadline at
--                      which a projected miss alerts
--   manual_log_missed  threshold: grace minutes past the site's cadence
--   calibration_due    threshold: days of warning before a calibration is due
--   sensor_implausible threshold: hours a probe may repeat one value (NULL:
--                      the built-in 6); impossible jumps always count
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check
    CHECK (kind IN ('temp_high', 'temp_low', 'sensor_offline', 'battery_low', 'sensor_fault',
                    'trend_warning', 'defrost', 'door_open', 'time_out_of_temp', 'cooling',
                    'manual_log_missed', 'calibration_due', 'sensor_implausible'));
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_threshold_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_threshold_check
    CHECK (threshold IS NOT NULL OR kind IN ('temp_high', 'temp_low', 'sensor_fault', 'sensor_implausible'));

-- A food-safety alert's one-sentence account ("10.8 °C expected to reach
-- the 5 °C limit in 24 min"), sent in its notifications and escalations.
ALTER TABLE alerts ADD COLUMN summary text CHECK (length(summary) <= 500);

-- How often staff must log a manual temperature check at a site (NULL: no
-- manual-log duty).
ALTER TABLE sites ADD COLUMN manual_log_cadence_minutes integer
    CHECK (manual_log_cadence_minutes BETWEEN 15 AND 10080);

-- Door states reported by contact sensors (a door/open field in an uplink).
CREATE TABLE door_events (
    org_id     uuid NOT NULL,
    sensor_id  bigint NOT NULL,
    at         timestamptz NOT NULL,
    open       boolean NOT NULL,
    PRIMARY KEY (sensor_id, at),
    FOREIGN KEY (org_id, sensor_id) REFERENCES sensors (org_id, id) ON DELETE CASCADE
);

-- What the detectors recognised in a unit's data: defrost cycles, door
-- openings (from a contact sensor or the temperature's signature). Shown on
-- the chart, the alert page and the HACCP report.
CREATE TABLE unit_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL,
    unit_id     uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('defrost', 'door_open')),
    source      text NOT NULL CHECK (source IN ('detected', 'sensor')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    peak_c      double precision,
    -- a defrost that matched the learned pattern (true) or ran long or too
    -- hot (false); a door opening that was explained by a door sensor
    within_bounds boolean NOT NULL DEFAULT true,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at IS NULL OR ended_at >= started_at),
    UNIQUE (unit_id, kind, started_at),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE
);
CREATE INDEX unit_events_unit ON unit_events (org_id, unit_id, started_at);

-- A freezer's learned defrost pattern; the evaluator lets a rise that
-- matches it run its course without a temp_high alert. Present only while
-- the unit's defrost rule is enabled and enough history was seen.
CREATE TABLE defrost_patterns (
    unit_id           uuid PRIMARY KEY,
    org_id            uuid NOT NULL,
    period_seconds    integer NOT NULL CHECK (period_seconds > 0),
    -- the start of one observed defrost; others are at anchor + k × period
    anchor            timestamptz NOT NULL,
    phase_tolerance_seconds integer NOT NULL CHECK (phase_tolerance_seconds >= 0),
    duration_seconds  integer NOT NULL CHECK (duration_seconds > 0),
    peak_c            double precision NOT NULL,
    -- the bounds a recognised defrost must stay within (peak + margin,
    -- duration + allowance)
    max_peak_c        double precision NOT NULL,
    max_duration_seconds integer NOT NULL CHECK (max_duration_seconds > 0),
    episodes          integer NOT NULL CHECK (episodes > 0),
    learned_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE
);

-- Cooling logs (Food Code 3-501.14): cooked food cooled from 57 °C to 21 °C
-- within 2 h and to 5 °C within 6 h in total.
CREATE TABLE cooling_logs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL,
    unit_id          uuid NOT NULL,
    item             text CHECK (length(item) BETWEEN 1 AND 200),
    source           text NOT NULL CHECK (source IN ('detected', 'manual')),
    started_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    started_at       timestamptz NOT NULL,
    start_c          double precision,
    stage1_target_c  double precision NOT NULL DEFAULT 21,
    stage1_deadline  timestamptz NOT NULL,
    stage1_at        timestamptz,
    stage2_target_c  double precision NOT NULL DEFAULT 5,
    stage2_deadline  timestamptz NOT NULL,
    stage2_at        timestamptz,
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'passed', 'failed', 'cancelled')),
    failed_stage     smallint CHECK (failed_stage IN (1, 2)),
    ended_at         timestamptz,
    last_c           double precision,
    notes            text CHECK (length(notes) <= 4000),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'failed') = (failed_stage IS NOT NULL)),
    CHECK ((status = 'running') = (ended_at IS NULL)),
    UNIQUE (unit_id, started_at),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE
);
CREATE INDEX cooling_logs_unit ON cooling_logs (org_id, unit_id, started_at);
CREATE UNIQUE INDEX cooling_logs_one_running ON cooling_logs (unit_id) WHERE status = 'running';

-- Calibration records of sensors (the seed's calibration_records).
CREATE TABLE sensor_calibrations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL,
    sensor_id      bigint NOT NULL,
    calibrated_at  timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    reference_c    double precision,
    measured_c     double precision,
    offset_c       double precision,
    method         text CHECK (length(method) BETWEEN 1 AND 200),
    certificate    text CHECK (length(certificate) BETWEEN 1 AND 500),
    performed_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    notes          text CHECK (length(notes) <= 4000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (due_at > calibrated_at),
    FOREIGN KEY (org_id, sensor_id) REFERENCES sensors (org_id, id) ON DELETE CASCADE
);
CREATE INDEX sensor_calibrations_sensor ON sensor_calibrations (org_id, sensor_id, calibrated_at DESC);

-- The food-safety detectors' per-unit state: how far they have read the
-- unit's readings, and what they carry between runs (trend window, day's
-- time out of temperature, open episodes, defrost history).
CREATE TABLE insight_state (
    unit_id       uuid PRIMARY KEY,
    org_id        uuid NOT NULL,
    processed_to  timestamptz,
    -- the newest door state read
    doors_to      timestamptz,
    -- the detectors have something in progress that the passing of time
    -- alone can change (a raised condition, an open door, a running
    -- cooling log): the unit is visited even without new data
    busy          boolean NOT NULL DEFAULT false,
    state         jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE
);
