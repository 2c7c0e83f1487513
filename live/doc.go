// Package live pushes what happens in an organisation to the dashboards
// watching it, as Server-Sent Events: readings (coalesced, at most one per
// unit per second), unit states, alert events and notification status
// changes.
//
// # Where events come from
//
// Readings come from ingest's writer right after each commit (a [Feed]),
// unit states from the alert evaluator (alerting.Hooks.UnitState), both in
// the process that ingested the readings; a [Publisher] coalesces them and
// hands them to a [Bus]: the local [Hub] alone, or Redis pub/sub when
// several instances share the work (every instance's hub hears every
// event). Alert events, notification status changes and the membership
// changes that end streams are announced by the database itself (triggers
// calling NOTIFY, migration 0009), which delivers them at commit, in commit
// order, to every instance's [Tail]; they need no Redis.
//
// # Streams
//
// A [Stream] is one client's subscription: its organisation, its filters, a
// bounded queue of events. A client that does not keep up is dropped (its
// queue full: the stream ends with a final reset event) rather than
// buffered without bound. Each event written gets an id, microseconds since
// the epoch, strictly increasing on the stream. A client that reconnects
// with Last-Event-ID within [ResumeWindow] gets the alert events and
// notification changes recorded since (from the database: none is lost,
// some may repeat; their "event_id" tells them apart) and every unit's
// current state and newest reading; from further back, or with an id this
// server did not write, a reset event that tells it to reload.
//
// It owns fan-out, coalescing, the stream format and tickets. It must not
// decide who may see an organisation (api checks membership at connect; the
// hub only asks again when the database says a membership changed), and it
// runs no SQL of its own beyond LISTEN: replays read through alerting,
// notify and query.
package live
