// Package pgtest gives each test an isolated PostgreSQL database.
//
// A migrated template database is built once per set of migrations and
// storage mode (its name carries a fingerprint of the migrations, so every
// package of a `go test ./...` run shares it, and a change of migrations builds
// a new one). Tests then get either a fresh clone of it (NewDB: tests that
// commit, use River or LISTEN) or a transaction on a per-package clone that is
// rolled back at cleanup (Tx: the fast default). Tests never share rows.
//
// Two servers may take part. Postgres-mode databases live on TEST_DATABASE_URL
// (default: the local server as the postgres user); timescale-mode ones on
// TEST_TIMESCALE_URL, or on TEST_DATABASE_URL when that one is unset. The
// URLs' databases are used only for administration.
//
// TEST_STORAGE (postgres or timescale, default postgres) is the mode of every
// database a test asks for without WithMode, so one `go test ./...` per value
// runs the whole suite in each storage mode. A test that needs TimescaleDB is
// skipped, saying why, when no server has it; when TEST_TIMESCALE_URL is set
// the server there must have it, and such a test fails instead of skipping.
//
// It is for tests and test helpers (query/querytest) only; the server must
// never import it.
package pgtest
