// Package alerting turns readings into alerts and alerts into messages that
// reach a person.
//
// # What it owns, and what it must not touch
//
// The package owns the alert rules (alert_rules), their evaluation (the
// state machine over alert_state), the alerts' lifecycle (opening,
// acknowledging, resolving, commenting, listing: alerts, alert_events,
// corrective_actions), their escalation (River jobs on QueueAlerting, whose
// messages go out through a Notifier) and the handoff from ingest
// (evaluation_backlog: Claim, Run, Checkpoint).
//
// It must not write readings: readings, sensor_faults and sensor_latest are
// ingest's, and alerting only reads them (to replay a window, to see a
// silent unit); an evaluation changes alert_state, alerts and their events,
// never a reading. It must not know about HTTP: the API calls its entry
// points and maps its errors (ErrNotFound, ValidationError, ConflictError)
// to responses; nothing here imports net/http or sees a request.
//
// # Files
//
//	config.go      Config, its defaults (WithDefaults), Validate; Hooks
//	evaluator.go   Evaluator, NewEvaluator, Evaluate: a batch split by unit
//	pipe.go        Pipe: the commit → evaluation connection serve starts
//	handoff.go     Claim, Run, Checkpoint: the durable handoff from ingest
//	memory.go      the fast path: ok states kept in memory, checkpointed
//	fastpath.go    offendsAny, and settle: the fast path's one statement
//	locked.go      the locked path: one transaction per unit
//	store.go       the locked path's SQL: alert_state rows, stored readings
//	cache.go       sensor → unit and rule caches; Invalidate
//	machine.go     the state machine of one (unit, rule)
//	effects.go     what the machines read and write in a unit's transaction
//	lifecycle.go   opening and auto-resolving; Acknowledge, Resolve, Comment
//	list.go        ListAlerts, GetAlert
//	rules.go       Rule, DefaultRules, EnsureRules, Effective
//	collections.go alert rules and escalation policies as API collections
//	checks.go      manual temperature checks: list and record
//	escalation.go  escalation policies; EscalateArgs, EscalateWorker; notifyAs
//	policy.go      notification policies, pure: ChoosePolicy, QuietWindow
//	policystore.go notification policies' SQL, recipient decisions, deferred
//	               steps (DeferredArgs), reminders (RemindArgs), resolved messages
//	sweep.go       the periodic sweep: SweepArgs, SweepWorker
//	notifier.go    the Notifier interface
//	observe.go     unit states and newest readings for observers (live updates)
//	errors.go      ErrNotFound, ValidationError, ConflictError; retryable
//	faults.go      fault injection for tests: ParseFault
//
// # Rules
//
// Rules live in alert_rules. For each rule kind (temp_high, temp_low,
// sensor_offline, battery_low, sensor_fault) the most specific level with any
// row applies to a unit (safety.Applies, the selection the dashboard and the
// HACCP report use too): the unit's own rows (unit_id set), else the
// organisation's rows for the unit's kind (unit_id NULL, unit_kind set). A
// temperature rule without a threshold follows the unit's own safe range,
// which is what the built-in defaults do, high and low. The built-in
// DefaultRules are stored as organisation rows by EnsureRules, lazily and
// idempotently, the first time an organisation needs them, because
// alerts.rule_id must reference a real row. From then on they are ordinary rows: edit them to
// change a default, disable them (enabled = false) to switch it off; a
// deleted default row comes back.
//
// # The state machine
//
// Each (unit, rule) has an alert_state row: ok → pending → alerting →
// clearing → ok (see machine). A reading violating the rule makes it pending
// (since = that reading's time). The excursion lasts until a reading that no
// longer violates it, but each reading stands for at most twice its sensor's
// reporting interval and never more than Config.MaxGap (safety.Stand): the
// clock confirms an excursion only as far as its newest reading stands, and
// silence beyond that is the offline rule's business, never an excursion.
// With several probes the unit's value is the worst live probe's
// (safety.Mixer): a probe in range never masks one out of range, and a probe
// that went quiet or reports an error code counts for nothing. Once the
// excursion lasted the rule's confirm delay, an alert opens with started_at =
// the excursion's start, so a door opening or a defrost cycle shorter than
// the delay never alerts, even when a gateway delivers it late. The excursion ends only when readings are back past
// the threshold by the hysteresis (temp_high: temp <= threshold - hysteresis)
// and stayed there for the clear delay, which is the confirm delay again;
// a reading back in the hysteresis band or beyond returns it to alerting with
// the same alert. So an excursion flapping around the threshold has one alert,
// and a new alert needs a new excursion after a full clear. When the
// excursion ends, an auto_resolve rule resolves its alert ('auto_resolved'
// event, history kept); otherwise the alert stays open until a person
// resolves it, the state returns to ok, and a new excursion while that alert
// is still open attaches to it (a 'retriggered' event records it) instead of
// opening another: alerts_one_open allows one open alert per unit and rule.
// If a person had acknowledged that alert, it is triggered again and a new
// escalation cycle notifies from step 0 (alerts.cycle; the jobs and the
// notifications' dedupe keys carry the cycle).
// When a person resolves an alert whose excursion is still going on, the
// resolution ends that excursion: the next offending reading starts a new one,
// which opens a new alert once it lasted the confirm delay.
//
// sensor_offline: a unit whose sensors have all been silent for the
// threshold (minutes; plus the confirm delay, 0 by default) alerts, with
// started_at = its last reading, on the server's wall clock. A sensor that
// never reported counts from its creation. The next reading clears it.
//
// sensor_fault: a probe's error code (safety.IsFaultCode, such as a
// disconnected LHT65 probe's 327.67 °C) is stored in sensor_faults, not in
// readings, and alerts at once; it resolves when every probe measures again.
//
// # Feeding the machine: the durable handoff
//
// Every flush of the ingest writer adds an evaluation_backlog row (each
// sensor's time range) in the transaction that stores its readings, owned
// by the process (Claim: a session advisory lock on the owner key), and
// publishes the rows to Run. Units whose rules are all ok and whose readings
// offend nothing are evaluated in memory (memory.go): only evaluated_to
// moves, and a checkpoint (Config.CheckpointInterval) stores it for every
// unit in one statement, then deletes the backlog rows it covers. Every
// other unit gets its own transaction that inserts its missing alert_state
// rows, locks them with SELECT ... FOR UPDATE in rule order, runs the
// machines and opens or resolves alerts. Several serve processes may
// evaluate the same database: the row locks serialise each unit and the
// alerts_one_open index makes a duplicate alert impossible.
//
// No committed reading escapes evaluation: a flush that did not fit in the
// in-process channel, an evaluation that failed, and the rows of a process
// that was killed or stopped before its checkpoint keep their backlog rows,
// which are read back from the database (by this process, or, once the
// owner's lock is gone, by the next one to look) and evaluated in time
// order; evaluating a reading twice changes nothing. Shutdown drains the
// channel and checkpoints. The age of the oldest backlog row is
// freshtrack_alerting_lag_seconds and /readyz's evaluation_lag_s.
//
// The sweep (SweepArgs, every 30 s via SweepPeriodicJob) handles time: confirm
// and clear delays that expire while readings still stand, offline sensors
// (with no data arriving at all), units whose stored readings no evaluator
// has seen, and escalation steps whose job was lost.
//
// All state is in the database (alert_state, alerts, evaluation_backlog,
// River jobs), so a restart neither forgets a pending excursion nor reopens
// an open alert.
//
// # Late and out-of-order readings
//
// Readings are evaluated in time order. A batch reading older than a rule's
// alert_state.evaluated_to makes that rule replay a window from the database:
// from the late reading minus twice the confirm delay, starting from the
// alert that covered that moment (or ok), over every stored reading of the
// unit in time order. A replayed excursion that an existing alert already
// covers (the alert started by the excursion's confirmation and had not ended
// before the excursion began; for an auto-resolved alert, the end is when its
// condition cleared) joins that alert: its peak and started_at may move, but
// no second alert opens for a period already covered. A replayed excursion
// that no alert covers opens one, even if it is over by now (a gateway's
// backlog can reveal an excursion that must be acted on). An open alert
// that started inside the replayed window but that the replay no longer
// confirms (late readings show the excursion was shorter than the confirm
// delay) is withdrawn: resolved with a 'withdrawn' event saying why, its
// queued notifications cancelled. A late reading that
// violates nothing, for a rule that is ok, changes nothing and is settled on
// the fast path. Readings older than Config.MaxLateness (24 h) are never
// evaluated, so historical imports do not alert.
//
// # Alert lifecycle and escalation
//
// Opening an alert writes, in one transaction: the alerts row, its
// 'triggered' event, step 0 of its escalation policy (Notifier.NotifyTx and a
// 'notified' event), one EscalateArgs River job per later step scheduled at
// opened_at + after_minutes (InsertManyTx), and an audit_log row. The policy
// is the site's, else the organisation's default, else DefaultSteps. An
// EscalateArgs job locks the alert, and only while it is still triggered and
// its escalation_step is below the job's step sends the step (and any
// earlier one not sent), bumps escalation_step and writes an 'escalated'
// event, in one transaction: acknowledged or resolved alerts escalate no
// further and no step is ever sent twice.
//
// # Notification policies
//
// A notification policy (notification_policies, semantics in migration
// 0016) replaces the escalation policy for the alerts of its scope: the most
// specific of unit+kind, unit, site+kind, site, org+kind and org wins
// (ChoosePolicy); with none, the escalation policy applies exactly as above.
// The alert records the policy and the scope that matched. Each step decides
// per contact and channel whether they are told (off_shift, no_address,
// opted_out from users.sms_opt_in/email_opt_in, quiet_hours, below_severity,
// notified) and records every decision in alert_recipient_decisions, which
// GetAlert returns as AlertDetail.Notification. Quiet hours are wall-clock
// times in the site's zone (QuietWindow); a step due in them is deferred to
// their end by a DeferredArgs job, a reminder due in them is skipped;
// critical alerts pass unless the policy says otherwise. Reminders
// (RemindArgs, one job at a time, each scheduling the next) re-notify the
// latest step while the alert is still triggered in the same cycle; an
// acknowledgement ends them. A policy with notify_on_resolve sends a
// "resolved" message to every contact and channel notified, once
// (alerts.resolved_notified_at): in the transaction of an automatic
// resolution, right after a person's (the API calls NotifyResolved), and
// from the sweep as a backstop.
//
// Acknowledge, Resolve, Comment, ListAlerts and GetAlert are the API's entry
// points. Resolving a temp_high or temp_low alert requires a corrective action
// and a disposition.
//
// # Measuring commit-to-alert latency
//
// The latency from a reading's commit to its alert row, step-0 notification
// and escalation jobs being committed is AlertOpened.Visible -
// AlertOpened.CommittedAt, reported to Hooks.AlertOpened and recorded in the
// freshtrack_alerting_commit_to_alert_seconds histogram (alerts opened by the
// live path; the sweep's have no commit time). From outside the process,
// compare the POST /v1/readings response time of the reading that completes
// the confirm delay (use a rule with confirm_seconds = 0 to make the first
// offending reading open the alert) with alerts.opened_at and the notify
// job's river_job.created_at (both written by the same transaction).
// freshtrack_alerting_evaluate_seconds is the time per evaluated batch.
package alerting
