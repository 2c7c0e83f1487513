package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/reqid"
	"github.com/freshtrack/freshtrack/schema"
)

func get(t *testing.T, app *fiber.App, path string) (int, string, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestReadyzReportsStorageMode(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	app := api.New(api.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	api.NotFound(app)

	code, _, body := get(t, app, "/readyz")
	var r api.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if code != 200 || r.Status != "ready" || r.Storage != pgtest.DefaultMode() || r.SchemaVersion != schema.LatestVersion() || r.FailingJobs != 0 {
		t.Fatalf("readyz = %d %s", code, body)
	}

	// An outdated schema makes the process not ready.
	if err := schema.Down(context.Background(), pool, 1, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	code, _, body = get(t, app, "/readyz")
	if code != 503 || !strings.Contains(body, `"not_ready"`) || !strings.Contains(body, "migrate up") {
		t.Fatalf("readyz on an old schema = %d %s", code, body)
	}
}

// TestReadyzNotReadyWhileDraining: from the shutdown signal on, /readyz
// answers 503 so that a load balancer takes the instance out of rotation
// before it stops accepting connections; the other routes still answer.
func TestReadyzNotReadyWhileDraining(t *testing.T) {
	t.Parallel()
	var draining atomic.Bool
	app := api.New(api.Config{Pool: pgtest.NewDB(t), Logger: slog.New(slog.DiscardHandler), Version: "test", Draining: draining.Load})
	api.NotFound(app)
	if code, _, body := get(t, app, "/readyz"); code != 200 {
		t.Fatalf("readyz before the shutdown = %d %s", code, body)
	}
	draining.Store(true)
	code, _, body := get(t, app, "/readyz")
	var r api.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if code != 503 || r.Status != "not_ready" || !strings.Contains(r.Detail, "shutting down") {
		t.Fatalf("readyz while draining = %d %s", code, body)
	}
	if code, _, body := get(t, app, "/healthz"); code != 200 {
		t.Fatalf("healthz while draining = %d %s", code, body)
	}
}

// TestReadyzDegradedByFailingTimescaleJobs: a TimescaleDB background job
// that fails leaves the process serving (200) but degraded, and /readyz
// names the job and its error.
func TestReadyzDegradedByFailingTimescaleJobs(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t, pgtest.WithMode(schema.Timescale))
	app := api.New(api.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	api.NotFound(app)
	name := pgtest.FailTimescaleJob(t, pool, "disk quota exceeded on tablespace fast")

	code, _, body := get(t, app, "/readyz")
	var r api.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if code != 200 || r.Status != "degraded" || r.FailingJobs != 1 || len(r.JobErrors) != 1 {
		t.Fatalf("readyz with a failing job = %d %s", code, body)
	}
	j := r.JobErrors[0]
	if j.Name != name || j.Failures < 1 || j.FailedAt.IsZero() || !strings.Contains(j.LastError, "disk quota exceeded on tablespace fast") || !strings.Contains(j.LastError, "P0001") {
		t.Fatalf("failing job reported as %+v, want %q with its error", j, name)
	}
	if !strings.Contains(r.Detail, name) || !strings.Contains(r.Detail, "disk quota exceeded") {
		t.Fatalf("readyz detail %q does not name the job and its error", r.Detail)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	app := api.New(api.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler)})
	api.NotFound(app)

	if code, _, body := get(t, app, "/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz = %d %s", code, body)
	}
	code, ctype, body := get(t, app, "/no/such/route")
	if code != 404 || ctype != "application/problem+json" || !strings.Contains(body, `"status":404`) {
		t.Fatalf("unknown route = %d %s %s", code, ctype, body)
	}
	code, _, body = get(t, app, "/metrics")
	if code != 200 || !strings.Contains(body, `freshtrack_http_requests_total{path="/healthz"}`) {
		t.Fatalf("metrics = %d, missing request counter:\n%s", code, body)
	}
}

// TestReadyzDegradedByEvaluationLag: committed readings waiting for alert
// evaluation longer than MaxEvaluationLag leave the process serving but
// degraded, with the lag and the backlog in the answer.
func TestReadyzDegradedByEvaluationLag(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	app := api.New(api.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	api.NotFound(app)
	readiness := func() (int, api.Readiness) {
		t.Helper()
		code, _, body := get(t, app, "/readyz")
		var r api.Readiness
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("readyz body %q: %v", body, err)
		}
		return code, r
	}
	if code, r := readiness(); code != 200 || r.Status != "ready" || r.EvaluationLagSeconds != 0 || r.EvaluationBacklog != 0 {
		t.Fatalf("readyz with no backlog = %d %+v", code, r)
	}
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO evaluation_backlog (owner, committed_at, sensor_ids, first_times, last_times)
		VALUES (1, now() - interval '5 minutes', '{1}', '{2026-01-01}', '{2026-01-01}'),
		       (1, now() - interval '4 minutes', '{1}', '{2026-01-01}', '{2026-01-01}')`); err != nil {
		t.Fatal(err)
	}
	code, r := readiness()
	if code != 200 || r.Status != "degraded" || r.EvaluationLagSeconds < 299 || r.EvaluationBacklog != 2 || !strings.Contains(r.Detail, "alert evaluation trails ingest") {
		t.Fatalf("readyz with a 5-minute backlog = %d %+v", code, r)
	}
}

// TestRequestIDs: every answer carries X-Request-Id, a proxy's sane id is
// kept, and the request's log line (and a 500's detail) names it.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	var logs syncBuf
	app := api.New(api.Config{Logger: slog.New(reqid.Handler(slog.NewJSONHandler(&logs, nil)))})
	app.Get("/boom", func(c *fiber.Ctx) error { return errors.New("the database went away") })
	api.NotFound(app)
	call := func(path, incoming string) (*http.Response, string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if incoming != "" {
			req.Header.Set("X-Request-Id", incoming)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := call("/healthz", "caddy-41f2"); resp.Header.Get("X-Request-Id") != "caddy-41f2" {
		t.Errorf("a proxy's id was not kept: %q", resp.Header.Get("X-Request-Id"))
	}
	if resp, _ := call("/healthz", "bad id\twith tabs"); len(resp.Header.Get("X-Request-Id")) != 32 {
		t.Errorf("a bad id was not replaced: %q", resp.Header.Get("X-Request-Id"))
	}
	resp, body := call("/boom", "")
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 500 || len(id) != 32 || !strings.Contains(body, "request id "+id) || strings.Contains(body, "database went away") {
		t.Errorf("500: %d %q %s", resp.StatusCode, id, body)
	}
	var failed, logged bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		_ = json.Unmarshal([]byte(line), &rec)
		if rec["request_id"] == id {
			failed = failed || rec["msg"] == "request failed"
			logged = logged || (rec["msg"] == "request" && rec["path"] == "/boom")
		}
	}
	if !failed || !logged {
		t.Errorf("the 500's log lines do not carry its request id %s:\n%s", id, logs.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
