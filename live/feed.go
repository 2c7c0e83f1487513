package live

import (
	"context"
	"log/slog"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/ingest"
)

// UnitResolver maps sensor keys to the units they are on;
// *alerting.Evaluator is one (its cache of sensor assignments).
type UnitResolver interface {
	UnitsOf(ctx context.Context, sensorIDs []int64) (map[int64]alerting.UnitRef, error)
}

// feedBuffer is how many committed flushes wait for the feed; past it the
// writer does not send more (live readings are coalesced anyway: the next
// flush carries the newer values).
const feedBuffer = 64

// Feed hands the publisher each unit's newest reading of every flush an
// ingest writer commits, right after the commit: reading events do not wait
// for alert evaluation, which may run behind under load (unit states come
// from the evaluator, when it has evaluated). It is a lifecycle.Service,
// started before the writer's service so that it stops after the writer's
// last flush.
type Feed struct {
	writer *ingest.Writer
	units  UnitResolver
	pub    *Publisher
	log    *slog.Logger

	unsubscribe func()
	cancel      context.CancelFunc
	done        chan struct{}
}

// NewFeed returns a feed of writer's commits to pub.
func NewFeed(writer *ingest.Writer, units UnitResolver, pub *Publisher, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.Default()
	}
	return &Feed{writer: writer, units: units, pub: pub, log: log}
}

// Start subscribes to the writer.
func (f *Feed) Start(ctx context.Context) error {
	sub, unsubscribe := f.writer.Subscribe(feedBuffer)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.unsubscribe, f.cancel, f.done = unsubscribe, cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		for {
			select {
			case c, ok := <-sub.C:
				if !ok {
					return
				}
				f.publish(ctx, c)
				sub.Release(len(c.Rows))
				// The flushes that did not fit need nothing from the feed.
				_, _ = sub.Dropped()
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

func (f *Feed) publish(ctx context.Context, c ingest.Committed) {
	ids := make([]int64, len(c.Rows))
	for i := range c.Rows {
		ids[i] = c.Rows[i].SensorID
	}
	units, err := f.units.UnitsOf(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("live: cannot resolve the units of committed readings; their events are skipped", "rows", len(c.Rows), "err", err)
		}
		return
	}
	newest := make(map[string]int, len(units))
	for i := range c.Rows {
		u, ok := units[c.Rows[i].SensorID]
		if !ok {
			continue
		}
		j, seen := newest[u.UnitID]
		if !seen || newer(&c.Rows[i], &c.Rows[j]) {
			newest[u.UnitID] = i
		}
	}
	out := make([]UnitReading, 0, len(newest))
	for _, i := range newest {
		r := &c.Rows[i]
		u := units[r.SensorID]
		out = append(out, UnitReading{UnitRef: u, Time: time.UnixMicro(r.TimeMicros).UTC(), TempC: r.TempC,
			Battery: r.Battery, Fault: r.Fault, CommittedAt: c.At})
	}
	f.pub.Readings(out)
}

// newer reports whether a is newer than b; at the same time a temperature
// is newer than an error code.
func newer(a, b *ingest.Row) bool {
	return a.TimeMicros > b.TimeMicros || a.TimeMicros == b.TimeMicros && !a.Fault && b.Fault
}

// Stop publishes what the writer committed until it closed (a shutdown
// closes it first), waiting until ctx is done, then stops.
func (f *Feed) Stop(ctx context.Context) error {
	if f.cancel == nil {
		return nil
	}
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	f.unsubscribe()
	f.cancel()
	<-f.done
	return nil
}

// UnitReading is a unit's newest reading in a committed flush.
type UnitReading struct {
	alerting.UnitRef
	// Time is when the reading was taken.
	Time time.Time
	// TempC is the temperature; with Fault, the probe's error code.
	TempC float64
	// Battery is NaN when the reading had none.
	Battery float64
	// Fault marks a probe's error code.
	Fault bool
	// State is the unit's state (alerting.UnitOK, ...); empty for the last
	// one the publisher heard of.
	State string
	// CommittedAt is when ingest committed it.
	CommittedAt time.Time
}
