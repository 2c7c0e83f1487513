-- A notification on a channel with no provider configured is recorded as
-- not_configured (and logged with its content), never silently dropped.
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'not_configured'));
