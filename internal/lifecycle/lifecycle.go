package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Service is a component with a lifecycle.
type Service interface {
	// Start starts the component's work and returns once it runs; the work
	// goes on in the background until Stop.
	Start(ctx context.Context) error
	// Stop ends the work, finishing what is in flight until ctx's deadline.
	Stop(ctx context.Context) error
}

// Hooks makes a Service of two functions; either may be nil.
type Hooks struct {
	OnStart func(ctx context.Context) error
	OnStop  func(ctx context.Context) error
}

// Start implements Service.
func (h Hooks) Start(ctx context.Context) error {
	if h.OnStart == nil {
		return nil
	}
	return h.OnStart(ctx)
}

// Stop implements Service.
func (h Hooks) Stop(ctx context.Context) error {
	if h.OnStop == nil {
		return nil
	}
	return h.OnStop(ctx)
}

// Sequence is the components a process started, in the order it started
// them. The zero value is not usable; call New.
type Sequence struct {
	log     *slog.Logger
	started []named
}

type named struct {
	name string
	svc  Service
}

// New returns an empty sequence that logs each start and stop to log.
func New(log *slog.Logger) *Sequence {
	if log == nil {
		log = slog.Default()
	}
	return &Sequence{log: log}
}

// Start starts svc and appends it to the sequence. A component that fails to
// start is not appended: the caller stops the sequence (what did start) and
// returns the error, which names the component.
func (s *Sequence) Start(ctx context.Context, name string, svc Service) error {
	if err := svc.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	s.started = append(s.started, named{name, svc})
	s.log.Debug("started", "component", name)
	return nil
}

// Stop stops every started component in the reverse order of their starts,
// each with its own deadline of timeout from when its stop begins, so a slow
// one cannot eat the time of those after it. It stops them all whatever
// fails, and returns every failure. ctx's values reach the stops; its
// cancellation does not (a shutdown usually begins with a cancelled ctx).
func (s *Sequence) Stop(ctx context.Context, timeout time.Duration) error {
	var errs []error
	base := context.WithoutCancel(ctx)
	for i := len(s.started) - 1; i >= 0; i-- {
		c := s.started[i]
		stopCtx, cancel := context.WithTimeout(base, timeout)
		began := time.Now()
		err := c.svc.Stop(stopCtx)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", c.name, err))
		}
		s.log.Debug("stopped", "component", c.name, "took", time.Since(began))
	}
	s.started = nil
	return errors.Join(errs...)
}
