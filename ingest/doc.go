// Package ingest turns sensor uploads into stored readings. It has three
// layers, each usable and testable without the ones above it.
//
// # Pure parser
//
// Parser decodes a request body that is already in memory into a Batch of
// Readings and Rejections, with no I/O, no clock and no database:
// ParseJSON ({"readings":[...]}), ParseNDJSON (one reading per line) and
// ParseTTN (a The Things Network v3 webhook uplink, with TTNFields naming the
// decoded_payload keys). A body that cannot be decoded at all is an error
// meant for the client (answered with 400); a reading that is wrong on its
// own becomes a Rejection with its index and a stable reason, and never fails
// the other readings. The parser checks form only (a sensor id, a valid time,
// finite numbers); Limits.Check then decides plausibility (temperature
// range, future skew, retention age) against a given now.
//
// The parser is the hot path. ParseJSON and ParseNDJSON decode in a single
// pass over the body that checks the JSON syntax (RFC 8259, as strictly as
// encoding/json) while it extracts the five members of each reading; a
// malformed body is reported with the byte offset of its first error.
// ParseTTN, one message per request with deeply nested metadata, checks the
// syntax the same way and then reads the message with
// github.com/valyala/fastjson. Reusing a Parser (from a ParserPool) and a
// Batch, decoding allocates nothing per reading: Reading.Sensor points into
// an arena owned by the Parser, valid until its next Parse call, and
// timestamps go through a non-allocating RFC 3339 parser.
//
// A reading may carry a contact sensor's door state (Reading.Door: a JSON
// reading's "door_open", a TTN uplink's door keys, see TTNFields), and a
// TTN uplink may carry a door state alone, without a temperature. Door
// states are stored in door_events, in their own transaction after the
// readings' commit and before the answer; a door state alone stores no
// reading.
//
// # Stream layer
//
// Above the parser, the stream layer bounds and feeds it: request size
// limits, gzip decoding, cutting large uploads into batches, resolving
// sensor ids to keys, and back-pressure towards the writer that copies
// readings into PostgreSQL, so a burst of uploads slows clients down rather
// than growing memory without bound.
//
// # HTTP adapter
//
// A thin HTTP adapter maps routes, authentication and content types to the
// layers below and their results to responses: 400 with the parser's error
// for an undecodable body, and the per-reading rejections alongside the
// count of accepted readings otherwise. It holds no ingest logic of its own.
//
// Other adapters reach the same pipeline without its HTTP answers: the
// legacy routes of FreshTrack Pro's devices (package compat) hand the
// service a TTN uplink (IngestTTN) or readings whose sensors they resolved
// themselves (IngestResolved), and answer in their own shape from the
// Outcome, whose rejections carry a Cause. Their readings are checked,
// committed, evaluated and published exactly like native ones.
package ingest
