package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stripe/stripe-go/v76"
)

// Metrics sent as Billing Meter events, one value per organisation and hour.
const (
	// MetricActiveSensors is the sensors counted against the limit at the
	// end of the hour (a meter aggregated as "last").
	MetricActiveSensors = "active_sensors"
	// MetricReadings is the readings stored whose time is in the hour (a
	// meter aggregated as "sum").
	MetricReadings = "readings"
)

type meter struct{ metric, event string }

const (
	// meterWindow is how old an event's timestamp may be: Stripe accepts
	// the past 35 days; an hour of margin keeps a send at the edge from
	// being refused on the way.
	meterWindow = 35*24*time.Hour - time.Hour
	// dedupeWindow is how long after it was recorded a pending hour is
	// sent again: Stripe deduplicates identifiers for 24 hours, so a
	// resend later than that could count twice.
	dedupeWindow = 23 * time.Hour
	// readingSettle is how long after an hour ends its readings are
	// counted, so that readings buffered by gateways for a few minutes
	// are in it. Readings arriving later than that for an hour already
	// sent are not billed.
	readingSettle = 10 * time.Minute
)

var (
	mMeterSent    = metrics.NewCounter(`freshtrack_billing_meter_events_total{result="sent"}`)
	mMeterFailed  = metrics.NewCounter(`freshtrack_billing_meter_events_total{result="failed"}`)
	mMeterSkipped = metrics.NewCounter(`freshtrack_billing_meter_events_total{result="skipped"}`)
	mMeterUnknown = metrics.NewCounter(`freshtrack_billing_meter_events_total{result="unknown"}`)
)

// MeterResult counts what one metering run did.
type MeterResult struct {
	// Sent counts hours Stripe accepted (again, for resent ones).
	Sent int `json:"sent"`
	// Failed counts hours Stripe refused as invalid; they are not retried.
	Failed int `json:"failed"`
	// Skipped counts ranges older than Stripe accepts, recorded unsent.
	Skipped int `json:"skipped"`
	// Unknown counts hours recorded but not confirmed within Stripe's
	// deduplication window: sending them again could bill twice.
	Unknown int `json:"unknown"`
}

// Identifier is the meter event identifier of an organisation's metric for
// the hour starting at hour: the same on every retry, so Stripe counts an
// hour once however often it is sent within 24 hours.
func Identifier(org, metric string, hour time.Time) string {
	return fmt.Sprintf("freshtrack:%s:%s:%d", org, metric, hour.UTC().Unix())
}

// Meter sends every closed hour not yet sent of every live subscription's
// meters: first the hours recorded but not confirmed (a crash between
// send and record), with their recorded value and identifier; then the
// hours since the last one recorded, from the subscription's start, as far
// back as Stripe accepts (older ones are recorded as skipped). An error
// reaching Stripe stops that meter until the next run.
func (s *Service) Meter(ctx context.Context, now time.Time) (MeterResult, error) {
	var res MeterResult
	if !s.Configured() || len(s.meters()) == 0 {
		return res, nil
	}
	rows, err := s.cfg.Pool.Query(ctx, `
		SELECT org_id::text, stripe_customer_id, metered_from FROM subscriptions
		 WHERE stripe_customer_id IS NOT NULL AND metered_from IS NOT NULL
		   AND status IN ('trial', 'trialing', 'active', 'past_due', 'unpaid')
		 ORDER BY org_id`)
	if err != nil {
		return res, fmt.Errorf("billing: metered organisations: %w", err)
	}
	type metered struct {
		org, customer string
		from          time.Time
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (metered, error) {
		var m metered
		err := r.Scan(&m.org, &m.customer, &m.from)
		return m, err
	})
	if err != nil {
		return res, fmt.Errorf("billing: metered organisations: %w", err)
	}
	var errs []error
	for _, sub := range subs {
		for _, m := range s.meters() {
			if err := s.meterOne(ctx, sub.org, sub.customer, sub.from, m, now, &res); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", sub.org, m.metric, err))
			}
		}
	}
	if res != (MeterResult{}) {
		s.log.Info("billing meters", "sent", res.Sent, "failed", res.Failed, "skipped", res.Skipped, "unknown", res.Unknown)
	}
	return res, errors.Join(errs...)
}

func (s *Service) meterOne(ctx context.Context, org, customer string, from time.Time, m meter, now time.Time, res *MeterResult) error {
	// Hours recorded and never confirmed: send them again as recorded.
	rows, err := s.cfg.Pool.Query(ctx, `SELECT id, period_start, quantity, identifier, customer_id, created_at FROM usage_reports
		WHERE org_id = $1 AND metric = $2 AND status = 'pending' ORDER BY period_start`, org, m.metric)
	if err != nil {
		return fmt.Errorf("pending hours: %w", err)
	}
	type pending struct {
		id       int64
		hour     time.Time
		quantity int64
		ident    string
		customer *string
		created  time.Time
	}
	pend, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
		var p pending
		err := r.Scan(&p.id, &p.hour, &p.quantity, &p.ident, &p.customer, &p.created)
		return p, err
	})
	if err != nil {
		return fmt.Errorf("pending hours: %w", err)
	}
	for _, p := range pend {
		if now.Sub(p.created) > dedupeWindow {
			_, err := s.cfg.Pool.Exec(ctx, `UPDATE usage_reports SET status = 'unknown', last_error = $2 WHERE id = $1`, p.id,
				"recorded but not confirmed sent within Stripe's 24-hour deduplication window: check the meter's events in Stripe before sending it by hand")
			if err != nil {
				return err
			}
			res.Unknown++
			mMeterUnknown.Inc()
			s.log.Warn("billing meter hour may or may not have reached Stripe", "org", org, "metric", m.metric, "hour", p.hour, "identifier", p.ident)
			continue
		}
		cus := customer
		if p.customer != nil {
			cus = *p.customer
		}
		if err := s.send(ctx, p.id, m, cus, p.ident, p.hour, p.quantity, res); err != nil {
			return err
		}
	}

	// New hours, from the last one recorded (sent, failed or skipped).
	var last *time.Time
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT max(period_end) FROM usage_reports WHERE org_id = $1 AND metric = $2`, org, m.metric).Scan(&last); err != nil {
		return fmt.Errorf("last hour: %w", err)
	}
	next := from.UTC().Truncate(time.Hour)
	if last != nil && last.After(next) {
		next = last.UTC()
	}
	settle := time.Duration(0)
	if m.metric == MetricReadings {
		settle = readingSettle
	}
	end := now.Add(-settle).UTC().Truncate(time.Hour) // hours before end are closed
	if oldest := ceilHour(now.Add(-meterWindow)); next.Before(oldest) && oldest.Before(end) {
		_, err := s.cfg.Pool.Exec(ctx, `INSERT INTO usage_reports (org_id, metric, period_start, period_end, quantity, identifier, customer_id, status, last_error)
			VALUES ($1, $2, $3, $4, 0, NULL, $5, 'skipped', $6) ON CONFLICT (org_id, metric, period_start) DO NOTHING`,
			org, m.metric, next, oldest, customer, fmt.Sprintf("not sent: hours older than Stripe accepts (35 days) when metering caught up on %s", now.UTC().Format(time.RFC3339)))
		if err != nil {
			return fmt.Errorf("record skipped hours: %w", err)
		}
		res.Skipped++
		mMeterSkipped.Inc()
		s.log.Warn("billing meter hours too old for Stripe were not sent", "org", org, "metric", m.metric, "from", next, "to", oldest)
		next = oldest
	}
	for hour := next; hour.Before(end); hour = hour.Add(time.Hour) {
		q, err := s.measure(ctx, org, m.metric, hour)
		if err != nil {
			return err
		}
		ident := Identifier(org, m.metric, hour)
		var id int64
		err = s.cfg.Pool.QueryRow(ctx, `INSERT INTO usage_reports (org_id, metric, period_start, period_end, quantity, identifier, customer_id, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') ON CONFLICT (org_id, metric, period_start) DO NOTHING RETURNING id`,
			org, m.metric, hour, hour.Add(time.Hour), q, ident, customer).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // another run recorded it and sends it
		}
		if err != nil {
			return fmt.Errorf("record hour: %w", err)
		}
		if err := s.send(ctx, id, m, customer, ident, hour, q, res); err != nil {
			return err
		}
	}
	return nil
}

func ceilHour(t time.Time) time.Time {
	h := t.UTC().Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// measure counts a metric for the hour starting at hour.
func (s *Service) measure(ctx context.Context, org, metric string, hour time.Time) (int64, error) {
	var n int64
	var err error
	switch metric {
	case MetricActiveSensors:
		err = s.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM sensors WHERE `+countedSensors+` AND created_at < $2
			AND (retired_at IS NULL OR retired_at >= $2)`, org, hour.Add(time.Hour)).Scan(&n)
	case MetricReadings:
		err = s.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM readings WHERE sensor_id IN (SELECT id FROM sensors WHERE org_id = $1)
			AND time >= $2 AND time < $3`, org, hour, hour.Add(time.Hour)).Scan(&n)
	default:
		return 0, fmt.Errorf("unknown metric %q", metric)
	}
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", metric, err)
	}
	return n, nil
}

// send sends one recorded hour and records the answer. A refusal Stripe
// would repeat is recorded as failed; anything else leaves the hour
// pending, for the next run, and is returned.
func (s *Service) send(ctx context.Context, id int64, m meter, customer, ident string, hour time.Time, q int64, res *MeterResult) error {
	p := &stripe.BillingMeterEventParams{
		EventName:  stripe.String(m.event),
		Identifier: stripe.String(ident),
		Payload:    map[string]string{"stripe_customer_id": customer, "value": strconv.FormatInt(q, 10)},
		// The hour's last second: the event counts in the billing period
		// the hour is in, and a "last" meter takes the newest hour.
		Timestamp: stripe.Int64(hour.Add(time.Hour - time.Second).Unix()),
	}
	_, err := s.api.BillingMeterEvents.New(p)
	if err == nil && s.afterSend != nil {
		err = s.afterSend(ident)
	}
	if err != nil {
		se := &StripeError{Op: "send a meter event", Err: err}
		if !se.permanent() {
			_, _ = s.cfg.Pool.Exec(ctx, `UPDATE usage_reports SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, se.Error())
			return se
		}
		if _, err := s.cfg.Pool.Exec(ctx, `UPDATE usage_reports SET status = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, se.Error()); err != nil {
			return err
		}
		res.Failed++
		mMeterFailed.Inc()
		s.log.Error("billing meter event refused", "identifier", ident, "err", se)
		return nil
	}
	if _, err := s.cfg.Pool.Exec(ctx, `UPDATE usage_reports SET status = 'sent', attempts = attempts + 1, reported_at = now(), last_error = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("record sent hour: %w", err)
	}
	res.Sent++
	mMeterSent.Inc()
	return nil
}

// MeterArgs runs Meter (kind "billing_meter").
type MeterArgs struct{}

// Kind implements river.JobArgs.
func (MeterArgs) Kind() string { return "billing_meter" }

// InsertOpts implements river.JobArgsWithInsertOpts: at most one run
// waiting, running or retrying.
func (MeterArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByQueue: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// MeterWorker works MeterArgs.
type MeterWorker struct {
	river.WorkerDefaults[MeterArgs]
	Service *Service
}

// Timeout implements river.Worker: catching up on weeks of hours takes a while.
func (w *MeterWorker) Timeout(*river.Job[MeterArgs]) time.Duration { return 30 * time.Minute }

// Work implements river.Worker. An hour that could not reach Stripe fails
// the run, and River's retry sends it (and what follows) again.
func (w *MeterWorker) Work(ctx context.Context, _ *river.Job[MeterArgs]) error {
	_, err := w.Service.Meter(ctx, time.Now())
	return err
}

// MeterPeriodicJob runs the meters every hour and when the River leader
// starts.
func MeterPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return MeterArgs{}, nil },
		&river.PeriodicJobOpts{ID: MeterArgs{}.Kind(), RunOnStart: true})
}
