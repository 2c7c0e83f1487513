-- Applied on top of seed_freshstaged.sql: a FreshTrack Pro database that
-- came from FrostGuard (Supabase, github.com/getdatasurge/freshtrack-pro,
-- supabase/migrations/20251226003405_*.sql) and kept its units and readings
-- as FrostGuard created them (SEED-SYSTEM.md §3.3, item 1): limits are
-- decimal degrees Fahrenheit with no temp_unit, readings are stored in °F
-- ("The DB and UI expect Fahrenheit", supabase/functions/ttn-webhook) in one
-- unpartitioned table with door_open and battery_level.

ALTER TABLE units
    DROP COLUMN temp_min,
    DROP COLUMN temp_max,
    DROP COLUMN temp_unit,
    ADD COLUMN temp_limit_high numeric(5, 2) NOT NULL DEFAULT 41.0,
    ADD COLUMN temp_limit_low numeric(5, 2),
    ADD COLUMN temp_hysteresis numeric(3, 2) NOT NULL DEFAULT 1.0,
    ADD COLUMN confirm_time_door_closed integer NOT NULL DEFAULT 600;

DROP TABLE sensor_readings;
CREATE TABLE sensor_readings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    unit_id uuid NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    device_id uuid REFERENCES devices (id) ON DELETE SET NULL,
    temperature numeric(5, 2) NOT NULL,
    humidity numeric(5, 2),
    door_open boolean DEFAULT false,
    battery_level integer,
    signal_strength integer,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_sensor_readings_unit_time ON sensor_readings (unit_id, recorded_at DESC);
CREATE INDEX idx_sensor_readings_time ON sensor_readings (recorded_at DESC);
