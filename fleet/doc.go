// Package fleet owns what an organisation measures and who it calls: sites,
// their areas, the units (fridges, freezers, hot holding...) in them, the
// sensors on the units, and the contacts that escalation steps reach.
//
// Each is a [crud.Collection] over its table ([Sites], [Areas], [Units],
// [Sensors], [Contacts]): its fields and their rules, the constraints that
// name a field when violated, the dependents that block a delete, and the
// unit kinds (safety.UnitKinds) with their default safe ranges
// (safety.DefaultSafeRange). The SQL is built from these descriptions by
// internal/crud, in one transaction with the audit row.
//
// fleet knows no route and no role: the api package mounts the collections,
// checks permissions and encodes answers, and must not run their SQL itself.
// fleet must not import api, fiber or internal/problem, and must not write
// alerts, rules or readings (alerting and ingest own those).
package fleet
