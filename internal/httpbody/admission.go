package httpbody

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/freshtrack/freshtrack/internal/problem"
)

// Admission bounds how many request bodies are read and processed at once,
// like VictoriaMetrics' write concurrency limiter: a request takes a slot
// before its body is read, waits at most MaxWait for one, and is answered 503
// with Retry-After when none frees up. Memory held by bodies is then at most
// slots × a route's limit, whatever the number of connections.
type Admission struct {
	slots   chan struct{}
	maxWait time.Duration

	waiting  atomic.Int64
	mRefused *metrics.Counter
	mWaited  *metrics.Histogram
}

// DefaultSlots is the default number of bodies read at once: a few per
// core, since reading and decoding are CPU work.
func DefaultSlots() int { return 4 * runtime.GOMAXPROCS(0) }

// NewAdmission returns an admission of n slots (DefaultSlots when n <= 0)
// waiting at most maxWait (1s when <= 0). Its gauges are registered once
// per process: create one Admission per server.
func NewAdmission(n int, maxWait time.Duration) *Admission {
	if n <= 0 {
		n = DefaultSlots()
	}
	if maxWait <= 0 {
		maxWait = time.Second
	}
	a := &Admission{
		slots:    make(chan struct{}, n),
		maxWait:  maxWait,
		mRefused: metrics.GetOrCreateCounter(`freshtrack_http_admission_refused_total`),
		mWaited:  metrics.GetOrCreateHistogram(`freshtrack_http_admission_wait_seconds`),
	}
	metrics.GetOrCreateGauge(`freshtrack_http_admission_slots`, func() float64 { return float64(cap(a.slots)) })
	metrics.GetOrCreateGauge(`freshtrack_http_admission_in_use`, func() float64 { return float64(len(a.slots)) })
	metrics.GetOrCreateGauge(`freshtrack_http_admission_waiting`, func() float64 { return float64(a.waiting.Load()) })
	return a
}

// Slot is one admitted body; Release it exactly once (Body does).
type Slot struct {
	a        *Admission
	released atomic.Bool
}

// Release frees the slot; later calls do nothing.
func (s *Slot) Release() {
	if s != nil && s.released.CompareAndSwap(false, true) {
		<-s.a.slots
	}
}

// Acquire takes a slot, waiting at most MaxWait. A nil Admission admits
// everything.
func (a *Admission) Acquire() (*Slot, error) {
	if a == nil {
		return nil, nil
	}
	select {
	case a.slots <- struct{}{}:
		return &Slot{a: a}, nil
	default:
	}
	a.waiting.Add(1)
	defer a.waiting.Add(-1)
	start := time.Now()
	t := time.NewTimer(a.maxWait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		a.mWaited.UpdateDuration(start)
		return &Slot{a: a}, nil
	case <-t.C:
		a.mRefused.Inc()
		return nil, problem.Unavailable(fmt.Sprintf(
			"the server is reading %d request bodies and none finished within %s; retry after 1s (see freshtrack_http_admission_*)",
			cap(a.slots), a.maxWait), 1)
	}
}
