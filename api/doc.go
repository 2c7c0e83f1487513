// Package api is FreshTrack's HTTP surface: the Fiber app, its middleware
// (request logs, metrics, problem+json errors), the operational endpoints
// and the people-facing v1 API. Capability packages register their routes
// on the app it builds.
//
// # What it owns
//
// Routing (Router, the route list behind /v1/openapi.json and the route ×
// role tests), authentication of people (bearer tokens through
// auth.UserVerifier), the membership and permission check of every
// /v1/orgs/:org route (auth.MemberRole and auth.Matrix), reading and
// decoding bodies (internal/httpbody, strict JSON), ETag and If-Match, and
// encoding answers and errors as problem+json. The generic collections have
// their HTTP half here (resource.go: routes, paging parameters, versions
// from If-Match); their fields and SQL belong to the capabilities.
//
// # What it must not touch
//
// api runs no SQL and imports no pgx package (layering_test.go fails when
// it does). A handler decodes, checks roles, calls the capability that owns
// the data and encodes:
//
//	sites, areas, units, sensors, contacts     fleet (through internal/crud)
//	alert rules, escalation policies           alerting (through internal/crud)
//	alerts, manual checks, evaluation backlog  alerting
//	organisations, members, API keys, audit    auth
//	notifications log, Telnyx webhooks         notify
//	series, latest values                      query
//	HACCP reports                              compliance
//	digest subscriptions                       digest
//	calibrations, cooling logs, unit events    records
//
// The database pool (a database.Pool, which is pgxpool.Pool) is held only to
// be handed to those packages.
package api
