-- Latest values per sensor, kept in memory by ingest and persisted here at
-- most every few seconds (coalesced), so dashboards never scan readings and
-- ingest does not pay a per-reading upsert.
CREATE TABLE sensor_latest (
    sensor_id  bigint PRIMARY KEY REFERENCES sensors (id) ON DELETE CASCADE,
    time       timestamptz NOT NULL,
    temp_c     double precision NOT NULL,
    humidity   real,
    battery    real,
    updated_at timestamptz NOT NULL DEFAULT now()
);
