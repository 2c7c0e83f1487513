package insight

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/safety"
)

// persisted is a unit's insight_state.state: the detectors' state and what
// the job remembers beside it.
type persisted struct {
	Unit *Unit `json:"unit"`
	// Raised are the rules whose condition is raised, by rule id (the
	// value is the kind), so a condition is cleared once and the unit is
	// visited while one is raised.
	Raised map[string]string `json:"raised,omitempty"`
	// TickedTo is the last moment the detectors were told had passed.
	TickedTo time.Time `json:"ticked_to"`
	// HasPattern is whether defrost_patterns holds the unit's pattern.
	HasPattern bool `json:"has_pattern,omitempty"`
	// Manual are the manual cooling logs already handed to the detectors.
	Manual []time.Time `json:"manual,omitempty"`
}

// unitState is a unit's locked insight_state row.
type unitState struct {
	orgID       string
	processedTo time.Time
	doorsTo     time.Time
	st          persisted
}

// lockState creates (if need be) and locks a unit's insight_state row.
func lockState(ctx context.Context, tx pgx.Tx, orgID, unitID string) (*unitState, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO insight_state (org_id, unit_id) VALUES ($1, $2) ON CONFLICT (unit_id) DO NOTHING`, orgID, unitID); err != nil {
		return nil, fmt.Errorf("create insight state: %w", err)
	}
	var (
		processed, doors *time.Time
		raw              []byte
	)
	us := &unitState{orgID: orgID}
	if err := tx.QueryRow(ctx, `SELECT processed_to, doors_to, state FROM insight_state WHERE unit_id = $1 FOR UPDATE`, unitID).
		Scan(&processed, &doors, &raw); err != nil {
		return nil, fmt.Errorf("lock insight state: %w", err)
	}
	if processed != nil {
		us.processedTo = processed.UTC()
	}
	if doors != nil {
		us.doorsTo = doors.UTC()
	}
	if len(raw) > 2 {
		if err := json.Unmarshal(raw, &us.st); err != nil {
			// A state an older version wrote and this one cannot read: start
			// over from the unit's recent history rather than stop its checks.
			us.st, us.processedTo = persisted{}, time.Time{}
		}
	}
	if us.st.Unit == nil {
		us.st.Unit = NewUnit()
	}
	if us.st.Raised == nil {
		us.st.Raised = map[string]string{}
	}
	return us, nil
}

func saveState(ctx context.Context, tx pgx.Tx, unitID string, us *unitState, busy bool) error {
	raw, err := json.Marshal(us.st)
	if err != nil {
		return fmt.Errorf("encode insight state: %w", err)
	}
	_, err = tx.Exec(ctx, `
		UPDATE insight_state SET processed_to = $2, doors_to = $3, busy = $4, state = $5, updated_at = now()
		 WHERE unit_id = $1`, unitID, nullTime(us.processedTo), nullTime(us.doorsTo), busy, json.RawMessage(raw))
	if err != nil {
		return fmt.Errorf("save insight state: %w", err)
	}
	return nil
}

// reading is one stored reading or probe fault of a unit.
type reading struct {
	t      time.Time
	sensor int64
	c      float64
	fault  bool
}

// loadReadings reads a unit's readings and probe faults after from, oldest
// first, at most limit of them.
func loadReadings(ctx context.Context, tx pgx.Tx, orgID, unitID string, from time.Time, limit int) ([]reading, error) {
	rows, err := tx.Query(ctx, `
		WITH s AS (SELECT id FROM sensors WHERE org_id = $1 AND unit_id = $2)
		SELECT * FROM (
			SELECT r.time, r.sensor_id, r.temp_c, false AS fault
			  FROM readings r
			 WHERE r.sensor_id = ANY(ARRAY(SELECT id FROM s)) AND r.time > $3
			UNION ALL
			SELECT f.time, f.sensor_id, f.code, true
			  FROM sensor_faults f
			 WHERE f.sensor_id = ANY(ARRAY(SELECT id FROM s)) AND f.time > $3) x
		 ORDER BY time, sensor_id
		 LIMIT $4`, orgID, unitID, from, limit)
	if err != nil {
		return nil, fmt.Errorf("load readings: %w", err)
	}
	var (
		out []reading
		r   reading
	)
	_, err = pgx.ForEachRow(rows, []any{&r.t, &r.sensor, &r.c, &r.fault}, func() error {
		r.t = r.t.UTC()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load readings: %w", err)
	}
	return out, nil
}

// loadDoors reads the door states of a unit's sensors after from, oldest first.
func loadDoors(ctx context.Context, tx pgx.Tx, orgID, unitID string, from time.Time) ([]DoorState, error) {
	rows, err := tx.Query(ctx, `
		SELECT d.at, d.open, d.sensor_id FROM door_events d
		  JOIN sensors s ON s.org_id = d.org_id AND s.id = d.sensor_id
		 WHERE s.org_id = $1 AND s.unit_id = $2 AND d.at > $3
		 ORDER BY d.at, d.sensor_id
		 LIMIT 10000`, orgID, unitID, from)
	if err != nil {
		return nil, fmt.Errorf("load door states: %w", err)
	}
	var (
		out []DoorState
		d   DoorState
	)
	_, err = pgx.ForEachRow(rows, []any{&d.T, &d.Open, &d.Sensor}, func() error {
		d.T = d.T.UTC()
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load door states: %w", err)
	}
	return out, nil
}

// manualCooling returns the starts of the unit's running manual cooling logs.
func manualCooling(ctx context.Context, tx pgx.Tx, unitID string) ([]time.Time, error) {
	rows, err := tx.Query(ctx, `SELECT started_at FROM cooling_logs WHERE unit_id = $1 AND source = 'manual' AND status = 'running' ORDER BY started_at`, unitID)
	if err != nil {
		return nil, fmt.Errorf("load cooling logs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var t time.Time
		err := r.Scan(&t)
		return t.UTC(), err
	})
	if err != nil {
		return nil, fmt.Errorf("load cooling logs: %w", err)
	}
	return out, nil
}

// saveEpisodes records what the detectors recognised (unit_events).
func saveEpisodes(ctx context.Context, tx pgx.Tx, orgID, unitID string, list []Episode) error {
	for _, e := range list {
		details, err := json.Marshal(orEmpty(e.Details))
		if err != nil {
			return fmt.Errorf("encode episode: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO unit_events (org_id, unit_id, kind, source, started_at, ended_at, peak_c, within_bounds, details)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (unit_id, kind, started_at) DO UPDATE
			   SET source = excluded.source, ended_at = excluded.ended_at, peak_c = excluded.peak_c,
			       within_bounds = excluded.within_bounds, details = excluded.details, updated_at = now()`,
			orgID, unitID, e.Kind, e.Source, e.Started, nullTime(e.Ended), nullFloat(e.PeakC), e.WithinBounds,
			json.RawMessage(details)); err != nil {
			return fmt.Errorf("record %s: %w", e.Kind, err)
		}
	}
	return nil
}

// saveCooling records cooling cycles as they develop. A log a person
// cancelled stays cancelled.
func saveCooling(ctx context.Context, tx pgx.Tx, orgID, unitID string, list []CoolingCycle) error {
	for _, c := range list {
		var failed *int
		if c.Status == "failed" && c.FailedStage > 0 {
			failed = &c.FailedStage
		}
		status := c.Status
		if status == "failed" && failed == nil {
			status = "running" // a failure needs its stage; keep it running until the detector says which
		}
		ended := nullTime(c.Ended)
		if status == "running" {
			ended = nil
		} else if ended == nil {
			t := c.Started
			for _, x := range []time.Time{c.Stage1At, c.Stage2At, c.Stage1Deadline, c.Stage2Deadline} {
				if !x.IsZero() && x.After(t) && (status != "passed" || x.Equal(c.Stage2At)) {
					t = x
				}
			}
			ended = &t
		}
		// A person's running log of the unit is the record while it runs: a
		// cycle detected meanwhile is not stored beside it.
		if _, err := tx.Exec(ctx, `
			INSERT INTO cooling_logs (org_id, unit_id, source, started_at, start_c, stage1_deadline, stage1_at,
			                          stage2_deadline, stage2_at, status, failed_stage, ended_at, last_c)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
			 WHERE NOT EXISTS (SELECT 1 FROM cooling_logs WHERE unit_id = $2 AND status = 'running' AND started_at <> $4)
			ON CONFLICT (unit_id, started_at) DO UPDATE
			   SET stage1_at = excluded.stage1_at, stage2_at = excluded.stage2_at, status = excluded.status,
			       failed_stage = excluded.failed_stage, ended_at = excluded.ended_at, last_c = excluded.last_c,
			       start_c = coalesce(cooling_logs.start_c, excluded.start_c), updated_at = now()
			 WHERE cooling_logs.status = 'running'`,
			orgID, unitID, orDetected(c.Source), c.Started, nullFloat(c.StartC), c.Stage1Deadline, nullTime(c.Stage1At),
			c.Stage2Deadline, nullTime(c.Stage2At), status, failed, ended, nullFloat(c.LastC)); err != nil {
			return fmt.Errorf("record cooling log: %w", err)
		}
	}
	return nil
}

// savePattern stores the unit's learned defrost pattern, or removes it when
// it has none (the defrost rule was switched off).
func savePattern(ctx context.Context, tx pgx.Tx, orgID, unitID string, p *safety.DefrostPattern) error {
	if p == nil {
		_, err := tx.Exec(ctx, `DELETE FROM defrost_patterns WHERE unit_id = $1`, unitID)
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO defrost_patterns (unit_id, org_id, period_seconds, anchor, phase_tolerance_seconds, duration_seconds,
		                              peak_c, max_peak_c, max_duration_seconds, episodes, learned_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
		ON CONFLICT (unit_id) DO UPDATE
		   SET period_seconds = excluded.period_seconds, anchor = excluded.anchor,
		       phase_tolerance_seconds = excluded.phase_tolerance_seconds, duration_seconds = excluded.duration_seconds,
		       peak_c = excluded.peak_c, max_peak_c = excluded.max_peak_c,
		       max_duration_seconds = excluded.max_duration_seconds, episodes = excluded.episodes, learned_at = now()`,
		unitID, orgID, seconds(p.Period), p.Anchor, seconds(p.PhaseTolerance), max(seconds(p.Duration), 1),
		p.PeakC, p.MaxPeakC, max(seconds(p.MaxDuration), 1), max(p.Episodes, 1))
	if err != nil {
		return fmt.Errorf("record defrost pattern: %w", err)
	}
	return nil
}

func seconds(d time.Duration) int32 { return int32(d / time.Second) }

func orDetected(s string) string {
	if s == "" {
		return "detected"
	}
	return s
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullFloat(v float64) *float64 {
	if v != v { // NaN
		return nil
	}
	return &v
}
