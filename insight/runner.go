package insight

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/safety"
)

// Config tunes the Runner.
type Config struct {
	// Backfill is how much history a unit's detectors read the first time
	// they see it (7 days: enough for a freezer's defrost pattern to be
	// learned at once).
	Backfill time.Duration
	// Quiet: a condition that began longer ago than this when it was
	// recognised (history read on the first visit, a backlog) is recorded,
	// but raises no alert: nobody can act on last week's door opening.
	Quiet time.Duration
	// MaxUnits bounds the units one run visits; the rest wait for the next
	// run, the longest-waiting first.
	MaxUnits int
	// MaxReadings bounds the readings read for one unit in one run; a unit
	// with more continues in the next run.
	MaxReadings int
	// Concurrency is how many units are visited at once.
	Concurrency int
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Backfill = cmp.Or(c.Backfill, 7*24*time.Hour)
	c.Quiet = cmp.Or(c.Quiet, time.Hour)
	c.MaxUnits = cmp.Or(c.MaxUnits, 5000)
	c.MaxReadings = cmp.Or(c.MaxReadings, 100_000)
	c.Concurrency = cmp.Or(c.Concurrency, 2)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Runner visits units and runs their food-safety detectors over what
// happened since the last visit.
type Runner struct {
	db   database.DB
	eval *alerting.Evaluator
	cfg  Config

	mUnits, mRaised, mCleared, mErrors *metrics.Counter
}

// NewRunner returns a Runner on db whose alerts go through eval (for its
// notifier, escalation policies and hooks).
func NewRunner(db database.DB, eval *alerting.Evaluator, cfg Config) *Runner {
	return &Runner{db: db, eval: eval, cfg: cfg.WithDefaults(),
		mUnits:   metrics.GetOrCreateCounter(`freshtrack_insight_units_total`),
		mRaised:  metrics.GetOrCreateCounter(`freshtrack_insight_signals_total{op="raise"}`),
		mCleared: metrics.GetOrCreateCounter(`freshtrack_insight_signals_total{op="clear"}`),
		mErrors:  metrics.GetOrCreateCounter(`freshtrack_insight_errors_total`),
	}
}

// Result says what a run did.
type Result struct {
	Units, Raised, Cleared int
}

// Run visits every unit that needs it: new readings or door states since
// its last visit, something in progress (a raised condition, an open door,
// a running cooling log), a manual cooling log a person started, a manual
// check or a calibration that may be due.
func (r *Runner) Run(ctx context.Context) (Result, error) {
	now := r.cfg.Now()
	rows, err := r.db.Query(ctx, `
		SELECT u.id::text, u.org_id::text
		  FROM units u
		  JOIN organizations o ON o.id = u.org_id AND o.deleted_at IS NULL
		  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		  LEFT JOIN insight_state st ON st.unit_id = u.id
		 WHERE st.busy
		    OR EXISTS (SELECT 1 FROM sensors s JOIN sensor_latest l ON l.sensor_id = s.id
		                WHERE s.org_id = u.org_id AND s.unit_id = u.id AND l.time > coalesce(st.processed_to, '-infinity'))
		    OR EXISTS (SELECT 1 FROM sensors s JOIN door_events d ON d.sensor_id = s.id
		                WHERE s.org_id = u.org_id AND s.unit_id = u.id AND d.at > coalesce(st.doors_to, '-infinity'))
		    OR EXISTS (SELECT 1 FROM cooling_logs c WHERE c.unit_id = u.id AND c.status = 'running' AND c.source = 'manual')
		    OR (si.manual_log_cadence_minutes IS NOT NULL
		        AND coalesce((SELECT max(checked_at) FROM manual_checks m WHERE m.org_id = u.org_id AND m.unit_id = u.id), u.created_at)
		            + make_interval(mins => si.manual_log_cadence_minutes) <= $1)
		    OR EXISTS (SELECT 1 FROM sensors s
		                 JOIN LATERAL (SELECT due_at FROM sensor_calibrations c WHERE c.org_id = s.org_id AND c.sensor_id = s.id
		                                ORDER BY calibrated_at DESC LIMIT 1) c ON true
		                WHERE s.org_id = u.org_id AND s.unit_id = u.id AND s.retired_at IS NULL AND c.due_at <= $1 + interval '90 days')
		    OR EXISTS (SELECT 1 FROM alerts a WHERE a.unit_id = u.id AND a.status <> 'resolved'
		                AND a.kind IN ('manual_log_missed', 'calibration_due'))
		 ORDER BY st.updated_at NULLS FIRST, u.id
		 LIMIT $2`, now, r.cfg.MaxUnits)
	if err != nil {
		return Result{}, fmt.Errorf("insight: find units: %w", err)
	}
	type target struct{ unit, org string }
	var list []target
	var t target
	if _, err := pgx.ForEachRow(rows, []any{&t.unit, &t.org}, func() error { list = append(list, t); return nil }); err != nil {
		return Result{}, fmt.Errorf("insight: find units: %w", err)
	}
	var (
		mu   sync.Mutex
		res  Result
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.cfg.Concurrency)
	)
	for _, t := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ur, err := r.visit(ctx, t.org, t.unit)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.mErrors.Inc()
				errs = append(errs, fmt.Errorf("unit %s: %w", t.unit, err))
				return
			}
			res.Units++
			res.Raised += ur.Raised
			res.Cleared += ur.Cleared
		}()
	}
	wg.Wait()
	r.mUnits.Add(res.Units)
	return res, errors.Join(errs...)
}

// RunUnit visits one unit now.
func (r *Runner) RunUnit(ctx context.Context, orgID, unitID string) (Result, error) {
	return r.visit(ctx, orgID, unitID)
}

// visit runs a unit's detectors over what happened since its last visit,
// in one transaction holding its insight_state row: the detectors' state,
// what they recorded and the alerts they raised or cleared commit together,
// so a crash repeats a visit instead of losing or doubling its effects.
func (r *Runner) visit(ctx context.Context, orgID, unitID string) (Result, error) {
	var (
		res            Result
		opened         []alerting.AlertOpened
		patternChanged bool
	)
	err := pgx.BeginFunc(ctx, r.db, func(tx pgx.Tx) error {
		res, opened, patternChanged = Result{Units: 1}, nil, false
		now := r.cfg.Now().UTC()
		us, err := lockState(ctx, tx, orgID, unitID)
		if err != nil {
			return err
		}
		var (
			kind, zoneName     string
			safeMinC, safeMaxC float64
		)
		err = tx.QueryRow(ctx, `
			SELECT u.kind, u.safe_min_c, u.safe_max_c, si.timezone
			  FROM units u JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
			 WHERE u.org_id = $1 AND u.id = $2`, orgID, unitID).Scan(&kind, &safeMinC, &safeMaxC, &zoneName)
		if err != nil {
			return fmt.Errorf("load unit: %w", err)
		}
		zone, err := time.LoadLocation(zoneName)
		if err != nil {
			zone = time.UTC
		}
		rules, err := alerting.EffectiveRules(ctx, tx, orgID, unitID)
		if err != nil {
			return err
		}
		ur := rulesFor(kind, safeMinC, safeMaxC, zone, rules)
		p := ur.params
		u := us.st.Unit

		from := us.processedTo
		if from.IsZero() {
			from = now.Add(-r.cfg.Backfill)
		}
		// Probes' readings from a little before, so the unit's value at
		// the first new reading knows every probe (safety.Mixer).
		readings, err := loadReadings(ctx, tx, orgID, unitID, from.Add(-2*safety.DefaultMaxGap), r.cfg.MaxReadings)
		if err != nil {
			return err
		}
		doorsFrom := us.doorsTo
		if doorsFrom.IsZero() {
			doorsFrom = now.Add(-r.cfg.Backfill)
		}
		doors, err := loadDoors(ctx, tx, orgID, unitID, doorsFrom)
		if err != nil {
			return err
		}
		manual, err := manualCooling(ctx, tx, unitID)
		if err != nil {
			return err
		}

		var out Output
		r.feed(u, p, us, readings, doors, manual, from, now, &out)

		if err := saveEpisodes(ctx, tx, orgID, unitID, out.Episodes); err != nil {
			return err
		}
		if err := saveCooling(ctx, tx, orgID, unitID, out.Cooling); err != nil {
			return err
		}
		pattern := out.Defrost
		if p.Defrost == nil {
			pattern = nil // the rule was switched off: the evaluator must not use it
		}
		if (pattern != nil) != us.st.HasPattern || pattern != nil && out.PatternChanged {
			if err := savePattern(ctx, tx, orgID, unitID, pattern); err != nil {
				return err
			}
			us.st.HasPattern, patternChanged = pattern != nil, true
		}
		duties, err := checkDuties(ctx, tx, orgID, unitID, &ur, now)
		if err != nil {
			return err
		}
		out.Signals = append(out.Signals, duties...)

		// Alerts last: their audit entries take the organisation's audit
		// lock, which must be the last lock the transaction takes.
		for _, s := range out.Signals {
			o, raised, cleared, err := r.apply(ctx, tx, unitID, &ur, us, s, now)
			if err != nil {
				return err
			}
			if raised {
				opened = append(opened, o)
				res.Raised++
			}
			if cleared {
				res.Cleared++
			}
		}
		// The detectors know what time alone may change (a door open, a
		// cooling log running, a condition raised); the duties are the job's.
		busy := len(us.st.Raised) > 0 || u.Busy()
		return saveState(ctx, tx, unitID, us, busy)
	})
	if err != nil {
		return Result{}, err
	}
	if patternChanged {
		r.eval.ForgetDefrost(unitID)
	}
	r.eval.Opened(opened...)
	r.mRaised.Add(res.Raised)
	r.mCleared.Add(res.Cleared)
	return res, nil
}

// feed hands the detectors the readings, door states and manual cooling
// starts after from, in time order, and the passing of time minute by
// minute up to now, as `freshtrack eval alerts` does (eval.Detect): a visit
// that reads an hour of backlog sees the same as sixty visits a minute
// apart.
func (r *Runner) feed(u *Unit, p *Params, us *unitState, readings []reading, doors []DoorState, manual []time.Time, from, now time.Time, out *Output) {
	mix := safety.NewMixer(safety.DefaultMaxGap)
	starts := slices.DeleteFunc(slices.Clone(manual), func(t time.Time) bool {
		return slices.ContainsFunc(us.st.Manual, t.Equal)
	})
	// Readings up to from are the mixer's context only: seen on an
	// earlier visit.
	ri := 0
	for ; ri < len(readings) && !readings[ri].t.After(from); ri++ {
		rd := readings[ri]
		if rd.fault {
			mix.Fault(rd.sensor, rd.t)
		} else {
			mix.Observe(rd.sensor, rd.t, rd.c)
		}
	}
	first := now
	if ri < len(readings) {
		first = readings[ri].t
	}
	if len(doors) > 0 && doors[0].T.Before(first) {
		first = doors[0].T
	}
	di := 0
	last := now
	if len(readings) == r.cfg.MaxReadings && len(readings) > 0 {
		last = readings[len(readings)-1].t // more to read: the next visit goes on from here
	}
	for minute := first.Truncate(time.Minute); ; minute = minute.Add(time.Minute) {
		if minute.After(last) {
			minute = last
		}
		for {
			switch {
			case len(starts) > 0 && !starts[0].After(minute) && !u.Last.IsZero() &&
				(ri == len(readings) || readings[ri].t.After(starts[0])):
				// A log starts from the unit's value then: the newest
				// reading at or before its start, or, for a log started
				// before any reading, the first one after.
				u.StartCooling(p, starts[0], out)
				us.st.Manual = append(us.st.Manual, starts[0])
				starts = starts[1:]
				continue
			case di < len(doors) && !doors[di].T.After(minute) && (ri == len(readings) || !readings[ri].t.Before(doors[di].T)):
				u.ObserveDoor(p, doors[di], out)
				us.doorsTo = doors[di].T
				di++
				continue
			case ri < len(readings) && !readings[ri].t.After(minute):
				rd := readings[ri]
				ri++
				if rd.fault {
					mix.Fault(rd.sensor, rd.t)
				} else {
					mix.Observe(rd.sensor, rd.t, rd.c)
					u.ObserveProbe(p, Sample{T: rd.t, C: rd.c, Sensor: rd.sensor}, out)
				}
				if v := mix.At(rd.t); v.Live > 0 {
					s := Sample{T: rd.t, C: v.MaxC, Sensor: v.MaxSensor}
					if hotUnit(p.UnitKind) {
						s.C, s.Sensor = v.MinC, v.MinSensor
					}
					u.Observe(p, s, out)
				}
				us.processedTo = rd.t
				continue
			}
			break
		}
		if minute.After(us.st.TickedTo) {
			u.Tick(p, minute, out)
			us.st.TickedTo = minute
		}
		if !minute.Before(last) {
			break
		}
	}
	// A log started after the newest reading starts from it; one started
	// before the unit ever reported waits for its first reading.
	for _, t := range starts {
		if u.Last.IsZero() {
			break
		}
		u.StartCooling(p, t, out)
		us.st.Manual = append(us.st.Manual, t)
	}
	// Keep the list of manual starts to those still running.
	us.st.Manual = slices.DeleteFunc(us.st.Manual, func(t time.Time) bool { return !slices.ContainsFunc(manual, t.Equal) })
}

// apply raises or clears a signal's alert. A condition that began too long
// ago to act on is remembered as raised but alerts nobody.
func (r *Runner) apply(ctx context.Context, tx pgx.Tx, unitID string, ur *unitRules, us *unitState, s Signal, now time.Time) (o alerting.AlertOpened, raised, cleared bool, err error) {
	rule, ok := ur.byID[s.RuleID]
	if !ok {
		delete(us.st.Raised, s.RuleID)
		return o, false, false, nil // the rule was disabled or removed meanwhile
	}
	switch s.Op {
	case Raise:
		if _, up := us.st.Raised[s.RuleID]; up {
			return o, false, false, nil
		}
		us.st.Raised[s.RuleID] = rule.Kind
		at := s.At
		if at.IsZero() {
			at = now
		}
		if now.Sub(at) > r.cfg.Quiet {
			return o, false, false, nil
		}
		o, opened, err := r.eval.RaiseTx(ctx, tx, unitID, rule, alerting.Condition{
			Started: s.Started, At: at, SensorID: s.Sensor, Value: s.Value, Summary: s.Summary, Details: s.Details})
		return o, opened, false, err
	case Clear:
		if _, up := us.st.Raised[s.RuleID]; !up {
			return o, false, false, nil
		}
		delete(us.st.Raised, s.RuleID)
		reason := cmp.Or(s.Reason, "the condition ended")
		id, err := r.eval.ClearTx(ctx, tx, unitID, rule, cmp.Or(s.At, now), reason)
		return o, false, id != "", err
	}
	return o, false, false, fmt.Errorf("signal with unknown op %d", s.Op)
}
