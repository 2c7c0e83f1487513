package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/replica"
)

// TestServeWithAReplica starts serve (the api role) with
// FRESHTRACK_DATABASE_REPLICA_URL pointing at a real streaming replica:
// /readyz reports it, /metrics has its series, and once the replica is
// stopped serve stays ready and says the replica is unreachable.
func TestServeWithAReplica(t *testing.T) {
	t.Parallel()
	pair := pgtest.NewReplicaPair(t)
	e, _, logs := testEnv(map[string]string{
		"DATABASE_URL":                    pair.PrimaryURL,
		"FRESHTRACK_DATABASE_REPLICA_URL": pair.ReplicaURL,
		"FRESHTRACK_REPLICA_MAX_LAG":      "1h",
	})
	cfg, err := loadServeConfig(e, "--role", "api", "--addr", "127.0.0.1:0", "--shutdown-timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, e, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v on shutdown\n%s", err, logs)
		}
	})
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", logs)
	}
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	replicaState := func() string {
		t.Helper()
		var r api.Readiness
		if err := json.Unmarshal([]byte(get("/readyz")), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != "ready" || r.Replica == nil || r.Replica.MaxLagSeconds != 3600 {
			t.Fatalf("/readyz: status %q, replica %+v: want ready, with the replica bounded at 1h", r.Status, r.Replica)
		}
		return r.Replica.State
	}

	if st := replicaState(); st != replica.StateCaughtUp && st != replica.StateWithinLag {
		t.Fatalf("/readyz: replica %s, want caught_up or within_lag", st)
	}
	m := get("/metrics")
	for _, series := range []string{`freshtrack_replica_reads_total{target="replica",reason="caught_up"}`, `freshtrack_replica_lag_seconds`} {
		if !strings.Contains(m, series) {
			t.Fatalf("/metrics has no %s", series)
		}
	}
	pair.StopReplica()
	deadline := time.Now().Add(30 * time.Second)
	for replicaState() != replica.StateUnreachable {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not report the stopped replica unreachable after 30 s\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "replica unavailable") {
		t.Fatalf("no log line says the replica is unavailable:\n%s", logs)
	}
}
