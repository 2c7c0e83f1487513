DROP TABLE IF EXISTS insight_state;
DROP TABLE IF EXISTS sensor_calibrations;
DROP TABLE IF EXISTS cooling_logs;
DROP TABLE IF EXISTS defrost_patterns;
DROP TABLE IF EXISTS unit_events;
DROP TABLE IF EXISTS door_events;
ALTER TABLE alerts DROP COLUMN IF EXISTS summary;
ALTER TABLE sites DROP COLUMN IF EXISTS manual_log_cadence_minutes;
DELETE FROM alert_state WHERE rule_id IN (SELECT id FROM alert_rules WHERE kind IN
    ('trend_warning', 'defrost', 'door_open', 'time_out_of_temp', 'cooling', 'manual_log_missed', 'calibration_due', 'sensor_implausible'));
DELETE FROM alerts WHERE kind IN
    ('trend_warning', 'door_open', 'time_out_of_temp', 'cooling', 'manual_log_missed', 'calibration_due', 'sensor_implausible');
DELETE FROM alert_rules WHERE kind IN
    ('trend_warning', 'defrost', 'door_open', 'time_out_of_temp', 'cooling', 'manual_log_missed', 'calibration_due', 'sensor_implausible');
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_threshold_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_threshold_check
    CHECK (threshold IS NOT NULL OR kind IN ('temp_high', 'temp_low', 'sensor_fault'));
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check
    CHECK (kind IN ('temp_high', 'temp_low', 'sensor_offline', 'battery_low', 'sensor_fault'));
