package alerting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/safety"
)

// defrostEntry is a unit's cached defrost pattern (nil: none learned).
type defrostEntry struct {
	p  *safety.DefrostPattern
	at time.Time
}

// defrostFor returns the unit's learned defrost pattern, cached for
// CacheTTL: patterns are relearned at most every few hours, and a temp_high
// machine needs one on every evaluation.
func (e *Evaluator) defrostFor(ctx context.Context, unitID string) (*safety.DefrostPattern, error) {
	wall := time.Now()
	e.mu.Lock()
	d, ok := e.defrosts[unitID]
	e.mu.Unlock()
	if ok && wall.Sub(d.at) < e.cfg.CacheTTL {
		return d.p, nil
	}
	p, err := LoadDefrostPattern(ctx, e.pool, unitID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.defrosts[unitID] = defrostEntry{p: p, at: wall}
	e.mu.Unlock()
	return p, nil
}

// ForgetDefrost drops a unit's cached defrost pattern, so a pattern learned
// or removed in this process applies at once (other processes pick it up
// within CacheTTL).
func (e *Evaluator) ForgetDefrost(unitID string) {
	e.mu.Lock()
	delete(e.defrosts, unitID)
	e.mu.Unlock()
}

// LoadDefrostPattern reads a unit's learned defrost pattern; nil when it
// has none.
func LoadDefrostPattern(ctx context.Context, db database.DB, unitID string) (*safety.DefrostPattern, error) {
	var (
		p                                        safety.DefrostPattern
		period, tolerance, duration, maxDuration int32
	)
	err := db.QueryRow(ctx, `
		SELECT period_seconds, anchor, phase_tolerance_seconds, duration_seconds, peak_c, max_peak_c, max_duration_seconds, episodes
		  FROM defrost_patterns WHERE unit_id = $1`, unitID).
		Scan(&period, &p.Anchor, &tolerance, &duration, &p.PeakC, &p.MaxPeakC, &maxDuration, &p.Episodes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load defrost pattern: %w", err)
	}
	p.Period = time.Duration(period) * time.Second
	p.PhaseTolerance = time.Duration(tolerance) * time.Second
	p.Duration = time.Duration(duration) * time.Second
	p.MaxDuration = time.Duration(maxDuration) * time.Second
	return &p, nil
}
