DROP TABLE alert_recipient_decisions;
ALTER TABLE alerts DROP CONSTRAINT alerts_notification_policy_fk,
    DROP COLUMN resolved_notified_at, DROP COLUMN notification_scope, DROP COLUMN notification_policy_id;
DROP TABLE notification_policies;
