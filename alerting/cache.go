package alerting

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Caches of sensor → unit assignments and of organisations' rules.

// unitInfo is what the evaluator knows of a unit.
type unitInfo struct {
	ID, OrgID, SiteID, Kind, Name, SiteName string
	SafeMinC, SafeMaxC                      float64
}

type sensorEntry struct {
	unit *unitInfo // nil: not assigned to a unit
	at   time.Time
}

type orgEntry struct {
	rules []Rule
	at    time.Time
	// effective caches Effective per unit ("unit id/unit kind").
	effective map[string][]Rule
}

// Invalidate forgets the cached rules and sensor assignments of an
// organisation, so changes made through the API apply at once in this
// process (other processes pick them up within CacheTTL).
func (e *Evaluator) Invalidate(orgID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.orgs, orgID)
	for id, s := range e.sensors {
		if s.unit == nil || s.unit.OrgID == orgID {
			delete(e.sensors, id)
		}
	}
	e.mu.Unlock()
	e.forgetMemory(orgID)
	e.mu.Lock()
}

// resolveSensors maps sensor keys to their units, from the cache or with
// one query for the misses. Unassigned sensors map to nil.
func (e *Evaluator) resolveSensors(ctx context.Context, ids []int64) (map[int64]*unitInfo, error) {
	out := make(map[int64]*unitInfo, 8)
	var missing []int64
	wall := time.Now()
	e.mu.Lock()
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		s, ok := e.sensors[id]
		if ok && wall.Sub(s.at) < e.cfg.CacheTTL {
			out[id] = s.unit
			continue
		}
		out[id] = nil
		missing = append(missing, id)
	}
	e.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := e.pool.Query(ctx, `
		SELECT s.id, coalesce(u.id::text, ''), coalesce(u.org_id::text, ''), coalesce(u.site_id::text, ''),
		       coalesce(u.kind, ''), coalesce(u.name, ''), coalesce(si.name, ''),
		       coalesce(u.safe_min_c, 'NaN'), coalesce(u.safe_max_c, 'NaN')
		  FROM sensors s
		  LEFT JOIN units u ON u.org_id = s.org_id AND u.id = s.unit_id
		  LEFT JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		 WHERE s.id = ANY($1)`, missing)
	if err != nil {
		return nil, fmt.Errorf("resolve sensors: %w", err)
	}
	var (
		id int64
		ui unitInfo
	)
	units := map[string]*unitInfo{}
	found := map[int64]*unitInfo{}
	_, err = pgx.ForEachRow(rows, []any{&id, &ui.ID, &ui.OrgID, &ui.SiteID, &ui.Kind, &ui.Name, &ui.SiteName, &ui.SafeMinC, &ui.SafeMaxC}, func() error {
		if ui.ID == "" {
			found[id] = nil
			return nil
		}
		u := units[ui.ID]
		if u == nil {
			u = &unitInfo{}
			*u = ui
			units[ui.ID] = u
		}
		found[id] = u
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve sensors: %w", err)
	}
	e.mu.Lock()
	for _, id := range missing {
		u := found[id]
		e.sensors[id] = sensorEntry{unit: u, at: wall}
		out[id] = u
	}
	e.mu.Unlock()
	return out, nil
}

// rulesFor returns an organisation's rules, cached, storing the built-in
// defaults first when some are missing.
func (e *Evaluator) rulesFor(ctx context.Context, orgID string) ([]Rule, error) {
	wall := time.Now()
	e.mu.Lock()
	o, ok := e.orgs[orgID]
	e.mu.Unlock()
	if ok && wall.Sub(o.at) < e.cfg.CacheTTL {
		return o.rules, nil
	}
	rules, err := LoadRules(ctx, e.pool, orgID)
	if err != nil {
		return nil, err
	}
	if missingDefaults(rules) {
		if _, err := EnsureRules(ctx, e.pool, orgID); err != nil {
			return nil, err
		}
		if rules, err = LoadRules(ctx, e.pool, orgID); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	e.orgs[orgID] = &orgEntry{rules: rules, at: wall, effective: map[string][]Rule{}}
	e.mu.Unlock()
	return rules, nil
}

// effectiveFor returns the rules that apply to a unit (see Effective),
// cached with its organisation's rules. The slice is shared: read only.
func (e *Evaluator) effectiveFor(ctx context.Context, u *unitInfo) ([]Rule, error) {
	key := fmt.Sprintf("%s/%s/%g/%g", u.ID, u.Kind, u.SafeMinC, u.SafeMaxC)
	for range 2 {
		wall := time.Now()
		e.mu.Lock()
		if o, ok := e.orgs[u.OrgID]; ok && wall.Sub(o.at) < e.cfg.CacheTTL {
			r, ok := o.effective[key]
			if !ok {
				r = evaluated(Effective(o.rules, u.scope()))
				o.effective[key] = r
			}
			e.mu.Unlock()
			return r, nil
		}
		e.mu.Unlock()
		if _, err := e.rulesFor(ctx, u.OrgID); err != nil {
			return nil, err
		}
	}
	rules, err := e.rulesFor(ctx, u.OrgID)
	if err != nil {
		return nil, err
	}
	return evaluated(Effective(rules, u.scope())), nil
}

// evaluated keeps the rules whose state machine the evaluator runs.
func evaluated(rules []Rule) []Rule {
	return slices.DeleteFunc(rules, func(r Rule) bool { return !Evaluated(r.Kind) })
}

func (u *unitInfo) scope() UnitScope {
	return UnitScope{ID: u.ID, Kind: u.Kind, SafeMinC: u.SafeMinC, SafeMaxC: u.SafeMaxC}
}
