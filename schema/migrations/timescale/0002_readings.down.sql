-- No policy job may run while the aggregates are dropped.
SELECT remove_continuous_aggregate_policy(v, if_exists => true)
  FROM unnest(ARRAY['readings_1d', 'readings_1h', 'readings_5m']) AS v
 WHERE to_regclass(v) IS NOT NULL;
DROP MATERIALIZED VIEW IF EXISTS readings_1d;
DROP MATERIALIZED VIEW IF EXISTS readings_1h;
DROP MATERIALIZED VIEW IF EXISTS readings_5m;
DROP TABLE IF EXISTS readings;
DELETE FROM storage_mode;
