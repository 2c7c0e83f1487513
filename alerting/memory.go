package alerting

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The evaluator keeps each unit's rule states in memory while they are ok,
// so that readings that change nothing (the vast majority: a fleet of units
// in range) cost no database work when they are evaluated: only evaluated_to
// moves on, in memory, and a checkpoint stores it for every unit at once, a
// few times a minute rather than once per batch. Anything else (an
// offending reading, a state that is not ok, a unit not known yet) takes
// the locked path, whose transaction reads and writes the database state
// and then refreshes the memory. Losing the memory loses nothing: the
// readings it covers stay in evaluation_backlog until a checkpoint stored
// their state, and are evaluated again after a crash.

// memRule is one (unit, rule) state as the evaluator last knew it.
type memRule struct {
	// ok is whether the state is ok (only ok states are kept in memory).
	ok bool
	// evaluatedTo is the newest reading evaluated; stored is the
	// evaluated_to the database has.
	evaluatedTo, stored time.Time
}

// memUnit is a unit's rule states.
type memUnit struct {
	unit  *unitInfo
	rules map[string]*memRule
}

// fastEligible reports whether a unit's readings can be evaluated in memory:
// every rule's state is known and ok and no reading offends any rule. It is
// called with e.memMu held.
func (e *Evaluator) fastEligible(w *unitWork) bool {
	m := e.mem[w.unit.ID]
	if m == nil || w.offends {
		return false
	}
	for i := range w.rules {
		if r := m.rules[w.rules[i].ID]; r == nil || !r.ok {
			return false
		}
	}
	return true
}

// evaluateInMemory moves the evaluated_to of units whose readings change
// nothing, and returns the units that need the locked path.
func (e *Evaluator) evaluateInMemory(ctx context.Context, work []*unitWork) ([]*unitWork, error) {
	var unknown []string
	e.memMu.Lock()
	for _, w := range work {
		if e.mem[w.unit.ID] == nil && !w.offends {
			unknown = append(unknown, w.unit.ID)
		}
	}
	e.memMu.Unlock()
	if len(unknown) > 0 {
		if err := e.loadMemory(ctx, unknown, work); err != nil {
			return nil, err
		}
	}
	var slow []*unitWork
	e.memMu.Lock()
	defer e.memMu.Unlock()
	for _, w := range work {
		if !e.fastEligible(w) {
			slow = append(slow, w)
			continue
		}
		m := e.mem[w.unit.ID]
		m.unit = w.unit
		newest := w.samples[len(w.samples)-1].T
		for i := range w.rules {
			r := m.rules[w.rules[i].ID]
			if newest.After(r.evaluatedTo) {
				r.evaluatedTo = newest
				e.dirty[w.unit.ID] = struct{}{}
			}
		}
	}
	return slow, nil
}

// loadMemory reads the alert_state rows of units the memory does not know.
// A unit some of whose rules have no state row yet stays unknown: the
// locked path creates the rows.
func (e *Evaluator) loadMemory(ctx context.Context, unitIDs []string, work []*unitWork) error {
	rows, err := e.pool.Query(ctx, `
		SELECT unit_id::text, rule_id::text, state = 'ok', evaluated_to
		  FROM alert_state WHERE unit_id = ANY($1::text[]::uuid[])`, unitIDs)
	if err != nil {
		return fmt.Errorf("load alert states: %w", err)
	}
	loaded := map[string]map[string]*memRule{}
	var (
		unitID, ruleID string
		ok             bool
		evaluated      *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&unitID, &ruleID, &ok, &evaluated}, func() error {
		m := loaded[unitID]
		if m == nil {
			m = map[string]*memRule{}
			loaded[unitID] = m
		}
		r := &memRule{ok: ok}
		if evaluated != nil {
			r.evaluatedTo, r.stored = evaluated.UTC(), evaluated.UTC()
		}
		m[ruleID] = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("load alert states: %w", err)
	}
	e.memMu.Lock()
	defer e.memMu.Unlock()
	for _, w := range work {
		m := loaded[w.unit.ID]
		if m == nil || e.mem[w.unit.ID] != nil {
			continue
		}
		complete := true
		for i := range w.rules {
			if m[w.rules[i].ID] == nil {
				complete = false
			}
		}
		if complete {
			e.mem[w.unit.ID] = &memUnit{unit: w.unit, rules: m}
		}
	}
	return nil
}

// remember records the states a locked transaction committed.
func (e *Evaluator) remember(u *unitInfo, rules []Rule, states map[string]*ruleState) {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	m := &memUnit{unit: u, rules: make(map[string]*memRule, len(rules))}
	for i := range rules {
		st := states[rules[i].ID]
		if st == nil {
			continue
		}
		m.rules[rules[i].ID] = &memRule{ok: st.Phase == phaseOK, evaluatedTo: st.EvaluatedTo, stored: st.EvaluatedTo}
	}
	e.mem[u.ID] = m
	delete(e.dirty, u.ID)
}

// memoryEvaluatedTo returns the evaluated_to the memory has for a unit's
// rule, which may be newer than the database's until the next checkpoint.
func (e *Evaluator) memoryEvaluatedTo(unitID, ruleID string) time.Time {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	if m := e.mem[unitID]; m != nil {
		if r := m.rules[ruleID]; r != nil {
			return r.evaluatedTo
		}
	}
	return time.Time{}
}

// forgetMemory drops what the memory knows of an organisation's units
// (their rules changed) or of every unit (orgID empty).
func (e *Evaluator) forgetMemory(orgID string) {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	for id, m := range e.mem {
		if orgID == "" || m.unit == nil || m.unit.OrgID == orgID {
			delete(e.mem, id)
			delete(e.dirty, id)
		}
	}
}

// storeMemory is the checkpoint's first half: it stores the evaluated_to of
// every unit the memory moved on, in one statement per chunk of units (see
// settle), and returns the units whose stored state turned out not to be ok
// (another process, or the sweep, moved it on): they are forgotten and must
// be caught up from the database.
func (e *Evaluator) storeMemory(ctx context.Context) ([]*unitWork, error) {
	type pair struct {
		unit, rule string
		t          time.Time
	}
	var pairs []pair
	e.memMu.Lock()
	units := make(map[string]*unitInfo, len(e.dirty))
	for id := range e.dirty {
		m := e.mem[id]
		if m == nil {
			continue
		}
		units[id] = m.unit
		for ruleID, r := range m.rules {
			if r.evaluatedTo.After(r.stored) {
				pairs = append(pairs, pair{id, ruleID, r.evaluatedTo})
			}
		}
	}
	clear(e.dirty)
	e.memMu.Unlock()
	if len(pairs) == 0 {
		return nil, nil
	}
	us, rs := make([]string, len(pairs)), make([]string, len(pairs))
	ts := make([]time.Time, len(pairs))
	for i, p := range pairs {
		us[i], rs[i], ts[i] = p.unit, p.rule, p.t
	}
	settled, err := e.settle(ctx, us, rs, ts)
	if err != nil {
		// Nothing was stored: mark them dirty again for the next checkpoint.
		e.memMu.Lock()
		for id := range units {
			e.dirty[id] = struct{}{}
		}
		e.memMu.Unlock()
		return nil, err
	}
	stale := map[string]bool{}
	e.memMu.Lock()
	for _, p := range pairs {
		if !settled[[2]string{p.unit, p.rule}] {
			stale[p.unit] = true
			continue
		}
		if m := e.mem[p.unit]; m != nil {
			if r := m.rules[p.rule]; r != nil && p.t.After(r.stored) {
				r.stored = p.t
			}
		}
	}
	var catchUp []*unitWork
	for id := range stale {
		delete(e.mem, id)
		delete(e.dirty, id)
		if u := units[id]; u != nil {
			catchUp = append(catchUp, &unitWork{unit: u, mode: modeCatchUp})
		}
	}
	e.memMu.Unlock()
	return catchUp, nil
}
