DROP TABLE IF EXISTS rollup_state, rollup_invalidations, readings_1d, readings_1h, readings_5m, readings;
DROP FUNCTION IF EXISTS freshtrack_readings_partition(timestamptz);
DELETE FROM storage_mode;
