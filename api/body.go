package api

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/problem"
)

// DefaultMaxJSONBody is the largest body, once decoded, that a route other
// than ingest accepts: resources, alerts, digests and webhooks carry a few
// kilobytes.
const DefaultMaxJSONBody = 1 << 20

// RawBodyPaths are the routes that read and limit their bodies themselves
// (ingest streams gzip with its own, larger limit).
var RawBodyPaths = map[string]bool{"/v1/readings": true, "/v1/ingest/ttn": true}

var mBodyRefused = map[string]*metrics.Counter{
	"too_large": metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="too_large"}`),
	"encoding":  metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="encoding"}`),
	"corrupt":   metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="corrupt"}`),
}

// limitBodies is the one body reader in front of every route but
// RawBodyPaths: a compressed body (gzip or deflate) is decompressed here,
// streamed and cut off at limit, and replaced by its decoded bytes, so that
// no handler's c.Body() ever decompresses without a limit (Fiber's does: one
// gzip bomb of a few megabytes expands to gigabytes). Bodies over limit, raw
// or decoded, get 413; other encodings 415; corrupt streams 400.
func limitBodies(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if RawBodyPaths[c.Path()] {
			return c.Next()
		}
		req := c.Request()
		tooLarge := func() error {
			mBodyRefused["too_large"].Inc()
			return problem.New(fiber.StatusRequestEntityTooLarge, "too-large", "Request body too large",
				fmt.Sprintf("this route accepts bodies of at most %d bytes once decoded", limit))
		}
		raw := req.Body()
		enc := strings.ToLower(strings.TrimSpace(string(req.Header.Peek(fiber.HeaderContentEncoding))))
		var r io.Reader
		switch enc {
		case "", "identity":
			if len(raw) > limit {
				return tooLarge()
			}
			return c.Next()
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				mBodyRefused["corrupt"].Inc()
				return problem.BadRequest("the body is not valid gzip: " + err.Error())
			}
			defer zr.Close()
			r = zr
		case "deflate": // RFC 9110: the zlib format
			zr, err := zlib.NewReader(bytes.NewReader(raw))
			if err != nil {
				mBodyRefused["corrupt"].Inc()
				return problem.BadRequest("the body is not valid deflate (zlib): " + err.Error())
			}
			defer zr.Close()
			r = zr
		default:
			mBodyRefused["encoding"].Inc()
			return problem.New(fiber.StatusUnsupportedMediaType, "unsupported-encoding", "Unsupported content encoding",
				"Content-Encoding must be gzip, deflate or absent")
		}
		var buf bytes.Buffer
		n, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
		switch {
		case n > int64(limit):
			return tooLarge()
		case err != nil && !errors.Is(err, io.EOF):
			mBodyRefused["corrupt"].Inc()
			return problem.BadRequest("the body is not valid " + enc + ": " + err.Error())
		}
		req.Header.Del(fiber.HeaderContentEncoding)
		req.SetBodyRaw(buf.Bytes())
		return c.Next()
	}
}
