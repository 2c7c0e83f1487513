package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/internal/replica"
	"github.com/freshtrack/freshtrack/schema"
)

// Config configures the app.
type Config struct {
	// Pool is the database pool used by readiness checks.
	Pool *database.Pool
	// Reads, when it has a replica, adds the replica's state to /readyz,
	// which never fails because of it: reads fall back to Pool. Defaults
	// to nil: no replica reported.
	Reads *replica.Reads
	// Logger receives request logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Version is reported by /readyz.
	Version string
	// MaxConns caps open connections (Fiber's Concurrency); past it new
	// ones are refused. Defaults to 8192.
	MaxConns int
	// MaxEvaluationLag is how far alert evaluation may trail ingest (the
	// age of the oldest evaluation_backlog row) before /readyz says
	// degraded. Defaults to 1m.
	MaxEvaluationLag time.Duration
	// Draining reports that the process is shutting down: /readyz then
	// answers 503, so load balancers stop sending it requests while it still
	// serves them. Nil: never.
	Draining func() bool
}

// New returns the Fiber app with the operational endpoints registered:
// /healthz, /readyz and /metrics.
func New(cfg Config) *fiber.App {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8192
	}
	if cfg.MaxEvaluationLag <= 0 {
		cfg.MaxEvaluationLag = time.Minute
	}
	app := fiber.New(fiber.Config{
		AppName:               "freshtrack",
		DisableStartupMessage: true,
		ErrorHandler:          problem.Handler(cfg.Logger),
		// Bodies are streamed: a handler runs once the headers are in, and
		// reads the body itself through httpbody, with its route's limit and
		// under admission. Nothing is read that no route asked for, and
		// multipart forms (which fasthttp would otherwise spool to disk
		// before any handler) are not parsed at all.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		Concurrency:                  cfg.MaxConns,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  120 * time.Second,
	})
	app.Use(requestLog(cfg.Logger))

	app.Get("/healthz", noBody, func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	app.Get("/readyz", noBody, readyz(cfg))
	app.Get("/metrics", noBody, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
		metrics.WritePrometheus(c.Response().BodyWriter(), true)
		return nil
	})
	return app
}

// NotFound registers the catch-all 404; call it after every route is added.
func NotFound(app *fiber.App) {
	app.Use(func(c *fiber.Ctx) error {
		return problem.NotFound("route " + c.Method() + " " + c.Path())
	})
}

// healthzSchema and readyzSchema document the answers of /healthz and
// /readyz (OperationalRoutes).
var (
	healthzSchema = obj(map[string]any{"status": map[string]any{"type": "string", "enum": []string{"ok"}}}, "status")
	readyzSchema  = refine(schemaOf(Readiness{}), map[string]map[string]any{
		"status":  {"enum": []string{"ready", "degraded", "not_ready"}, "description": "not_ready answers 503 with this body"},
		"replica": {"description": "the streaming replica's state (caught_up, within_lag, lagging, unreachable or not_standby), when one is configured; it never changes status"},
	})
)

// Readiness is the body of /readyz.
type Readiness struct {
	// Status is ready, degraded (serving, but TimescaleDB jobs fail) or not_ready.
	Status        string      `json:"status"`
	Database      string      `json:"database"`
	Storage       schema.Mode `json:"storage"`
	SchemaVersion uint        `json:"schema_version"`
	SchemaLatest  uint        `json:"schema_latest"`
	RiverVersion  int         `json:"river_version"`
	FailingJobs   int         `json:"failing_jobs"`
	// JobErrors names each failing TimescaleDB job with its last error.
	JobErrors []schema.FailingJob `json:"job_errors,omitempty"`
	// EvaluationLagSeconds is how far alert evaluation trails ingest: the
	// age of the oldest committed batch not yet evaluated (0: none), and
	// EvaluationBacklog about how many such batches there are. Past
	// Config.MaxEvaluationLag the status is degraded: alerts are late.
	EvaluationLagSeconds float64 `json:"evaluation_lag_s"`
	EvaluationBacklog    int64   `json:"evaluation_backlog"`
	Version              string  `json:"version"`
	Detail               string  `json:"detail,omitempty"`
	// Replica is the state of the streaming replica that serves series,
	// latest values and reports; absent without one. It never changes
	// Status: while it lags or is down, those reads go to the primary.
	Replica *replica.Status `json:"replica,omitempty"`
}

func readyz(cfg Config) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if cfg.Draining != nil && cfg.Draining() {
			return c.Status(fiber.StatusServiceUnavailable).JSON(Readiness{Status: "not_ready", Version: cfg.Version,
				Detail: "shutting down: finishing the requests in flight; send new ones to another instance"})
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		st, err := schema.CheckCurrent(ctx, cfg.Pool)
		r := Readiness{
			Status: "ready", Database: "ok", Storage: st.Mode, Version: cfg.Version,
			SchemaVersion: st.Version, SchemaLatest: st.Latest, RiverVersion: st.RiverVersion, FailingJobs: st.FailingJobs,
			JobErrors: st.JobErrors,
		}
		switch {
		case errors.Is(err, schema.ErrOutdated):
			r.Status, r.Detail = "not_ready", err.Error()
		case err != nil:
			r.Status, r.Database, r.Detail = "not_ready", "unreachable", err.Error()
		case st.FailingJobs > 0:
			r.Status, r.Detail = "degraded", failingJobsDetail(st.JobErrors)
		}
		if err == nil {
			if lag, n, lerr := alerting.BacklogLag(ctx, cfg.Pool); lerr == nil {
				r.EvaluationLagSeconds, r.EvaluationBacklog = lag.Seconds(), n
				if lag > cfg.MaxEvaluationLag && r.Status == "ready" {
					r.Status, r.Detail = "degraded", fmt.Sprintf(
						"alert evaluation trails ingest by %s (%d batches waiting): alerts are late; see freshtrack_alerting_lag_seconds",
						lag.Round(time.Second), n)
				}
			}
		}
		if cfg.Reads != nil {
			r.Replica = cfg.Reads.Status(ctx)
		}
		code := fiber.StatusOK
		if r.Status == "not_ready" {
			code = fiber.StatusServiceUnavailable
		}
		return c.Status(code).JSON(r)
	}
}

// failingJobsDetail names the failing jobs and the first one's error, so the
// line in a load balancer's log says what to look at.
func failingJobsDetail(jobs []schema.FailingJob) string {
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.Name
	}
	d := "TimescaleDB background jobs are failing: " + strings.Join(names, ", ")
	if len(jobs) > 0 && jobs[0].LastError != "" {
		d += "; " + jobs[0].Name + ": " + jobs[0].LastError
	}
	return d + " (timescaledb_information.job_errors has the history)"
}
