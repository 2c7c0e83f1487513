package alerting

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// SweepArgs asks for one sweep (see Evaluator.Sweep). SweepPeriodicJob
// enqueues it every 30 seconds.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "alerting_sweep" }

// InsertOpts puts sweeps on QueueAlerting, at most one waiting or running at
// a time (completed sweeps do not block the next one), and never retried: a
// failed sweep is simply followed by the next.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueAlerting,
		MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByQueue: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// SweepWorker runs sweeps.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	// Evaluator does the work.
	Evaluator *Evaluator
}

// Timeout bounds one sweep.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return 5 * time.Minute }

// Work implements river.Worker.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, err := w.Evaluator.Sweep(ctx)
	return err
}

// DefaultSweepInterval is how often the sweep runs.
const DefaultSweepInterval = 30 * time.Second

// SweepPeriodicJob is the periodic job that enqueues SweepArgs every
// interval (DefaultSweepInterval when zero), and once when the River leader
// starts.
func SweepPeriodicJob(interval time.Duration) *river.PeriodicJob {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
		&river.PeriodicJobOpts{ID: SweepArgs{}.Kind(), RunOnStart: true})
}

// SweepResult says what a sweep did.
type SweepResult struct {
	// Units is the number of units evaluated; CaughtUp of them had stored
	// readings that no evaluator had evaluated.
	Units, CaughtUp int
	// Escalated is the number of overdue escalation steps the sweep sent.
	Escalated int
	// ResolvedNotices is the number of resolved alerts whose "resolved"
	// messages the sweep enqueued (alerts a person resolved).
	ResolvedNotices int
}

// Sweep evaluates everything that depends on time rather than on a new
// reading, across all organisations:
//
//   - units with an excursion in progress (alert_state not ok): confirm
//     delays and clear delays that expired with no new reading;
//   - units none of whose sensors has reported for the shortest offline
//     threshold in use (sensor_latest, sensors.last_seen_at,
//     alert_state.evaluated_to; a sensor that never reported counts from its
//     creation): sensor_offline, with no data arriving at all;
//   - units with several probes one of which has been silent for twice
//     Config.MaxGap while another reported: sensor_fault (a dead probe);
//   - units whose newest stored reading is more than CatchUpLag newer than
//     their evaluation (an evaluator was down or dropped a batch): their
//     missed readings are evaluated from the database in time order;
//   - triggered alerts whose escalation step is overdue by EscalationGrace
//     (a lost job);
//   - resolved alerts whose notification policy sends a "resolved"
//     message that was not sent yet (a person resolved them).
//
// Each unit is evaluated in its own locked transaction, like a batch of
// readings, so a sweep and the live evaluators may run at the same time.
func (e *Evaluator) Sweep(ctx context.Context) (SweepResult, error) {
	start := time.Now()
	defer e.mSweepSeconds.UpdateDuration(start)
	now := e.now()
	var res SweepResult

	var minSilence float64
	if err := e.pool.QueryRow(ctx, `
		SELECT least(coalesce(min(threshold), 30), 30) FROM alert_rules
		 WHERE kind = 'sensor_offline' AND enabled`).Scan(&minSilence); err != nil {
		return res, fmt.Errorf("sweep: offline thresholds: %w", err)
	}
	rows, err := e.pool.Query(ctx, `
		WITH active AS (SELECT DISTINCT unit_id FROM alert_state WHERE state <> 'ok'),
		seen AS (
			SELECT s.org_id, s.unit_id,
			       bool_or(s.retired_at IS NULL) AS active,
			       greatest(max(sl.time), max(s.last_seen_at)) AS last_seen,
			       max(s.created_at) FILTER (WHERE s.retired_at IS NULL) AS created,
			       count(*) FILTER (WHERE s.retired_at IS NULL) AS probes,
			       min(coalesce(greatest(sl.time, s.last_seen_at), s.created_at)) FILTER (WHERE s.retired_at IS NULL) AS oldest_probe,
			       max(coalesce(greatest(sl.time, s.last_seen_at), s.created_at)) FILTER (WHERE s.retired_at IS NULL) AS newest_probe
			  FROM sensors s LEFT JOIN sensor_latest sl ON sl.sensor_id = s.id
			 WHERE s.unit_id IS NOT NULL
			 GROUP BY s.org_id, s.unit_id),
		evaluated AS (
			SELECT unit_id, min(coalesce(evaluated_to, '-infinity')) AS oldest, max(evaluated_to) AS newest
			  FROM alert_state GROUP BY unit_id)
		SELECT u.id::text, u.org_id::text, u.site_id::text, u.kind, u.name, si.name, u.safe_min_c, u.safe_max_c, a.unit_id IS NOT NULL,
		       coalesce(greatest(sn.last_seen, ev.newest), sn.created),
		       coalesce(sn.last_seen > coalesce(ev.oldest, '-infinity') + $2 AND sn.last_seen > $3, false)
		  FROM units u
		  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		  JOIN organizations o ON o.id = u.org_id AND o.deleted_at IS NULL
		  LEFT JOIN active a ON a.unit_id = u.id
		  LEFT JOIN seen sn ON sn.org_id = u.org_id AND sn.unit_id = u.id
		  LEFT JOIN evaluated ev ON ev.unit_id = u.id
		 WHERE a.unit_id IS NOT NULL
		    OR (sn.active AND coalesce(greatest(sn.last_seen, ev.newest), sn.created) <= $1)
		    OR (sn.last_seen > coalesce(ev.oldest, '-infinity') + $2 AND sn.last_seen > $3)
		    OR (sn.probes > 1 AND sn.newest_probe - sn.oldest_probe >= $4)
		 ORDER BY u.id`,
		now.Add(-time.Duration(minSilence*float64(time.Minute))), e.cfg.CatchUpLag, now.Add(-e.cfg.MaxLateness), 2*e.cfg.MaxGap)
	if err != nil {
		return res, fmt.Errorf("sweep: find units: %w", err)
	}
	var (
		list              []*unitWork
		active            = map[*unitWork]bool{}
		u                 unitInfo
		lastSeen          *time.Time
		isActive, catchUp bool
	)
	_, err = pgx.ForEachRow(rows, []any{&u.ID, &u.OrgID, &u.SiteID, &u.Kind, &u.Name, &u.SiteName, &u.SafeMinC, &u.SafeMaxC, &isActive, &lastSeen, &catchUp}, func() error {
		ui := u
		w := &unitWork{unit: &ui, mode: modeTick}
		active[w] = isActive
		if lastSeen != nil {
			w.lastSeen = lastSeen.UTC()
		}
		if catchUp {
			w.mode = modeCatchUp
			res.CaughtUp++
		}
		list = append(list, w)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("sweep: find units: %w", err)
	}
	kept := list[:0]
	for _, w := range list {
		if w.rules, err = e.effectiveFor(ctx, w.unit); err != nil {
			return res, err
		}
		// A unit without rules needs a transaction only to drop the state
		// of rules it no longer has.
		if len(w.rules) > 0 || active[w] {
			kept = append(kept, w)
		} else if w.mode == modeCatchUp {
			res.CaughtUp--
		}
	}
	list = kept
	res.Units = len(list)
	if err := e.evaluateUnits(ctx, list); err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	if res.Escalated, err = e.escalateOverdue(ctx, now); err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	if res.ResolvedNotices, err = e.notifyResolvedPending(ctx, now); err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	return res, nil
}
