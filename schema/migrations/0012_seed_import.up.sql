-- Imports from FreshTrack Pro (freshtrack import seed). A run is one import
-- of a seed database: the full one, or a --since delta after it. Readings
-- are imported in time chunks, each committed with its import_chunks row in
-- one transaction, so a run that was killed continues with the chunks it
-- has not committed and never stores a reading twice.
CREATE TABLE import_runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the seed database, as a URL without its password
    source              text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('full', 'since')),
    readings_unit       text NOT NULL CHECK (readings_unit IN ('C', 'F')),
    -- the seed's clock when the run first read it: readings the seed
    -- received after this are the next --since run's
    source_snapshot_at  timestamptz NOT NULL,
    -- the readings of the run: recorded_at <= readings_to, and for a
    -- --since run recorded_at > readings_from or received_at >= received_from
    readings_from       timestamptz,
    readings_to         timestamptz,
    received_from       timestamptz,
    started_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    -- the run's report (per table: read, written, merged, skipped)
    report              jsonb
);
-- at most one run in progress: a rerun continues it
CREATE UNIQUE INDEX import_runs_one_open ON import_runs ((true)) WHERE finished_at IS NULL;

-- One row per committed chunk of readings, written in the chunk's own
-- transaction: the run's watermark.
CREATE TABLE import_chunks (
    run_id              bigint NOT NULL REFERENCES import_runs (id) ON DELETE CASCADE,
    chunk_from          timestamptz NOT NULL,
    chunk_to            timestamptz NOT NULL,
    -- the seed snapshot the chunk was read in (a resumed run reads in a new one)
    source_snapshot_at  timestamptz NOT NULL,
    rows_read           bigint NOT NULL,
    rows_written        bigint NOT NULL,
    -- readings of one sensor at one instant in the seed, collapsed into one
    rows_collapsed      bigint NOT NULL,
    -- readings FreshTrack already had (a --since run's overlap)
    rows_present        bigint NOT NULL,
    -- probe error codes, stored in sensor_faults
    faults              bigint NOT NULL,
    rows_skipped        bigint NOT NULL,
    committed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, chunk_from),
    CHECK (chunk_from < chunk_to)
);
