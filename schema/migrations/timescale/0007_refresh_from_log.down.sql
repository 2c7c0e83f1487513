-- The policies start one interval from now, not at once: a down migration
-- that goes on to 0002 drops the aggregates, which a refresh job running
-- meanwhile would fail ("tuple concurrently deleted").
DROP TABLE IF EXISTS rollup_state;
DROP TABLE IF EXISTS rollup_invalidations;
DROP INDEX IF EXISTS readings_time_brin;

SELECT add_continuous_aggregate_policy('readings_5m',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes',
    schedule_interval => INTERVAL '1 minute', initial_start => now() + INTERVAL '1 minute',
    if_not_exists => true);
SELECT add_continuous_aggregate_policy('readings_1h',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes', initial_start => now() + INTERVAL '5 minutes',
    if_not_exists => true);
SELECT add_continuous_aggregate_policy('readings_1d',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day',
    schedule_interval => INTERVAL '1 hour', initial_start => now() + INTERVAL '1 hour',
    if_not_exists => true);
