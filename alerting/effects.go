package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// The evaluator's side of a unit's transaction: what the machines' decisions
// read and write besides opening and resolving alerts (lifecycle.go).

// txEnv carries out a unit's machine decisions inside its transaction.
type txEnv struct {
	e           *Evaluator
	ctx         context.Context
	tx          pgx.Tx
	unit        *unitInfo
	now         time.Time
	committedAt time.Time

	// states are the unit's locked rule states.
	states map[string]*ruleState
	// stored are the unit's readings read back for a replay.
	stored []sample
	// covering holds, per replayed rule, the alerts a replayed excursion
	// may belong to; joined are those a replayed excursion confirmed.
	covering map[string][]*cover
	joined   map[string]bool

	// prior caches priorValues by time.
	prior map[time.Time][]sample

	// dead caches deadProbes.
	dead map[int64]time.Time

	seenLoaded bool
	lastSeen   time.Time
	created    time.Time
	active     bool

	opened       []AlertOpened
	autoResolved int
	audits       []auditEntry
}

type cover struct {
	ref     *alertRef
	started time.Time
}

type auditEntry struct {
	action, target string
	details        map[string]any
}

// open opens the alert of an excursion. In a replay, an existing alert that
// covers the excursion (it started by the excursion's confirmation and had
// not ended before the excursion started) takes it instead: its peak and
// start may move, but no second alert opens for a period already covered.
func (env *txEnv) open(r *Rule, x excursion) (*alertRef, error) {
	if list, ok := env.covering[r.ID]; ok {
		var best *cover
		for _, c := range list {
			if !c.started.After(x.At) && (!c.ref.Resolved || c.ref.ResolvedAt.After(x.Started)) {
				if best == nil || c.started.After(best.started) {
					best = c
				}
			}
		}
		if best == nil {
			// An open alert that started later in this same excursion (its
			// first readings were evaluated after later ones: a backlog
			// read back, a gateway's delayed batch) takes it too, and moves
			// its start back to the excursion's.
			for _, c := range list {
				if !c.ref.Resolved && c.started.After(x.At) && env.continuous(r, x.Started, c.started) &&
					(best == nil || c.started.Before(best.started)) {
					best = c
				}
			}
		}
		if best != nil {
			var peak *float64
			if isTemp(r.Kind) {
				peak = nullFloat(x.Peak)
			}
			if _, err := env.tx.Exec(env.ctx, `
				UPDATE alerts SET started_at = least(started_at, $2),
				       peak_c = CASE WHEN $3::float8 IS NULL THEN peak_c
				                     WHEN kind = 'temp_high' THEN greatest(peak_c, $3) ELSE least(peak_c, $3) END
				 WHERE id = $1`, best.ref.ID, x.Started, peak); err != nil {
				return nil, fmt.Errorf("extend alert: %w", err)
			}
			if x.Started.Before(best.started) {
				best.started = x.Started
			}
			env.join(best.ref)
			return best.ref, nil
		}
	}
	ref, err := env.insertAlert(r, x)
	if err != nil {
		return nil, err
	}
	if list, ok := env.covering[r.ID]; ok {
		ref.Covers = true
		env.covering[r.ID] = append(list, &cover{ref: ref, started: x.Started})
	}
	env.join(ref)
	return ref, nil
}

func (env *txEnv) join(a *alertRef) {
	if env.joined == nil {
		env.joined = map[string]bool{}
	}
	env.joined[a.ID] = true
}

// withdrawContradicted withdraws the open alerts of a replayed rule that
// started inside the replay window (at or after from) but that the replay,
// which saw every stored reading of the window in time order, no longer
// confirms: readings that arrived late show the excursion did not last the
// confirm delay. Their queued notifications are cancelled, and a
// 'withdrawn' event says why.
func (env *txEnv) withdrawContradicted(r *Rule, from time.Time, current *alertRef) error {
	for _, c := range env.covering[r.ID] {
		a := c.ref
		if a.Resolved || c.started.Before(from) || env.joined[a.ID] || current != nil && current.ID == a.ID {
			continue
		}
		tag, err := env.tx.Exec(env.ctx, `
			UPDATE alerts SET status = 'resolved', resolved_at = $2, auto_resolved = true
			 WHERE id = $1 AND status <> 'resolved'`, a.ID, env.now)
		if err != nil {
			return fmt.Errorf("withdraw alert: %w", err)
		}
		a.Resolved, a.ResolvedAt = true, env.now
		if tag.RowsAffected() == 0 {
			continue
		}
		var cancelled int
		if err := env.tx.QueryRow(env.ctx, `
			WITH c AS (
				UPDATE notifications SET status = 'cancelled', last_error = 'alert withdrawn', updated_at = now()
				 WHERE alert_id = $1 AND status = 'queued' RETURNING 1)
			SELECT count(*) FROM c`, a.ID).Scan(&cancelled); err != nil {
			return fmt.Errorf("cancel notifications of a withdrawn alert: %w", err)
		}
		details, _ := json.Marshal(map[string]any{"rule_id": r.ID, "started_at": c.started, "cancelled_notifications": cancelled,
			"reason": "readings that arrived late show the excursion did not last the confirm delay"})
		if _, err := env.tx.Exec(env.ctx, `INSERT INTO alert_events (org_id, alert_id, at, kind, details) VALUES ($1, $2, $3, 'withdrawn', $4)`,
			env.unit.OrgID, a.ID, env.now, json.RawMessage(details)); err != nil {
			return fmt.Errorf("record withdrawn event: %w", err)
		}
		env.audits = append(env.audits, auditEntry{action: "alert.withdraw", target: a.ID, details: map[string]any{
			"started_at": c.started, "cancelled_notifications": cancelled}})
	}
	return nil
}

// continuous reports whether the replayed readings from from to to all
// keep the rule's excursion going (none clears it).
func (env *txEnv) continuous(r *Rule, from, to time.Time) bool {
	for _, s := range env.stored {
		if s.T.Before(from) {
			continue
		}
		if s.T.After(to) {
			break
		}
		if v, ok := r.value(s); ok && r.clears(v) {
			return false
		}
	}
	return true
}

// replayState returns a rule's state at from, the start of a replay window:
// attached to the alert that covered that moment, if one did, else ok. It
// also loads the alerts a replayed excursion may belong to.
func (env *txEnv) replayState(r *Rule, cur *ruleState, from time.Time) (*ruleState, error) {
	rows, err := env.tx.Query(env.ctx, `
		SELECT a.id::text, a.started_at, a.status = 'resolved',
		       coalesce((ev.details->>'cleared_at')::timestamptz, a.resolved_at)
		  FROM alerts a
		  LEFT JOIN LATERAL (
		        SELECT details FROM alert_events e
		         WHERE e.alert_id = a.id AND e.kind = 'auto_resolved' ORDER BY e.id DESC LIMIT 1) ev ON true
		 WHERE a.org_id = $4 AND a.unit_id = $1 AND a.rule_id = $2
		   AND (a.status <> 'resolved' OR coalesce((ev.details->>'cleared_at')::timestamptz, a.resolved_at) > $3)
		 ORDER BY a.started_at`, env.unit.ID, r.ID, from, env.unit.OrgID)
	if err != nil {
		return nil, fmt.Errorf("load covering alerts: %w", err)
	}
	var (
		list     []*cover
		id       string
		started  time.Time
		resolved bool
		end      *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &started, &resolved, &end}, func() error {
		c := &cover{ref: &alertRef{ID: id, Resolved: resolved, Covers: true}, started: started.UTC()}
		if resolved && end != nil {
			c.ref.ResolvedAt = end.UTC()
		}
		list = append(list, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load covering alerts: %w", err)
	}
	if env.covering == nil {
		env.covering = map[string][]*cover{}
	}
	env.covering[r.ID] = list
	st := newState()
	st.EvaluatedTo = cur.EvaluatedTo
	for _, c := range list {
		if !c.started.After(from) && (!c.ref.Resolved || c.ref.ResolvedAt.After(from)) {
			st.Phase, st.Since, st.Alert = phaseAlerting, from, c.ref
		}
	}
	return st, nil
}

// unitLastSeen returns the unit's newest reading known to the database
// (sensor_latest, sensors.last_seen_at), or, when none ever reported and
// evaluated (the rule's evaluated_to) is zero, the creation of its newest
// sensor, and whether it has an active sensor.
func (env *txEnv) unitLastSeen(evaluated time.Time) (time.Time, bool, error) {
	if !env.seenLoaded {
		var seen, created *time.Time
		err := env.tx.QueryRow(env.ctx, `
			SELECT coalesce(bool_or(s.retired_at IS NULL), false),
			       greatest(max(sl.time), max(s.last_seen_at)),
			       max(s.created_at) FILTER (WHERE s.retired_at IS NULL)
			  FROM sensors s LEFT JOIN sensor_latest sl ON sl.sensor_id = s.id
			 WHERE s.org_id = $1 AND s.unit_id = $2`, env.unit.OrgID, env.unit.ID).Scan(&env.active, &seen, &created)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("unit last seen: %w", err)
		}
		if seen != nil {
			env.lastSeen = seen.UTC()
		}
		if created != nil {
			env.created = created.UTC()
		}
		env.seenLoaded = true
	}
	if env.lastSeen.IsZero() && evaluated.IsZero() {
		return env.created, env.active, nil
	}
	return env.lastSeen, env.active, nil
}

// deadProbes returns the unit's active probes that have been silent (no
// reading and no fault) for twice the maximum gap while another probe of the
// unit reported, with their last record: a probe that died in a unit whose
// other probes go on is a sensor fault, not an offline unit. Times are the
// readings', not the wall clock's, so a late backlog fakes nothing.
func (env *txEnv) deadProbes() (map[int64]time.Time, error) {
	if env.dead != nil {
		return env.dead, nil
	}
	rows, err := env.tx.Query(env.ctx, `
		SELECT s.id, coalesce(greatest(
		         (SELECT max(time) FROM readings r WHERE r.sensor_id = s.id),
		         (SELECT max(time) FROM sensor_faults f WHERE f.sensor_id = s.id)), s.created_at)
		  FROM sensors s
		 WHERE s.org_id = $1 AND s.unit_id = $2 AND s.retired_at IS NULL`, env.unit.OrgID, env.unit.ID)
	if err != nil {
		return nil, fmt.Errorf("probes' last records: %w", err)
	}
	last := map[int64]time.Time{}
	var newest time.Time
	var (
		id int64
		t  time.Time
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &t}, func() error {
		last[id] = t.UTC()
		if t.After(newest) {
			newest = t.UTC()
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("probes' last records: %w", err)
	}
	env.dead = map[int64]time.Time{}
	for id, t := range last {
		if newest.Sub(t) >= 2*env.e.cfg.MaxGap {
			env.dead[id] = t
		}
	}
	return env.dead, nil
}

// priorValues returns, for each sensor of the unit, its two newest records
// (readings or faults) before t within twice the maximum gap, oldest first:
// enough to know whether its reading still stands at t (safety.Stand).
func (env *txEnv) priorValues(t time.Time) ([]sample, error) {
	if v, ok := env.prior[t]; ok {
		return v, nil
	}
	rows, err := env.tx.Query(env.ctx, `
		SELECT r.time, r.sensor_id, r.temp_c, r.battery, r.fault
		  FROM sensors s
		 CROSS JOIN LATERAL (
		        SELECT * FROM (
		            (SELECT time, sensor_id, temp_c, battery, false AS fault FROM readings
		              WHERE sensor_id = s.id AND time < $3 AND time >= $4
		              ORDER BY time DESC LIMIT 2)
		            UNION ALL
		            (SELECT time, sensor_id, code, NULL::real, true FROM sensor_faults
		              WHERE sensor_id = s.id AND time < $3 AND time >= $4
		              ORDER BY time DESC LIMIT 2)) x
		         ORDER BY time DESC LIMIT 2) r
		 WHERE s.org_id = $1 AND s.unit_id = $2
		 ORDER BY r.time, r.sensor_id`, env.unit.OrgID, env.unit.ID, t, t.Add(-2*env.e.cfg.MaxGap))
	if err != nil {
		return nil, fmt.Errorf("load prior readings: %w", err)
	}
	var (
		out []sample
		s   sample
		bat *float32
	)
	_, err = pgx.ForEachRow(rows, []any{&s.T, &s.Sensor, &s.TempC, &bat, &s.Fault}, func() error {
		s.T, s.Battery = s.T.UTC(), math.NaN()
		if bat != nil {
			s.Battery = float64(*bat)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load prior readings: %w", err)
	}
	if env.prior == nil {
		env.prior = map[time.Time][]sample{}
	}
	env.prior[t] = out
	return out, nil
}

// touchAlerts brings the open alerts' peak and newest value up to date.
func (env *txEnv) touchAlerts(rules []Rule, states map[string]*ruleState) error {
	for i := range rules {
		r := &rules[i]
		st := states[r.ID]
		if st.Alert == nil || st.Alert.Resolved || !st.touched || !isTemp(r.Kind) {
			continue
		}
		if _, err := env.tx.Exec(env.ctx, `
			UPDATE alerts SET
			       peak_c = CASE WHEN $2::float8 IS NULL THEN peak_c
			                     WHEN kind = 'temp_high' THEN greatest(peak_c, $2) ELSE least(peak_c, $2) END,
			       last_reading_c = coalesce($3, last_reading_c)
			 WHERE id = $1 AND status <> 'resolved'`, st.Alert.ID, nullFloat(st.Peak), nullFloat(st.last)); err != nil {
			return fmt.Errorf("update alert peak: %w", err)
		}
	}
	return nil
}

// flushAudit appends the transaction's audit entries. It runs last: the
// audit chain's per-organisation lock is then the last lock any alerting
// transaction takes, so it cannot take part in a deadlock.
func (env *txEnv) flushAudit() error {
	if len(env.audits) == 0 {
		return nil
	}
	actions := make([]string, len(env.audits))
	targets := make([]string, len(env.audits))
	details := make([]string, len(env.audits))
	for i, a := range env.audits {
		b, err := json.Marshal(a.details)
		if err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
		actions[i], targets[i], details[i] = a.action, a.target, string(b)
	}
	_, err := env.tx.Exec(env.ctx, `
		INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
		SELECT $1, 'system', a, 'alert', t, d::jsonb
		  FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS x(a, t, d, n) ORDER BY n`,
		env.unit.OrgID, actions, targets, details)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
