-- Per unit and rule evaluator state (ok -> pending -> alerting -> clearing),
-- persisted so a restart neither forgets a pending excursion nor re-opens an
-- open alert.
CREATE TABLE alert_state (
    org_id        uuid NOT NULL,
    unit_id       uuid NOT NULL,
    rule_id       uuid NOT NULL,
    state         text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'pending', 'alerting', 'clearing')),
    -- when the current state's condition began (pending: the excursion's start)
    since         timestamptz,
    -- newest reading time evaluated, so late readings are recognised
    evaluated_to  timestamptz,
    peak_c        double precision,
    alert_id      uuid,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, rule_id),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, rule_id) REFERENCES alert_rules (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, alert_id) REFERENCES alerts (org_id, id) ON DELETE SET NULL (alert_id)
);
CREATE INDEX alert_state_active ON alert_state (state) WHERE state <> 'ok';

-- Manual temperature checks recorded by staff (probe thermometers), shown in
-- HACCP reports beside the sensor data.
CREATE TABLE manual_checks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL,
    unit_id     uuid NOT NULL,
    checked_at  timestamptz NOT NULL,
    temp_c      double precision NOT NULL,
    checked_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    notes       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, id) ON DELETE CASCADE
);
CREATE INDEX manual_checks_unit ON manual_checks (org_id, unit_id, checked_at);

-- Alert comments and lifecycle notes beyond alert_events' kinds are events too;
-- escalation bookkeeping lives on the alert.
ALTER TABLE alerts ADD COLUMN policy_id uuid;
ALTER TABLE alerts ADD COLUMN last_reading_c double precision;
