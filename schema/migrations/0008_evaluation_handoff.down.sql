DROP TABLE IF EXISTS evaluation_backlog;
DROP TABLE IF EXISTS sensor_faults;
ALTER TABLE alert_state DROP COLUMN IF EXISTS stands_until;
DELETE FROM notifications WHERE status = 'cancelled';
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'not_configured'));
DELETE FROM alert_events WHERE kind IN ('retriggered', 'withdrawn');
ALTER TABLE alerts DROP COLUMN IF EXISTS cycle_started_at;
ALTER TABLE alerts DROP COLUMN IF EXISTS cycle;
ALTER TABLE alerts DROP COLUMN IF EXISTS threshold_c;
ALTER TABLE alert_events DROP CONSTRAINT alert_events_kind_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check
    CHECK (kind IN ('triggered', 'notified', 'escalated', 'acknowledged', 'comment', 'resolved', 'auto_resolved'));
DELETE FROM alert_rules WHERE kind = 'sensor_fault';
UPDATE alert_rules r SET threshold = CASE
         WHEN r.kind = 'temp_low' THEN coalesce((SELECT u.safe_min_c FROM units u WHERE u.id = r.unit_id), 57)
         WHEN r.unit_kind = 'freezer' THEN -15
         ELSE coalesce((SELECT u.safe_max_c FROM units u WHERE u.id = r.unit_id), 5) END
 WHERE r.threshold IS NULL;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_threshold_check;
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check
    CHECK (kind IN ('temp_high', 'temp_low', 'sensor_offline', 'battery_low'));
ALTER TABLE alert_rules ALTER COLUMN threshold SET NOT NULL;
