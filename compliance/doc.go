// Package compliance produces the records that food-safety inspections ask
// for: the HACCP temperature record of a site (HACCP), rendered as JSON,
// a sortable CSV spreadsheet or a printable PDF, and exports of the raw
// readings (ExportReadings). Every function takes the caller's organisation
// and filters every statement by it; a site or unit of another
// organisation is ErrNotFound (the same sentinel as query.ErrNotFound).
//
// # The HACCP record
//
// For each unit of the site and each local day of the period (days of the
// site's time zone, 23 to 25 hours around daylight-saving changes): the
// count, minimum, maximum and average of the readings, the minutes they
// cover, the minutes out of the unit's limits and the percentage in range;
// every excursion; every data gap; the manual checks and corrective
// actions recorded. All of it is computed from raw readings, exactly, with
// package safety's definition of a unit's temperature:
//
//   - Limits. A unit is judged against safety.LimitsFor: its safe range,
//     unless the alert rules that apply to it (alerting's selection) set
//     thresholds of their own (UnitReport.LimitMin, LimitMax).
//   - Probes. Each of the unit's sensors is a probe, folded through a
//     safety.Mixer whose maximum gap is the gap threshold (15 minutes by
//     default): a probe's reading stands until its next one, for at most
//     twice its reporting interval and never longer than the gap
//     threshold (safety.Stand); an error code (sensor_faults, or an error
//     code stored as a reading by an earlier version) makes the probe dead
//     until it measures again.
//   - Coverage. The unit is out of range while any live probe is outside
//     its limits, in range while every live probe is within them, and in a
//     data gap while no probe is live, which counts as neither; so for
//     every unit covered minutes plus gap minutes are the whole period.
//     Percent in range is (covered − out of range) / covered. Time is split
//     at local midnights. Readings before the period say how its first
//     minutes are covered, readings after it where an excursion ended; for
//     a period not over yet the data ends at the generation time.
//   - Excursions. An excursion starts at the reading that takes the unit
//     out of range and ends when it is in range again (a gap inside it
//     does not end it), so two probes that disagree make one excursion, not
//     one per reading. Its duration is end − start; its minutes out of
//     range only the covered part. An excursion already running at the
//     period start begins at the period start (started_before_period); one
//     still running at its end ends there (ongoing). The unit's temp_high /
//     temp_low alerts whose lifetime (started_at to resolved_at) overlaps
//     the excursion are attached, with who acknowledged them and when
//     (users.name and email via alerts.acknowledged_by) and their
//     corrective actions.
//
// The period's readings are read one UTC day (one partition or chunk) at a
// time and folded in Go in time order; see ReadChunk for why this beats a
// window-function pass in SQL. Everything else (site, units with their
// rules, the probes' error codes, alerts, actions, checks, the audit head)
// is one statement each, all in one
// read-only repeatable-read snapshot.
//
// # Hashes
//
// The header carries ContentSHA256, the SHA-256 of the canonical JSON
// (RFC 8785 style: sorted keys, no whitespace, ECMAScript number form) of
// the report without its generation time, its own hash and the footer; see
// ContentHash. Regenerating a report over unchanged data gives the same
// hash. The footer carries the hash of the organisation's newest audit_log
// row, which chains every earlier one, and, when the organisation's data
// was imported from FreshTrack Pro (freshtrack import seed), its newest
// import.completed entry: when the import was verified, and the result.
//
// # Review and sign-off
//
// Sign records a manager's electronic signature over a site's record for an
// ended period: an audit_log entry (record.signed: site, period, meaning,
// printed name, content hash) in the organisation's hash chain, indexed by
// record_signoffs. The hash signed is the report's ContentSHA256 in its
// signed form (°C, every unit, the default gap threshold). ListSignoffs and
// every report (Report.Review) rebuild that form and call a signature
// current while the hash matches and stale once the covered records
// changed; the review itself is outside the hashed content. The signer's
// re-authentication is checked inside the signature's transaction (see
// auth.FreshAuth, auth.RedeemSigningGrant). EditCorrectiveAction corrects
// a recorded action, audited, which is one way a signature goes stale.
//
// # Renderers
//
// WriteJSON writes the Report as JSON; WriteCSV one table per section
// (report, daily_summary, excursions, gaps, manual_checks,
// corrective_actions, ..., signatures), each with a header row, separated by blank lines,
// times in UTC and local form, units in the header names; WritePDF a
// document for printing with the Go fonts embedded (any Latin, Greek or
// Cyrillic text and the degree sign print as written).
package compliance
