-- Delivery honesty and the profile's phone check (issue 20).

-- A phone number a person typed is used only after they proved it reaches
-- them: a 6-digit code goes to it by SMS, and only its HMAC is kept. One
-- pending check per person; a new phone replaces it.
CREATE TABLE phone_verifications (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phone       text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    sent_at     timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK (expires_at > sent_at)
);

-- NULL is every site of the organisation; otherwise the digest covers only
-- these sites (the API checks they belong to the organisation).
ALTER TABLE digest_subscriptions ADD COLUMN site_ids uuid[]
    CHECK (site_ids IS NULL OR cardinality(site_ids) BETWEEN 1 AND 500);

-- An SMS over a rate limit is not sent; its row says so and why.
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'not_configured', 'cancelled', 'suppressed'));
ALTER TABLE notifications ADD COLUMN suppressed_reason text
    CHECK ((status = 'suppressed') = (suppressed_reason IS NOT NULL));
-- The rate limits count the SMS started in the last hour per organisation
-- and per number.
CREATE INDEX notifications_sms_org ON notifications (org_id, coalesce(sent_at, updated_at)) WHERE channel = 'sms';
CREATE INDEX notifications_sms_recipient ON notifications (recipient, coalesce(sent_at, updated_at)) WHERE channel = 'sms';

-- Keys the server generates once and keeps, so that every instance (and a
-- restarted one) signs alike without an operator having to configure them:
-- the unsubscribe links' HMAC key, unless FRESHTRACK_UNSUBSCRIBE_KEY is set.
CREATE TABLE server_secrets (
    name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
