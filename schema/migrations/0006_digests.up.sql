-- Daily and weekly digest emails. A subscription is one person's opt-in for
-- one organisation and frequency; digests_sent records every period sent, and
-- its primary key is what makes a digest go out once per person and period
-- however many instances run the digest job.
CREATE TABLE digest_subscriptions (
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    frequency   text NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    -- local hour (0-23) in timezone after which the digest is sent
    local_hour  integer NOT NULL DEFAULT 7 CHECK (local_hour BETWEEN 0 AND 23),
    -- weekly only: 0 = Sunday ... 6 = Saturday (Go's time.Weekday, extract(dow))
    weekday     integer NOT NULL DEFAULT 1 CHECK (weekday BETWEEN 0 AND 6),
    -- IANA zone; chosen at subscribe time (the organisation's first site's zone, else UTC)
    timezone    text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 100),
    email       text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id, frequency)
);
CREATE INDEX digest_subscriptions_user ON digest_subscriptions (user_id);

-- One row per digest sent. Rows outlive a deleted subscription on purpose, so
-- unsubscribing and subscribing again never resends a period.
CREATE TABLE digests_sent (
    org_id           uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    frequency        text NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    period_start     timestamptz NOT NULL,
    period_end       timestamptz NOT NULL,
    notification_id  uuid REFERENCES notifications (id) ON DELETE SET NULL,
    sent_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id, frequency, period_start),
    CHECK (period_start < period_end)
);
CREATE INDEX digests_sent_user ON digests_sent (user_id);

-- Digests list the alerts resolved in a period; alerts had no index that
-- finds those without scanning an organisation's whole alert history.
CREATE INDEX alerts_org_resolved ON alerts (org_id, resolved_at) WHERE resolved_at IS NOT NULL;
