package main

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/redistest"
)

// TestSIGTERMLeavesRotationThenExits is what a rolling restart behind a
// load balancer needs of serve (deploy/e2e.sh does one behind Caddy): after
// SIGTERM, /readyz answers 503 while every other route is still served for
// FRESHTRACK_SHUTDOWN_DELAY, and then the process drains and exits 0, with
// Redis too (its subscription once kept serve from ever exiting).
func TestSIGTERMLeavesRotationThenExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, _ := pgtest.NewDBURL(t)
	p := startServe(t, "serve", dbURL, []string{"REDIS_URL=" + redistest.Start(t), "FRESHTRACK_SHUTDOWN_DELAY=10s"})
	logOnFailure(t, p)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	status := func(path string) int {
		resp, err := client.Get(p.base() + path)
		if err != nil {
			t.Fatalf("GET %s after SIGTERM, within the shutdown delay: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(10 * time.Second); status("/readyz") != http.StatusServiceUnavailable; {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still answers 200 after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := status("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while draining = %d, want 200", code)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not exit within 60 s of SIGTERM (10 s delay, 15 s drain)")
	}
	if p.err != nil {
		t.Fatalf("serve exited with %v after SIGTERM, want 0", p.err)
	}
}
