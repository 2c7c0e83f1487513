DROP INDEX usage_reports_unsent;
ALTER TABLE usage_reports DROP COLUMN last_error, DROP COLUMN attempts, DROP COLUMN status, DROP COLUMN customer_id;
ALTER TABLE usage_reports RENAME COLUMN identifier TO stripe_record;
DROP TABLE stripe_events;
ALTER TABLE subscriptions DROP COLUMN metered_from, DROP COLUMN last_payment_failed_at, DROP COLUMN last_invoice_paid_at,
    DROP COLUMN past_due_since, DROP COLUMN cancel_at_period_end, DROP COLUMN trial_end, DROP COLUMN state_at,
    DROP COLUMN contract_sensor_limit;
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_sensor_limit_check;
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ALTER COLUMN status SET DEFAULT 'active';
UPDATE subscriptions SET status = 'active' WHERE status = 'none';
