// Command freshtrack is the FreshTrack server and its administration tool.
//
// It owns wiring only: reading the configuration, opening the pool, building
// each component (ingest writer, alerting pipe, River client, HTTP server)
// and starting and stopping them in order. Business rules and SQL belong to
// the capability packages; a subcommand that needs either calls one.
package main
