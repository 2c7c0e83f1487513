// Package bench is FreshTrack's load harness: a fleet simulator that posts
// readings to a server and measures it against the raw COPY limit of the
// same database in the same run, live event streams watching it while it
// ingests, a history seeder for query benchmarks, and the result reports.
//
// It drives a server through its public HTTP API, as a fleet would, and uses
// the capability packages only to seed history and to measure in process.
// Nothing in the server may import it.
package bench
