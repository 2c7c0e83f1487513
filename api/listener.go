package api

import (
	"context"
	"fmt"
	"net"

	"github.com/gofiber/fiber/v2"
)

// Server serves an app on a listener as a component with a lifecycle
// (lifecycle.Service): Start serves in the background, Stop drains the
// requests in flight until its context's deadline.
type Server struct {
	app  *fiber.App
	ln   net.Listener
	done chan struct{}
	err  error
}

// NewServer returns a server of app on ln; nothing is served before Start.
func NewServer(app *fiber.App, ln net.Listener) *Server {
	return &Server{app: app, ln: ln}
}

// Start serves in the background.
func (s *Server) Start(context.Context) error {
	if s.done != nil {
		return fmt.Errorf("api: server started twice")
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.err = s.app.Listener(s.ln)
	}()
	return nil
}

// Done is closed when the server stops serving, by Stop or because the
// listener failed ([Server.Err] says why).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is why the server stopped serving, once Done is closed (nil after
// a Stop).
func (s *Server) Err() error { return s.err }

// Stop refuses new connections and waits for the requests in flight until
// ctx is done.
func (s *Server) Stop(ctx context.Context) error {
	if s.done == nil {
		return nil
	}
	if err := s.app.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("drain http: %w", err)
	}
	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return fmt.Errorf("drain http: %w", ctx.Err())
	}
}
