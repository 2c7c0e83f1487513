-- postgres storage mode: readings range-partitioned by UTC day (partitions are
-- created by freshtrack_readings_partition(), ahead of time and on demand), and
-- the downsampled series kept as rollup tables refreshed from an invalidation log.

INSERT INTO storage_mode (mode) VALUES ('postgres');

-- No foreign key to sensors: a per-row FK lookup would cost COPY throughput;
-- sensors are retired, never deleted, and ingest validates every sensor.
CREATE TABLE readings (
    time       timestamptz NOT NULL,
    sensor_id  bigint NOT NULL,
    temp_c     double precision NOT NULL,
    humidity   real,
    battery    real,
    PRIMARY KEY (sensor_id, time)
) PARTITION BY RANGE (time);

-- Rollup refreshes read readings by time range; BRIN costs almost nothing at
-- COPY time because readings arrive roughly in time order.
CREATE INDEX readings_time_brin ON readings USING brin (time) WITH (autosummarize = on);

-- freshtrack_readings_partition creates the partition for the UTC day holding
-- day, if it is missing, and returns its name. It creates a plain table and
-- attaches it, which takes only a SHARE UPDATE EXCLUSIVE lock on readings, so
-- ingest keeps writing meanwhile. Concurrent callers serialise on an advisory lock.
CREATE FUNCTION freshtrack_readings_partition(day timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lo   timestamptz := date_bin('1 day', day, timestamptz '2000-01-01 00:00:00+00');
    hi   timestamptz := lo + interval '1 day';
    name text := 'readings_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN name;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('freshtrack.readings_partition', 0));
    -- Re-check with a fresh MVCC snapshot: to_regclass may use a catalog
    -- cache that an advisory lock does not refresh.
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = name AND relnamespace = current_schema()::regnamespace) THEN
        RETURN name;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE readings INCLUDING DEFAULTS)', name);
    EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    RETURN name;
END $$;

SELECT freshtrack_readings_partition(now() + make_interval(days => d)) FROM generate_series(-1, 7) AS d;

-- Downsampled series: sums and counts (not averages) so coarser levels and
-- arbitrary ranges average correctly. Buckets are UTC-aligned.
CREATE TABLE readings_5m (
    sensor_id  bigint NOT NULL,
    bucket     timestamptz NOT NULL,
    t_min      double precision NOT NULL,
    t_max      double precision NOT NULL,
    t_sum      double precision NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
);
CREATE INDEX readings_5m_bucket ON readings_5m (bucket);
CREATE TABLE readings_1h (LIKE readings_5m INCLUDING ALL);
CREATE TABLE readings_1d (LIKE readings_5m INCLUDING ALL);

-- Every write of readings adds the 5-minute buckets it touched here, in the same
-- transaction; the refresh job folds them in. Rows are not unique on purpose:
-- concurrent writers must never wait on each other's uncommitted rows.
CREATE TABLE rollup_invalidations (
    bucket  timestamptz NOT NULL
);
CREATE INDEX rollup_invalidations_bucket ON rollup_invalidations (bucket);

-- Buckets before watermark are materialised (except pending invalidations);
-- readers take newer data from readings.
CREATE TABLE rollup_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark  timestamptz NOT NULL DEFAULT '-infinity',
    refreshed_at timestamptz
);
INSERT INTO rollup_state DEFAULT VALUES;
