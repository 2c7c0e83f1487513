package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
)

// PublisherConfig configures a Publisher. Zero values take the defaults.
type PublisherConfig struct {
	// Bus carries the events. Required.
	Bus Bus
	// PerUnit is the least time between two reading events of a unit: a
	// unit's readings within it are coalesced to the newest. Defaults to 1s.
	PerUnit time.Duration
	// Tick is how often held readings and new states are published: each
	// tick is one write per stream that has events. Defaults to 100ms.
	Tick time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Publisher turns committed readings (from a Feed) and the evaluator's unit
// states (alerting.Hooks.UnitState) into reading and unit_state events: at
// most one reading per unit per PerUnit (the newest), a unit state only
// when it changed. It is a lifecycle.Service; its hooks never block their
// callers.
type Publisher struct {
	cfg PublisherConfig

	mu       sync.Mutex
	held     map[string]UnitReading // unit → newest not yet published
	lastSent map[string]time.Time   // unit → its last reading event
	states   map[string]string      // unit → its last published state
	queued   []Event                // unit states to publish

	cancel context.CancelFunc
	done   chan struct{}
}

// NewPublisher returns a publisher; its hooks may be called before Start
// (what they hold is published once it runs).
func NewPublisher(cfg PublisherConfig) *Publisher {
	if cfg.PerUnit <= 0 {
		cfg.PerUnit = time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Publisher{cfg: cfg, held: map[string]UnitReading{}, lastSent: map[string]time.Time{}, states: map[string]string{}}
}

// Readings takes units' newest readings (from a Feed).
func (p *Publisher) Readings(rs []UnitReading) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rs {
		if old, ok := p.held[r.UnitID]; ok && old.Time.After(r.Time) {
			continue
		}
		if r.State == "" {
			r.State = p.states[r.UnitID]
		}
		p.held[r.UnitID] = r
	}
}

// UnitState is the alerting.Hooks.UnitState hook.
func (p *Publisher) UnitState(s alerting.UnitState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.states[s.UnitID] == s.State {
		return
	}
	p.states[s.UnitID] = s.State
	if r, ok := p.held[s.UnitID]; ok {
		r.State = s.State
		p.held[s.UnitID] = r
	}
	data, _ := json.Marshal(unitStateData{UnitID: s.UnitID, SiteID: s.SiteID, State: s.State, At: s.At.UTC()})
	p.queued = append(p.queued, Event{Type: TypeUnitState, OrgID: s.OrgID, SiteID: s.SiteID, UnitID: s.UnitID, Data: data, Committed: s.At})
}

// unitStateData is a unit_state event's body.
type unitStateData struct {
	UnitID string    `json:"unit_id"`
	SiteID string    `json:"site_id"`
	State  string    `json:"state"`
	At     time.Time `json:"at"`
}

// readingData is a reading event's body.
type readingData struct {
	UnitID  string    `json:"unit_id"`
	SiteID  string    `json:"site_id"`
	Time    time.Time `json:"time"`
	TempC   *float64  `json:"temp_c"`
	Battery *float64  `json:"battery"`
	// Fault is set when the newest record is a probe's error code (TempC
	// is then null).
	Fault bool   `json:"fault"`
	State string `json:"state,omitempty"`
}

func readingEvent(r UnitReading) Event {
	d := readingData{UnitID: r.UnitID, SiteID: r.SiteID, Time: r.Time.UTC(), Fault: r.Fault, State: r.State}
	if !r.Fault {
		d.TempC = &r.TempC
	}
	if !math.IsNaN(r.Battery) {
		d.Battery = &r.Battery
	}
	data, _ := json.Marshal(d)
	return Event{Type: TypeReading, OrgID: r.OrgID, SiteID: r.SiteID, UnitID: r.UnitID, Data: data, Committed: r.CommittedAt}
}

// due takes what may be published at now.
func (p *Publisher) due(now time.Time) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.queued
	p.queued = nil
	for unit, r := range p.held {
		if now.Sub(p.lastSent[unit]) < p.cfg.PerUnit {
			continue
		}
		out = append(out, readingEvent(r))
		p.lastSent[unit] = now
		delete(p.held, unit)
	}
	// Forget units not heard from lately: lastSent only rate-limits.
	if len(p.lastSent) > 2*len(p.held)+1024 {
		for unit, t := range p.lastSent {
			if now.Sub(t) > 2*p.cfg.PerUnit {
				delete(p.lastSent, unit)
			}
		}
	}
	return out
}

// Start publishes every Tick until Stop.
func (p *Publisher) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				p.publish(ctx, p.due(now))
			}
		}
	}()
	return nil
}

func (p *Publisher) publish(ctx context.Context, events []Event) {
	if len(events) == 0 {
		return
	}
	if err := p.cfg.Bus.Publish(ctx, events); err != nil {
		p.cfg.Logger.Warn("live: cannot publish events to other instances", "events", len(events), "err", err)
	}
}

// Stop publishes what is held and stops.
func (p *Publisher) Stop(ctx context.Context) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	<-p.done
	p.publish(ctx, p.due(time.Now().Add(p.cfg.PerUnit)))
	return nil
}
