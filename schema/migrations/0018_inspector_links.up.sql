-- Inspector links: a time-limited, read-only credential an admin hands to a
-- food-safety inspector. It reads the HACCP report, unit charts, alerts and
-- the audit trail of its sites only (the API keeps the allowlist). Only the
-- SHA-256 of the secret is stored; the secret is shown once.
CREATE TABLE inspector_links (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- the first characters of the secret, safe to show so admins can tell links apart
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    site_ids     uuid[] NOT NULL CHECK (cardinality(site_ids) BETWEEN 1 AND 100),
    -- the days (in each site's time zone) the inspector may see; NULL: unbounded
    period_from  date,
    period_to    date,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    CHECK (period_from IS NULL OR period_to IS NULL OR period_from <= period_to),
    CHECK (expires_at > created_at AND expires_at <= created_at + interval '90 days 1 minute')
);
CREATE INDEX inspector_links_org ON inspector_links (org_id, created_at, id);
