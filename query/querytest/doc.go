// Package querytest builds the data that read-path tests need in a pgtest
// database: organisations, sites, units, sensors, users, alerts, and
// readings written the way ingest writes them (partitions first, then COPY
// and the rollup invalidations in one transaction).
//
// It is for tests only; the server must never import it.
package querytest
