package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/lifecycle"
)

// servePprof serves Go's runtime profiles on addr, a loopback address only:
// profiles show code paths and memory, which are nobody else's business. It
// returns a function that stops the listener.
func servePprof(addr string, log *slog.Logger) (func(), error) {
	if !auth.IsLoopback(addr) {
		return nil, fmt.Errorf("FRESHTRACK_PPROF_ADDR=%s: profiles are served on a loopback address only, such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for profiles: %w (FRESHTRACK_PPROF_ADDR)", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("profile server stopped", "err", err)
		}
	}()
	log.Info("serving runtime profiles", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// pprofServer is servePprof as a component of serve's lifecycle.
func pprofServer(addr string, log *slog.Logger) lifecycle.Hooks {
	var stop func()
	return lifecycle.Hooks{
		OnStart: func(context.Context) (err error) {
			stop, err = servePprof(addr, log)
			return err
		},
		OnStop: func(context.Context) error {
			stop()
			return nil
		},
	}
}
