-- Ingest credentials carried over from FreshTrack Pro: the webhook secrets its
-- devices and TTN applications send (ttn_connections.webhook_secret, the
-- provisioned TTN webhook's secret). They have no ftk_ shape and no lookup
-- prefix, so a secret is found by its SHA-256, which is all that is kept.
-- Each is an ingest credential of one organisation, accepted on the legacy
-- routes only, and revocable like an API key.
CREATE TABLE legacy_secrets (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    secret_sha256  bytea NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
    -- Where the secret came from: 'ttn_connections.webhook_secret',
    -- 'ttn_webhook_secret', ...
    source         text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    last_used_at   timestamptz
);
CREATE INDEX legacy_secrets_org ON legacy_secrets (org_id, created_at);
