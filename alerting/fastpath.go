package alerting

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The fast path's test (offendsAny) and its one statement (settle); the
// in-memory states it moves on are in memory.go.

// offendsAny reports whether any reading violates any (non-offline) rule.
func offendsAny(rules []Rule, samples []sample) bool {
	for i := range rules {
		r := &rules[i]
		if r.Kind == KindSensorOffline {
			continue
		}
		for _, s := range samples {
			if v, ok := r.value(s); ok && r.offending(v) {
				return true
			}
		}
	}
	return false
}

// settle stores the evaluated_to the memory moved on for (unit, rule) pairs
// whose state is ok (a reading that offends nothing, late or not, cannot
// change an ok state). One statement bumps them all; pairs not returned
// (the state is no longer ok, or gone) must be caught up. Rows are locked in
// (unit, rule) order, the order every evaluator transaction locks in.
func (e *Evaluator) settle(ctx context.Context, units, rules []string, times []time.Time) (map[[2]string]bool, error) {
	const q = `
		WITH v AS (
			SELECT u::uuid AS unit_id, r::uuid AS rule_id, t
			  FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v(u, r, t)),
		l AS (
			SELECT s.unit_id, s.rule_id, v.t FROM alert_state s
			  JOIN v ON s.unit_id = v.unit_id AND s.rule_id = v.rule_id
			 WHERE s.state = 'ok'
			 ORDER BY s.unit_id, s.rule_id
			   FOR UPDATE OF s)
		UPDATE alert_state s SET evaluated_to = greatest(s.evaluated_to, l.t), updated_at = now()
		  FROM l WHERE s.unit_id = l.unit_id AND s.rule_id = l.rule_id
		RETURNING s.unit_id::text, s.rule_id::text`
	for attempt := 0; ; attempt++ {
		rows, err := e.pool.Query(ctx, q, units, rules, times)
		if err != nil {
			return nil, fmt.Errorf("settle alert states: %w", err)
		}
		settled := make(map[[2]string]bool, len(units))
		var u, r string
		_, err = pgx.ForEachRow(rows, []any{&u, &r}, func() error {
			settled[[2]string{u, r}] = true
			return nil
		})
		if err != nil && retryable(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("settle alert states: %w", err)
		}
		return settled, nil
	}
}
