package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine writing logs while
// the test reads them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(vars map[string]string) (env, *syncBuffer, *syncBuffer) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	return env{stdout: out, stderr: errOut, getenv: func(k string) string { return vars[k] }}, out, errOut
}

func TestHelpExplainsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"migrate", "up", "--help"},
		{"migrate", "down", "--help"}, {"migrate", "status", "--help"}, {"version", "--help"},
	} {
		e, out, _ := testEnv(nil)
		if err := run(context.Background(), args, e); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(out.String(), "Usage:") {
			t.Fatalf("%v printed no usage:\n%s", args, out)
		}
	}
	e, out, _ := testEnv(nil)
	if err := run(context.Background(), []string{"serve", "--help"}, e); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"DATABASE_URL", "FRESHTRACK_DATABASE_DIRECT_URL", "REDIS_URL", "FRESHTRACK_ADDR", "FRESHTRACK_STORAGE", "FRESHTRACK_ROLE"} {
		if !strings.Contains(out.String(), "$"+env) {
			t.Errorf("serve --help does not mention %s", env)
		}
	}
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	t.Parallel()
	e, _, _ := testEnv(map[string]string{"FRESHTRACK_STORAGE": "mongo"})
	err := run(context.Background(), []string{"serve"}, e)
	if err == nil || !strings.Contains(err.Error(), "FRESHTRACK_STORAGE") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serve with a bad FRESHTRACK_STORAGE = %v, want a one-line error naming it", err)
	}
}

// TestMigrateUpAndStatus runs migrate up and status through the binary's
// entry point with FRESHTRACK_STORAGE set to the mode under test.
func TestMigrateUpAndStatus(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.EmptyDB(t)
	vars := map[string]string{"DATABASE_URL": url, "FRESHTRACK_STORAGE": string(pgtest.DefaultMode())}
	e, out, _ := testEnv(vars)
	if err := run(context.Background(), []string{"migrate", "up"}, e); err != nil {
		t.Fatal(err)
	}
	e, out, _ = testEnv(vars)
	if err := run(context.Background(), []string{"migrate", "status", "--json"}, e); err != nil {
		t.Fatal(err)
	}
	var st schema.Status
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
		t.Fatalf("status --json %q: %v", out, err)
	}
	if st.Mode != pgtest.DefaultMode() || !st.Current() {
		t.Fatalf("status = %+v", st)
	}
	e, out, _ = testEnv(vars)
	if err := run(context.Background(), []string{"migrate", "status"}, e); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	if want := "storage mode: " + string(pgtest.DefaultMode()); !strings.Contains(text, want) || !strings.Contains(text, "state: current") {
		t.Fatalf("status says %q, want %q and current", out, want)
	}
}

// TestMigrateStatusNamesFailingTimescaleJobs: migrate status counts the
// failing TimescaleDB jobs and gives each one's name and last error.
func TestMigrateStatusNamesFailingTimescaleJobs(t *testing.T) {
	t.Parallel()
	url, pool := pgtest.NewDBURL(t, pgtest.WithMode(schema.Timescale))
	name := pgtest.FailTimescaleJob(t, pool, "could not extend file: No space left on device")
	e, out, _ := testEnv(map[string]string{"DATABASE_URL": url})
	if err := run(context.Background(), []string{"migrate", "status"}, e); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"failing timescaledb jobs: 1", name + ":", "1 failures: could not extend file: No space left on device (SQLSTATE P0001)"} {
		if !strings.Contains(text, want) {
			t.Fatalf("migrate status:\n%s\nmissing %q", out, want)
		}
	}
	e, out, _ = testEnv(map[string]string{"DATABASE_URL": url})
	if err := run(context.Background(), []string{"migrate", "status", "--json"}, e); err != nil {
		t.Fatal(err)
	}
	var st schema.Status
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil || st.FailingJobs != 1 || len(st.JobErrors) != 1 || st.JobErrors[0].Name != name {
		t.Fatalf("status --json = %s (%v)", out, err)
	}
}

func TestServeRefusesAnOldSchema(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.EmptyDB(t)
	e, _, _ := testEnv(map[string]string{"DATABASE_URL": url, "FRESHTRACK_ADDR": "127.0.0.1:0"})
	err := run(context.Background(), []string{"serve"}, e)
	if err == nil || !strings.Contains(err.Error(), "freshtrack migrate up") {
		t.Fatalf("serve on an unmigrated database = %v, want a refusal that says to run migrate up", err)
	}
}

func TestServeMigratesServesAndDrains(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.EmptyDB(t)
	e, _, logs := testEnv(map[string]string{"DATABASE_URL": url, "FRESHTRACK_STORAGE": string(pgtest.DefaultMode())})
	cfg, err := loadServeConfig(e, "--migrate", "--addr", "127.0.0.1:0", "--shutdown-timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, e, ready) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", logs)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status  string `json:"status"`
		Storage string `json:"storage"`
	}
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || r.Status != "ready" || r.Storage != string(pgtest.DefaultMode()) {
		t.Fatalf("readyz = %d %+v %v", resp.StatusCode, r, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v on shutdown\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not drain and stop\n%s", logs)
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Fatalf("no shutdown log:\n%s", logs)
	}
}
