-- timescale storage mode: readings is a hypertable with 1-day chunks; the
-- downsampled series are hierarchical continuous aggregates with real-time
-- aggregation. Statements follow TimescaleDB 2.x (checked against 2.28.3).
-- The retention policy is applied from configuration by freshtrack itself.

CREATE EXTENSION IF NOT EXISTS timescaledb;

INSERT INTO storage_mode (mode) VALUES ('timescale');

CREATE TABLE readings (
    time       timestamptz NOT NULL,
    sensor_id  bigint NOT NULL,
    temp_c     double precision NOT NULL,
    humidity   real,
    battery    real,
    PRIMARY KEY (sensor_id, time)
);
-- no default time index: it would cost a quarter of COPY throughput
SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), create_default_indexes => false);

ALTER TABLE readings SET (timescaledb.enable_columnstore = true,
    timescaledb.segmentby = 'sensor_id', timescaledb.orderby = 'time DESC');
CALL add_columnstore_policy('readings', after => INTERVAL '7 days');

CREATE MATERIALIZED VIEW readings_5m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('5 minutes', time) AS bucket, sensor_id,
           min(temp_c) AS t_min, max(temp_c) AS t_max, sum(temp_c) AS t_sum, count(*) AS n
    FROM readings GROUP BY bucket, sensor_id WITH NO DATA;

CREATE MATERIALIZED VIEW readings_1h
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 hour', bucket) AS bucket, sensor_id,
           min(t_min) AS t_min, max(t_max) AS t_max, sum(t_sum) AS t_sum, sum(n) AS n
    FROM readings_5m GROUP BY 1, sensor_id WITH NO DATA;

CREATE MATERIALIZED VIEW readings_1d
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 day', bucket) AS bucket, sensor_id,
           min(t_min) AS t_min, max(t_max) AS t_max, sum(t_sum) AS t_sum, sum(n) AS n
    FROM readings_1h GROUP BY 1, sensor_id WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_5m',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes',
    schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('readings_1h',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('readings_1d',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day',
    schedule_interval => INTERVAL '1 hour');
