package compat

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/freshtrack/freshtrack/internal/httpbody"
)

// HealthConfig configures FreshTrack Pro's health routes.
type HealthConfig struct {
	// Pool is checked with SELECT 1.
	Pool *pgxpool.Pool
	// Redis, when set, is pinged and reported; its failure degrades the
	// status without failing it, as in FreshTrack Pro.
	Redis *redis.Client
	// Version and Environment are reported as they are.
	Version, Environment string
	// Started is when the process started, for "uptime". Defaults to now.
	Started time.Time
	// Timeout bounds each check. Defaults to 2s.
	Timeout time.Duration
	// Logger receives failed checks. Defaults to slog.Default().
	Logger *slog.Logger
}

// Check is one dependency's health.
type Check struct {
	Status    string `json:"status"` // pass or fail
	LatencyMS *int64 `json:"latency_ms,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Health is the answer of GET /health.
type Health struct {
	// Status is healthy, degraded (Redis fails) or unhealthy (the database
	// fails; answered with 503).
	Status      string           `json:"status"`
	Uptime      float64          `json:"uptime"`
	Timestamp   string           `json:"timestamp"`
	Version     string           `json:"version"`
	Environment string           `json:"environment"`
	Checks      map[string]Check `json:"checks"`
}

// RegisterHealth adds GET /health, /health/ready and /health/live in
// FreshTrack Pro's shapes, for the monitors (Uptime Kuma, Docker health
// checks, scripts/health-check.sh) that watched it.
func RegisterHealth(app *fiber.App, cfg HealthConfig) {
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	database := func(ctx context.Context) Check {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		start := time.Now()
		if _, err := cfg.Pool.Exec(ctx, `SELECT 1`); err != nil {
			log.Warn("health: database check failed", "err", err)
			return Check{Status: "fail", Message: "Database unreachable"}
		}
		ms := time.Since(start).Milliseconds()
		return Check{Status: "pass", LatencyMS: &ms}
	}
	app.Get("/health", handle(log, func(c *fiber.Ctx) error {
		if err := noBody(c); err != nil {
			return err
		}
		h := Health{Status: "healthy", Uptime: time.Since(cfg.Started).Seconds(),
			Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), Version: cfg.Version, Environment: cfg.Environment,
			Checks: map[string]Check{"database": database(c.UserContext())}}
		if cfg.Redis != nil {
			ctx, cancel := context.WithTimeout(c.UserContext(), cfg.Timeout)
			start := time.Now()
			err := cfg.Redis.Ping(ctx).Err()
			cancel()
			ms := time.Since(start).Milliseconds()
			if err != nil {
				log.Warn("health: redis check failed", "err", err)
				h.Checks["redis"] = Check{Status: "fail", LatencyMS: &ms, Message: "Redis unreachable"}
				h.Status = "degraded"
			} else {
				h.Checks["redis"] = Check{Status: "pass", LatencyMS: &ms}
			}
		}
		if h.Checks["database"].Status != "pass" {
			h.Status = "unhealthy"
			return send(c, fiber.StatusServiceUnavailable, h)
		}
		return send(c, fiber.StatusOK, h)
	}))
	app.Get("/health/ready", handle(log, func(c *fiber.Ctx) error {
		if err := noBody(c); err != nil {
			return err
		}
		if database(c.UserContext()).Status != "pass" {
			return send(c, fiber.StatusServiceUnavailable, fiber.Map{"ready": false, "reason": "Database not available"})
		}
		return send(c, fiber.StatusOK, fiber.Map{"ready": true})
	}))
	app.Get("/health/live", handle(log, func(c *fiber.Ctx) error {
		if err := noBody(c); err != nil {
			return err
		}
		return send(c, fiber.StatusOK, fiber.Map{"alive": true})
	}))
}

// noBody refuses a body on a route that takes none.
func noBody(c *fiber.Ctx) error {
	if httpbody.HasBody(c) {
		return newError(fiber.StatusBadRequest, c.Method()+" "+c.Route().Path+" takes no request body; send none")
	}
	return nil
}
