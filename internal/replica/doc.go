// Package replica sends the reads that may trail the primary by a few
// seconds (unit series, persisted latest values, HACCP reports) to a
// PostgreSQL streaming replica while its replay lag is under a bound, and to
// the primary otherwise. Writes never go through it: a caller hands it a read
// ([Reads.Read]), and a standby refuses writes anyway.
//
// # Lag
//
// The lag is measured on the replica with one statement, at most once per
// CheckEvery (1 s), and the answer is shared by every read meanwhile; reads
// that arrive while it runs wait for it (at most CheckTimeout). A replica
// whose WAL receiver runs and that has replayed everything it received is
// caught up: lag 0. pg_last_xact_replay_timestamp() alone would not do, since
// it ages on an idle primary that commits nothing. Otherwise the lag is the
// age of the last transaction it replayed (so clock skew between the
// servers adds to it), unknown when it has replayed none since it started,
// which counts as lagging. A server that is not in recovery is not a
// replica (promoted, or the wrong URL) and gets no reads.
//
// # Failures
//
// A replica that does not answer never fails a request: a failed lag check
// routes reads to the primary until the next check, and a read that fails on
// the replica because of the replica (the connection, a server shutting
// down, a conflict with recovery) runs again on the primary, which routes
// the following reads there until the next check too. The read's own answers
// (not found, a bad parameter) are returned as they are.
//
// # Metrics
//
//	freshtrack_replica_reads_total{target="replica",reason="caught_up"|"within_lag"}
//	freshtrack_replica_reads_total{target="primary",reason="lagging"|"unreachable"|"not_standby"|"replica_error"}
//	freshtrack_replica_lag_seconds               the last measured lag
//	freshtrack_replica_lag_checks_total          lag measurements taken
//	freshtrack_replica_lag_check_errors_total    of which the replica did not answer
//
// They exist only when a replica is configured.
package replica
