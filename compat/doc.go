// Package compat serves the routes FreshTrack Pro's devices, TTN
// applications and monitors call, so that they keep working unchanged
// after a move to FreshTrack (issue 16): the same paths, credentials,
// request bodies and answers, in front of FreshTrack's own pipeline.
//
//	POST /api/ingest/readings                 readings addressed by FreshTrack Pro unit (and device)
//	POST /api/webhooks/ttn                    a The Things Network v3 uplink
//	POST /api/webhooks/ttn/:orgId/uplink      the same, as FreshTrack Pro provisioned TTN webhooks
//	POST /api/webhooks/ttn/:orgId/join        a join-accept: answered 200, nothing stored
//	GET  /health, /health/ready, /health/live FreshTrack Pro's health answers
//
// # Credentials
//
// A device sends a FreshTrack Pro secret (imported as an auth legacy
// secret) or a FreshTrack API key with the ingest scope, in X-API-Key,
// X-Webhook-Secret, X-Downlink-Apikey or Authorization (raw or Bearer), the
// first present in that order. Legacy secrets are accepted here only.
//
// # Readings by unit
//
// FreshTrack Pro stored readings on units; FreshTrack stores them on
// sensors. A reading's deviceId names the sensor whose public_id it is
// (the importer keeps FreshTrack Pro's devices.id there), if that sensor is
// on the reading's unit and not retired. Otherwise the unit's only active
// sensor takes it, or, when the unit has none or several, the unit's
// synthetic sensor: external_id "unit:<unit id>", assigned to the unit,
// which the importer creates for units with device-less readings and this
// package creates on first use. The answers follow FreshTrack Pro's:
// validation errors refuse the whole batch (400), readings of units outside
// the credential's organisation are dropped, and a batch with none left is
// 403. Beyond the seed, a reading FreshTrack refuses (an implausible
// temperature, a time too far in the future) is listed in the answer's
// "rejected", and a batch of which nothing could be stored is 422, never
// 200: a device that checks only the status learns that it must resend.
// Every answer comes after the readings are durable, through the same
// group commit as the native routes (ingest.IngestResolved), so alerting
// evaluates them and live updates show them. readingIds is always empty
// (FreshTrack has no per-reading ids) and alertsTriggered always 0
// (evaluation follows the commit, asynchronously).
//
// # Errors
//
// Every error, whatever layer makes it (body limits, admission, the
// ingest queue), is answered in FreshTrack Pro's shape,
// {"error":{"code":"BAD_REQUEST","message":"...","details":[...]}}, with
// application/json rather than problem+json.
//
// compat runs the SQL that maps units and devices to sensors; it writes
// readings only through ingest and credentials only through auth.
package compat
