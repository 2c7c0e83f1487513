-- The HACCP report's copy of the readings: one row per sensor and UTC hour
-- holding that hour's readings packed in time order, 16 bytes each (the
-- binary timestamptz, microseconds since 2000-01-01 UTC, then the binary
-- float8 temperature, both as PostgreSQL sends them). A one-month report of
-- a 50-unit site reads 36 thousand of these rows instead of 2.2 million
-- readings: producing rows, not bytes, is what a report's reads cost.
--
-- Rows are written by the rollup refresh (package schema) from readings in
-- the same way in both storage modes, and only for hours that have ended:
-- hours in [hours_from, hours_through) of rollup_state are complete here
-- except those holding a 5-minute bucket still in rollup_invalidations,
-- and a sensor without a row for such an hour had no reading in it. Readers
-- take every other hour from readings.
CREATE TABLE reading_hours (
    sensor_id  bigint NOT NULL,
    hour       timestamptz NOT NULL,
    n          integer NOT NULL,
    readings   bytea NOT NULL,
    PRIMARY KEY (sensor_id, hour)
);
CREATE INDEX reading_hours_hour ON reading_hours (hour);

ALTER TABLE rollup_state
    ADD COLUMN hours_from timestamptz NOT NULL DEFAULT '-infinity',
    ADD COLUMN hours_through timestamptz NOT NULL DEFAULT '-infinity';
