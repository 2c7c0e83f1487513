-- Temperature rules may follow the unit's safe range instead of carrying
-- their own threshold (threshold NULL), which is what the built-in defaults
-- now do: a unit's alerts follow the range its HACCP record and dashboard use.
ALTER TABLE alert_rules ALTER COLUMN threshold DROP NOT NULL;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check
    CHECK (kind IN ('temp_high', 'temp_low', 'sensor_offline', 'battery_low', 'sensor_fault'));
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_threshold_check
    CHECK (threshold IS NOT NULL OR kind IN ('temp_high', 'temp_low', 'sensor_fault'));

-- Organisation defaults stored by earlier versions with the old built-in
-- thresholds become rules that follow each unit's safe range. Rows someone
-- edited (another threshold) keep theirs.
UPDATE alert_rules SET threshold = NULL, updated_at = now(), version = version + 1
 WHERE unit_id IS NULL AND confirm_seconds = 900 AND hysteresis = 0.5 AND severity = 'critical'
   AND ((kind = 'temp_high' AND unit_kind IN ('fridge', 'walk_in', 'display') AND threshold = 5)
     OR (kind = 'temp_high' AND unit_kind = 'freezer' AND threshold = -15)
     OR (kind = 'temp_low' AND unit_kind = 'hot_holding' AND threshold = 57));

-- The threshold an alert opened at (a rule following the safe range has
-- none of its own), and its escalation cycle: an acknowledged alert whose
-- condition comes back after it had cleared starts a new cycle, notifying
-- from step 0 again.
ALTER TABLE alerts ADD COLUMN threshold_c double precision;
ALTER TABLE alerts ADD COLUMN cycle integer NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN cycle_started_at timestamptz;

ALTER TABLE alert_events DROP CONSTRAINT alert_events_kind_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check
    CHECK (kind IN ('triggered', 'notified', 'escalated', 'acknowledged', 'comment', 'resolved', 'auto_resolved',
                    'retriggered', 'withdrawn'));

ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'not_configured', 'cancelled'));

-- How long the current phase's newest reading stands for (see
-- safety.Stand): an excursion lasts as long as readings say, never to the
-- wall clock.
ALTER TABLE alert_state ADD COLUMN stands_until timestamptz;

-- A probe's error code (a disconnected probe's 327.67 °C) is not a
-- temperature: it is kept here, not in readings, and raises a sensor_fault
-- alert.
CREATE TABLE sensor_faults (
    sensor_id  bigint NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    time       timestamptz NOT NULL,
    code       double precision NOT NULL,
    PRIMARY KEY (sensor_id, time)
);

-- The durable handoff from ingest to alerting: every flush that stores
-- readings adds a row here in the same transaction, naming the time range of
-- each sensor it stored. The evaluator deletes a row once what it covers is
-- evaluated and that evaluation's state is stored, so no committed reading
-- can escape evaluation: rows left by a process that died (its session lock
-- on owner is gone) are evaluated by the next one.
CREATE TABLE evaluation_backlog (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner         bigint NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    sensor_ids    bigint[] NOT NULL,
    first_times   timestamptz[] NOT NULL,
    last_times    timestamptz[] NOT NULL,
    CHECK (cardinality(sensor_ids) = cardinality(first_times) AND cardinality(sensor_ids) = cardinality(last_times))
);
CREATE INDEX evaluation_backlog_owner ON evaluation_backlog (owner, id);
