UPDATE notifications SET status = 'failed' WHERE status = 'not_configured';
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed'));
