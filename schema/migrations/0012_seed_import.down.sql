DROP TABLE import_chunks;
DROP TABLE import_runs;
