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
	orgs   map[string]*orgStreams
	closed bool
}

// orgStreams are an organisation's streams, indexed by what they watch, so
// that delivering an event costs the streams that may see it, not every
// stream of the organisation.
type orgStreams struct {
	all    set            // every stream
	whole  set            // streams without filters: every event
	bySite map[string]set // streams filtered by site only
	byUnit map[string]set // streams filtered by unit (and perhaps site too)
}

type set = map[*Stream]struct{}

func (o *orgStreams) add(s *Stream) {
	o.all[s] = struct{}{}
	switch {
	case len(s.filter.Units) > 0:
		for _, u := range s.filter.Units {
			addTo(o.byUnit, u, s)
		}
	case len(s.filter.Sites) > 0:
		for _, site := range s.filter.Sites {
			addTo(o.bySite, site, s)
		}
	default:
		o.whole[s] = struct{}{}
	}
}

func (o *orgStreams) remove(s *Stream) {
	delete(o.all, s)
	delete(o.whole, s)
	for _, u := range s.filter.Units {
		removeFrom(o.byUnit, u, s)
	}
	for _, site := range s.filter.Sites {
		removeFrom(o.bySite, site, s)
	}
}

func addTo(index map[string]set, key string, s *Stream) {
	m := index[key]
	if m == nil {
		m = set{}
		index[key] = m
	}
	m[s] = struct{}{}
}

func removeFrom(index map[string]set, key string, s *Stream) {
	if m := index[key]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(index, key)
		}
	}
}

// each calls fn for every stream that may see e.
func (o *orgStreams) each(e *Event, fn func(*Stream)) {
	for s := range o.whole {
		fn(s)
	}
	if e.UnitID == "" {
		return
	}
	for s := range o.byUnit[e.UnitID] {
		if len(s.filter.Sites) == 0 || contains(s.filter.Sites, e.SiteID) {
			fn(s)
		}
	}
	for s := range o.bySite[e.SiteID] {
		fn(s)
	}
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
	h := &Hub{cfg: cfg, orgs: map[string]*orgStreams{}}
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
	for _, o := range h.orgs {
		n += len(o.all)
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
	o := h.orgs[orgID]
	if o == nil {
		o = &orgStreams{all: set{}, whole: set{}, bySite: map[string]set{}, byUnit: map[string]set{}}
		h.orgs[orgID] = o
	}
	o.add(s)
	return s, nil
}

func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o := h.orgs[s.OrgID]; o != nil {
		o.remove(s)
		if len(o.all) == 0 {
			delete(h.orgs, s.OrgID)
		}
	}
}

// streamsOf is orgID's streams (nil for none); the caller holds mu.
func (h *Hub) streamsOf(orgID string) set {
	if o := h.orgs[orgID]; o != nil {
		return o.all
	}
	return nil
}

// Deliver queues events on every stream that may see them. It never
// blocks: a stream whose queue is full is ended (the client is too slow),
// and the others go on.
func (h *Hub) Deliver(events []Event) {
	var slow []*Stream
	h.mu.RLock()
	for i := range events {
		e := &events[i]
		o := h.orgs[e.OrgID]
		if o == nil {
			continue
		}
		o.each(e, func(s *Stream) {
			select {
			case s.ch <- *e:
			default:
				slow = append(slow, s)
			}
		})
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
	for s := range h.streamsOf(orgID) {
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
	all := make([]*Stream, 0, len(h.streamsOf(orgID)))
	for s := range h.streamsOf(orgID) {
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
	for _, o := range h.orgs {
		for s := range o.all {
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
