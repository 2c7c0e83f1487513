-- Review and electronic sign-off of a site's HACCP record (21 CFR 117.165,
-- 117.305; the manifestation of 21 CFR 11.50). A row is one signature over
-- one site and one report period (the report's from and to days, in the
-- site's time zone). content_hash is the report's content hash at signing
-- (compliance.ContentHash); a later change to the covered records gives the
-- report another hash, so the signature shows as stale. audit_id is the
-- audit_log row that IS the signature (action record.signed), inside the
-- organisation's hash chain; this table is its index.
CREATE TABLE record_signoffs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL,
    site_id      uuid NOT NULL,
    period_from  date NOT NULL,
    period_to    date NOT NULL CHECK (period_to >= period_from),
    meaning      text NOT NULL CHECK (meaning IN ('reviewed', 'verified')),
    signer_id    uuid NOT NULL REFERENCES users (id),
    printed_name text NOT NULL CHECK (length(printed_name) BETWEEN 1 AND 200),
    signed_at    timestamptz NOT NULL,
    content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    -- No foreign key: audit_log is append-only and refuses TRUNCATE
    -- itself (a reference would change that refusal into another).
    audit_id     bigint NOT NULL UNIQUE,
    comment      text CHECK (comment IS NULL OR length(comment) BETWEEN 1 AND 2000),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, id) ON DELETE CASCADE
);
CREATE INDEX record_signoffs_site ON record_signoffs (org_id, site_id, period_from);

-- A re-authentication the web app witnessed for a signature: the browser
-- went through a fresh sign-in (prompt=login, max_age=0) and came back as
-- the same user. The browser holds a random grant; only its SHA-256 is
-- stored. A grant signs once (used_at) and only shortly after the
-- identity provider authenticated the person (authenticated_at).
CREATE TABLE signing_reauths (
    grant_sha256     bytea PRIMARY KEY CHECK (length(grant_sha256) = 32),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    authenticated_at timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);
CREATE INDEX signing_reauths_expires ON signing_reauths (expires_at);

-- A sign-in under way may be a re-authentication for signing: its callback
-- then hands out a signing grant instead of a new session.
ALTER TABLE web_signins ADD COLUMN reauth boolean NOT NULL DEFAULT false;
