package alerting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// The locked path: one transaction per unit, holding its alert_state rows.

// errRulesChanged means a cached rule no longer exists.
var errRulesChanged = errors.New("alert rules changed during evaluation")

// evaluateUnits runs the locked path for each unit, Concurrency at a time.
func (e *Evaluator) evaluateUnits(ctx context.Context, list []*unitWork) error {
	if len(list) == 0 {
		return nil
	}
	e.mSlow.Add(len(list))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, e.cfg.Concurrency)
	)
	for _, w := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := e.evaluateUnit(ctx, w); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("unit %s: %w", w.unit.ID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// evaluateUnit runs one unit's transaction, retrying it when it lost a
// deadlock or serialization race against another evaluator.
func (e *Evaluator) evaluateUnit(ctx context.Context, w *unitWork) error {
	for attempt := 0; ; attempt++ {
		env, err := e.evaluateUnitTx(ctx, w)
		if errors.Is(err, errRulesChanged) && attempt < 3 {
			// A cached rule was deleted: read the rules again.
			e.Invalidate(w.unit.OrgID)
			rules, rerr := e.effectiveFor(ctx, w.unit)
			if rerr != nil {
				return rerr
			}
			w.rules = rules
			continue
		}
		if err != nil && retryable(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		e.remember(w.unit, w.rules, env.states)
		visible := time.Now()
		if h := e.cfg.Hooks.UnitState; h != nil {
			h(UnitState{OrgID: w.unit.OrgID, SiteID: w.unit.SiteID, UnitID: w.unit.ID, State: stateOf(w.rules, env.states), At: visible})
		}
		for _, o := range env.opened {
			o.Visible = visible
			e.mOpened.Inc()
			if !o.CommittedAt.IsZero() {
				e.mCommitToAlert.Update(visible.Sub(o.CommittedAt).Seconds())
			}
			e.log.Info("alert opened", "alert_id", o.AlertID, "org_id", o.OrgID, "unit_id", o.UnitID, "kind", o.Kind, "started_at", o.StartedAt)
			if h := e.cfg.Hooks.AlertOpened; h != nil {
				h(o)
			}
		}
		e.mAutoResolved.Add(env.autoResolved)
		return nil
	}
}

// evaluateUnitTx is the locked path: in one transaction it creates the
// unit's missing alert_state rows, locks them (SELECT ... FOR UPDATE, in
// rule order), runs each rule's machine over the unit's readings and the
// clock, opens / auto-resolves alerts as the machines decide, and stores
// the new states.
func (e *Evaluator) evaluateUnitTx(ctx context.Context, w *unitWork) (*txEnv, error) {
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	now := e.now()
	u := w.unit
	env := &txEnv{e: e, ctx: ctx, tx: tx, unit: u, now: now, committedAt: w.committedAt}
	ids := make([]string, len(w.rules))
	for i, r := range w.rules {
		ids[i] = r.ID
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO alert_state (org_id, unit_id, rule_id) SELECT $1, $2, unnest($3::text[])::uuid
		ON CONFLICT (unit_id, rule_id) DO NOTHING`, u.OrgID, u.ID, ids); err != nil {
		if code, _ := pgCode(err); code == "23503" {
			return nil, errRulesChanged
		}
		return nil, fmt.Errorf("create alert states: %w", err)
	}
	states, err := lockStates(ctx, tx, u.ID, ids)
	if err != nil {
		return nil, err
	}
	env.states = states
	// The memory may have evaluated newer readings than the database knows
	// (until the next checkpoint): late readings are late relative to it.
	for _, id := range ids {
		if t := e.memoryEvaluatedTo(u.ID, id); t.After(states[id].EvaluatedTo) {
			states[id].EvaluatedTo = t
		}
	}
	// Rules that no longer apply to the unit (overridden, disabled) lose
	// their state; an alert they opened stays open until a person resolves it.
	if _, err := tx.Exec(ctx, `DELETE FROM alert_state WHERE unit_id = $1 AND NOT (rule_id = ANY($2::text[]::uuid[]))`, u.ID, ids); err != nil {
		return nil, fmt.Errorf("drop stale alert states: %w", err)
	}

	horizon := now.Add(-e.cfg.MaxLateness)
	// Work out which rules replay a window from the database, and from when.
	samples := w.samples
	replayFrom := map[string]time.Time{}
	var dbFrom time.Time
	needDB := false
	switch w.mode {
	case modeBatch:
		for i := range w.rules {
			r := &w.rules[i]
			st := states[r.ID]
			if r.Kind == KindSensorOffline {
				continue
			}
			var late time.Time
			for _, s := range samples {
				if _, ok := r.value(s); ok && s.T.Before(st.EvaluatedTo) {
					late = s.T
					break // samples are in time order: the first is the oldest
				}
			}
			if late.IsZero() {
				continue
			}
			from := late.Add(-2 * r.Confirm)
			if from.Before(horizon) {
				from = horizon
			}
			replayFrom[r.ID] = from
			if !needDB || from.Before(dbFrom) {
				dbFrom = from
			}
			needDB = true
		}
	case modeCatchUp:
		// From the oldest rule's evaluated_to (a rule never evaluated: the
		// whole MaxLateness window).
		needDB, dbFrom = true, horizon
		var oldest time.Time
		all := true
		for _, st := range states {
			switch {
			case st.EvaluatedTo.IsZero():
				all = false
			case oldest.IsZero() || st.EvaluatedTo.Before(oldest):
				oldest = st.EvaluatedTo
			}
		}
		if all && oldest.After(horizon) {
			dbFrom = oldest
		}
	}
	if needDB {
		stored, err := loadSamples(ctx, tx, u, dbFrom)
		if err != nil {
			return nil, err
		}
		if len(replayFrom) > 0 {
			e.mLate.Inc()
		}
		if w.mode == modeCatchUp {
			samples = stored
		} else {
			env.stored = stored
		}
	}

	var defrost *safety.DefrostPattern
	for i := range w.rules {
		if w.rules[i].Kind == KindTempHigh {
			if defrost, err = e.defrostFor(ctx, u.ID); err != nil {
				return nil, err
			}
			break
		}
	}
	for i := range w.rules {
		r := &w.rules[i]
		st := states[r.ID]
		m := &machine{rule: r, st: st, fx: env, maxGap: e.cfg.MaxGap, now: now, defrost: defrost}
		var apply []sample
		switch from, replay := replayFrom[r.ID]; {
		case replay:
			nst, err := env.replayState(r, st, from)
			if err != nil {
				return nil, err
			}
			states[r.ID], m.st = nst, nst
			env.states = states
			k, _ := slices.BinarySearchFunc(env.stored, from, func(s sample, t time.Time) int { return s.T.Compare(t) })
			apply = env.stored[k:]
		case w.mode == modeCatchUp && r.Kind != KindSensorOffline:
			k, _ := slices.BinarySearchFunc(samples, st.EvaluatedTo, func(s sample, t time.Time) int { return s.T.Compare(t) })
			for k < len(samples) && !samples[k].T.After(st.EvaluatedTo) {
				k++ // evaluated before
			}
			apply = samples[k:]
		default:
			apply = samples
		}
		if len(apply) > 0 && r.Kind != KindSensorOffline {
			// The unit's other sensors' values just before, so that the
			// unit's value is the worst of all its sensors.
			prior, err := env.priorValues(apply[0].T)
			if err != nil {
				return nil, err
			}
			for _, p := range prior {
				m.prime(p)
			}
		}
		if r.Kind == KindSensorFault {
			dead, err := env.deadProbes()
			if err != nil {
				return nil, err
			}
			m.markDead(dead)
		}
		for _, s := range apply {
			if err := m.sample(s); err != nil {
				return nil, err
			}
		}
		lastSeen, active := w.lastSeen, true
		if r.Kind == KindSensorOffline {
			last := m.st.EvaluatedTo
			if lastSeen.After(last) {
				last = lastSeen
			}
			if last.IsZero() || now.Sub(last) >= r.silence() {
				// Possibly silent: ask the database what it knows.
				if lastSeen, active, err = env.unitLastSeen(m.st.EvaluatedTo); err != nil {
					return nil, err
				}
			}
		}
		if err := m.tick(now, lastSeen, active); err != nil {
			return nil, err
		}
		if from, replay := replayFrom[r.ID]; replay {
			if err := env.withdrawContradicted(r, from, m.st.Alert); err != nil {
				return nil, err
			}
		}
	}

	if err := env.touchAlerts(w.rules, states); err != nil {
		return nil, err
	}
	if err := storeStates(ctx, tx, u.ID, states); err != nil {
		return nil, err
	}
	if err := env.flushAudit(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return env, nil
}
