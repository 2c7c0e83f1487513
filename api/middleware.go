package api

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/reqid"
)

// requestLog gives every request its id (a proxy's X-Request-Id when it
// sent a sane one), answered in X-Request-Id and logged with every line
// logged with the request's context; it logs every request with slog and
// counts it in
// freshtrack_http_requests_total / freshtrack_http_errors_total and the
// freshtrack_http_request_duration_seconds histogram, labelled by route
// pattern (never the raw path, which would explode cardinality).
func requestLog(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		id := reqid.Accept(c.Get(reqid.Header))
		c.SetUserContext(reqid.With(c.UserContext(), id))
		c.Set(reqid.Header, id)
		err := c.Next()
		if err != nil {
			// Let the error handler write the response now so the status is known.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		elapsed := time.Since(start)
		route := c.Route().Path
		if status == fiber.StatusNotFound && route == "/" {
			route = "unmatched"
		}
		metrics.GetOrCreateCounter(fmt.Sprintf(`freshtrack_http_requests_total{path=%q}`, route)).Inc()
		if status >= 500 {
			metrics.GetOrCreateCounter(fmt.Sprintf(`freshtrack_http_errors_total{path=%q}`, route)).Inc()
		}
		metrics.GetOrCreateHistogram(fmt.Sprintf(`freshtrack_http_request_duration_seconds{path=%q}`, route)).Update(elapsed.Seconds())
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case route == "/healthz" || route == "/readyz" || route == "/metrics":
			level = slog.LevelDebug
		}
		log.LogAttrs(c.UserContext(), level, "request",
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Duration("duration", elapsed),
			slog.Int("bytes_in", httpbody.BytesIn(c)),
			slog.Int("bytes_out", bytesOut(c)),
			slog.String("remote", c.IP()),
		)
		return nil
	}
}

// bytesOut is the size of the response body, or -1 for a streamed one (an
// event stream): Body() would read a stream to its end, which for an event
// stream never comes.
func bytesOut(c *fiber.Ctx) int {
	if c.Response().IsBodyStream() {
		return -1
	}
	return len(c.Response().Body())
}
