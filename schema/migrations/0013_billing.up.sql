-- Billing through Stripe. One subscriptions row per organisation holds the
-- Stripe customer and the state of its current subscription, as the newest
-- webhook event told it.
--
-- status is Stripe's subscription status ('none' before any subscription;
-- 'trial' is FreshTrack Pro's spelling of trialing, kept for imported rows).
UPDATE subscriptions SET status = 'none' WHERE stripe_subscription_id IS NULL AND status = 'active' AND plan = 'free';
ALTER TABLE subscriptions ALTER COLUMN status SET DEFAULT 'none';
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check CHECK (status IN (
    'none', 'trial', 'trialing', 'active', 'past_due', 'unpaid', 'canceled', 'paused', 'incomplete', 'incomplete_expired'));
-- sensor_limit is what the plan granted when the state was last applied (or
-- what FreshTrack Pro had, for imported rows); contract_sensor_limit is an
-- operator's limit by contract (freshtrack billing set-limit), which no plan
-- change overrides.
ALTER TABLE subscriptions ADD COLUMN contract_sensor_limit integer CHECK (contract_sensor_limit >= 0);
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_sensor_limit_check CHECK (sensor_limit >= 0);
-- state_at is Stripe's created time of the event whose state the row holds:
-- an older event arriving later does not undo a newer one.
ALTER TABLE subscriptions ADD COLUMN state_at timestamptz;
ALTER TABLE subscriptions ADD COLUMN trial_end timestamptz;
ALTER TABLE subscriptions ADD COLUMN cancel_at_period_end boolean NOT NULL DEFAULT false;
-- When the subscription became past_due (or unpaid): new sensors are refused
-- once the grace period after it is over.
ALTER TABLE subscriptions ADD COLUMN past_due_since timestamptz;
ALTER TABLE subscriptions ADD COLUMN last_invoice_paid_at timestamptz;
ALTER TABLE subscriptions ADD COLUMN last_payment_failed_at timestamptz;
-- The first hour the usage meters cover: when the subscription first went live.
ALTER TABLE subscriptions ADD COLUMN metered_from timestamptz;

-- Every webhook event processed, recorded in the transaction of its effect:
-- a redelivered event finds its id here and changes nothing.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    created      timestamptz NOT NULL,
    org_id       uuid REFERENCES organizations (id) ON DELETE SET NULL,
    outcome      text NOT NULL CHECK (outcome IN ('applied', 'stale', 'ignored', 'unmatched')),
    detail       text,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_org ON stripe_events (org_id, received_at);

-- One row per organisation, meter and hour sent (or a range that could not
-- be): quantity and identifier are fixed before the send, so a retry after a
-- crash sends the same event again, which Stripe deduplicates by identifier.
ALTER TABLE usage_reports RENAME COLUMN stripe_record TO identifier;
ALTER TABLE usage_reports ADD COLUMN customer_id text;
ALTER TABLE usage_reports ADD COLUMN status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'sent', 'failed', 'skipped', 'unknown'));
ALTER TABLE usage_reports ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE usage_reports ADD COLUMN last_error text;
CREATE INDEX usage_reports_unsent ON usage_reports (org_id, metric) WHERE status IN ('pending', 'failed', 'skipped', 'unknown');
