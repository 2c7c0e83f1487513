package live

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// ErrClosed is returned by [Hub.Subscribe] once the hub is closed.
var ErrClosed = errors.New("live: the server is shutting down")

// Filter narrows a stream to some sites and units; empty fields mean all.
// An event matches when its site is one of Sites (if any) and its unit one
// of Units (if any); an event of no unit matches only a stream without
// filters.
type Filter struct {
	Sites []string
	Units []string
}

func (f Filter) empty() bool { return len(f.Sites) == 0 && len(f.Units) == 0 }

func (f Filter) matches(e *Event) bool {
	if f.empty() {
		return true
	}
	if e.UnitID == "" {
		return false
	}
	return (len(f.Sites) == 0 || contains(f.Sites, e.SiteID)) && (len(f.Units) == 0 || contains(f.Units, e.UnitID))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// HubConfig configures a Hub. Zero values take the defaults.
type HubConfig struct {
	// Queue is how many events a stream holds for a client that has not
	// read them yet; a stream whose queue is full is dropped. Defaults to
	// 512.
	Queue int
	// Recheck reports whether userID may still read orgID's events; the hub
	// asks it when the database announces that a membership changed, and
	// ends the streams it refuses. Defaults to refusing (every stream of
	// that member ends, and its client reconnects through the checks).
	Recheck func(ctx context.Context, orgID, userID string) (bool, error)
	// MaxAge is how long a stream lasts before it ends with a reset that
	// asks its client to reconnect (resuming, without a reload): streams
	// spread over the instances again after a deploy, and a connection
	// opened with a token that has since expired or been revoked does not
	// last for ever. Defaults to 1h.
	MaxAge time.Duration
}

// Hub holds the open streams of this process and delivers events to them.
type Hub struct {
	cfg HubConfig

	mu     sync.RWMutex
	orgs   map[string]map[*Stream]struct{}
	closed bool
}

// The metrics of every hub of the process (tests build several);
// freshtrack_live_streams counts the open streams of them all.
var (
	hubsMu   sync.Mutex
	allHubs  = map[*Hub]struct{}{}
	_        = metrics.NewGauge(`freshtrack_live_streams`, openStreams)
	mSent    = metrics.NewCounter(`freshtrack_live_events_sent_total`)
	mDropped = metrics.NewCounter(`freshtrack_live_dropped_streams_total`)
	mFanout  = metrics.NewHistogram(`freshtrack_live_fanout_seconds`)
)

func openStreams() float64 {
	hubsMu.Lock()
	defer hubsMu.Unlock()
	n := 0
	for h := range allHubs {
		n += h.Len()
	}
	return float64(n)
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Queue <= 0 {
		cfg.Queue = 512
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	h := &Hub{cfg: cfg, orgs: map[string]map[*Stream]struct{}{}}
	hubsMu.Lock()
	allHubs[h] = struct{}{}
	hubsMu.Unlock()
	return h
}

// Len is the number of open streams.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, m := range h.orgs {
		n += len(m)
	}
	return n
}

// Subscribe opens a stream of orgID's events for userID, who the caller has
// checked may read them.
func (h *Hub) Subscribe(orgID, userID string, f Filter) (*Stream, error) {
	s := &Stream{OrgID: orgID, UserID: userID, filter: f, hub: h,
		ch: make(chan Event, h.cfg.Queue), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	m := h.orgs[orgID]
	if m == nil {
		m = map[*Stream]struct{}{}
		h.orgs[orgID] = m
	}
	m[s] = struct{}{}
	return s, nil
}

func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.orgs[s.OrgID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.orgs, s.OrgID)
		}
	}
}

// Deliver queues events on every stream that may see them. It never
// blocks: a stream whose queue is full is ended (the client is too slow),
// and the others go on.
func (h *Hub) Deliver(events []Event) {
	var slow []*Stream
	h.mu.RLock()
	for i := range events {
		e := &events[i]
		for s := range h.orgs[e.OrgID] {
			if !s.filter.matches(e) {
				continue
			}
			select {
			case s.ch <- *e:
			default:
				slow = append(slow, s)
			}
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		if s.end("the client did not keep up with its events; reload and reconnect") {
			mDropped.Inc()
		}
	}
}

// EndMember re-checks userID's streams of orgID (the membership changed)
// and ends those the check refuses.
func (h *Hub) EndMember(ctx context.Context, orgID, userID string) {
	var mine []*Stream
	h.mu.RLock()
	for s := range h.orgs[orgID] {
		if s.UserID == userID {
			mine = append(mine, s)
		}
	}
	h.mu.RUnlock()
	if len(mine) == 0 {
		return
	}
	ok := false
	if h.cfg.Recheck != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		ok, err = h.cfg.Recheck(ctx, orgID, userID)
		cancel()
		if err != nil {
			ok = false // cannot tell: the client reconnects through the checks
		}
	}
	if ok {
		return
	}
	for _, s := range mine {
		s.end("your membership of this organisation changed; reconnect")
	}
}

// EndOrg ends every stream of orgID (the organisation was deleted).
func (h *Hub) EndOrg(orgID, reason string) {
	h.mu.RLock()
	all := make([]*Stream, 0, len(h.orgs[orgID]))
	for s := range h.orgs[orgID] {
		all = append(all, s)
	}
	h.mu.RUnlock()
	for _, s := range all {
		s.end(reason)
	}
}

// EndAll ends every stream with reason; new streams may still open.
func (h *Hub) EndAll(reason string) {
	h.mu.RLock()
	var all []*Stream
	for _, m := range h.orgs {
		for s := range m {
			all = append(all, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range all {
		s.end(reason)
	}
}

// Close ends every stream and refuses new ones: a shutdown calls it before
// it drains the HTTP server, whose open streams would otherwise hold it up.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.EndAll("the server is restarting; reconnect")
	hubsMu.Lock()
	delete(allHubs, h)
	hubsMu.Unlock()
}

// Stop implements lifecycle.Service's stop: Close.
func (h *Hub) Stop(context.Context) error { h.Close(); return nil }

// Start implements lifecycle.Service: the hub needs no goroutine.
func (h *Hub) Start(context.Context) error { return nil }

// Stream is one client's subscription.
type Stream struct {
	OrgID, UserID string
	filter        Filter
	hub           *Hub
	ch            chan Event

	once   sync.Once
	done   chan struct{}
	reason string
	resume bool // the client may resume rather than reload
}

// end closes the stream with the reason its client is told, which asks it
// to reload; it reports whether this call ended it.
func (s *Stream) end(reason string) bool { return s.endWith(reason, false) }

func (s *Stream) endWith(reason string, resume bool) bool {
	ended := false
	s.once.Do(func() {
		s.reason, s.resume = reason, resume
		close(s.done)
		s.hub.remove(s)
		ended = true
	})
	return ended
}

// Close ends the stream from the client's side (it went away).
func (s *Stream) Close() { s.end("") }
