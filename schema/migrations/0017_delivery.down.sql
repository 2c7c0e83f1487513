DROP TABLE IF EXISTS server_secrets;
DROP INDEX IF EXISTS notifications_sms_recipient;
DROP INDEX IF EXISTS notifications_sms_org;
ALTER TABLE notifications DROP COLUMN IF EXISTS suppressed_reason;
UPDATE notifications SET status = 'cancelled' WHERE status = 'suppressed';
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'not_configured', 'cancelled'));
ALTER TABLE digest_subscriptions DROP COLUMN IF EXISTS site_ids;
DROP TABLE IF EXISTS phone_verifications;
