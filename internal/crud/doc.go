// Package crud is the storage half of the generic resource engine: an
// organisation's collections (sites, areas, units, sensors, contacts, alert
// rules, escalation policies) described by their fields, and the SQL that
// lists, reads, creates, updates and deletes them.
//
// A [Collection] is declared by the capability that owns its table (fleet,
// alerting). From it this package builds the INSERT, UPDATE and SELECT
// statements, converts and validates a JSON body field by field
// ([Collection.Values]), keeps the optimistic version (an update names the
// version it read, and a stale one is refused with a [*StaleError]), writes
// the audit_log row in the same transaction as the change, refuses a delete
// that dependents block, and maps constraint violations to errors naming the
// field ([*ValidationError], [*ConflictError], [ErrOutOfRange]).
//
// It owns no table and knows no route: it must not import the api package,
// fiber or internal/problem (the HTTP half, in api, turns its errors into
// problem+json, sets ETags and reads If-Match), and it must not run SQL other
// than what a Collection describes plus the audit row.
package crud
