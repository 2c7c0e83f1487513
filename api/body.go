package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// DefaultMaxJSONBody is the largest body, once decoded, that a route other
// than ingest accepts: resources, alerts, digests and webhooks carry a few
// kilobytes.
const DefaultMaxJSONBody = 1 << 20

// jsonBody reads the body of a route that documents one, after the caller
// was authenticated and authorised: a JSON Content-Type, at most limit
// bytes once decompressed, one JSON text, UTF-8 throughout. The handler's
// c.Body() then returns the decoded bytes. An empty body is left for the
// handler to accept (optional bodies) or refuse.
func jsonBody(adm *httpbody.Admission, limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !httpbody.HasBody(c) {
			return c.Next()
		}
		if ct := string(c.Request().Header.ContentType()); !httpbody.IsJSON(ct) {
			return httpbody.WrongContentType(ct, "application/json")
		}
		b, err := httpbody.Read(c, adm, httpbody.Options{Limit: limit})
		defer b.Close()
		if err != nil {
			return err
		}
		if err := httpbody.CheckJSON(b.Bytes); err != nil {
			return err
		}
		req := c.Request()
		req.Header.Del(fiber.HeaderContentEncoding)
		req.SetBodyRaw(b.Bytes)
		defer req.ResetBody() // b's buffers go back to the pool
		return c.Next()
	}
}

// noBody refuses a body on a route that documents none, rather than
// ignoring it: a client sending one has misunderstood the route.
func noBody(c *fiber.Ctx) error {
	if httpbody.HasBody(c) {
		return problem.BadRequest(c.Method() + " " + c.Route().Path + " takes no request body; send none")
	}
	return c.Next()
}
