package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/digest"
	"github.com/freshtrack/freshtrack/internal/problem"
)

func digestError(err error) error { return capabilityError("digest subscription", err) }

var subscriptionSchema = refine(schemaOf(digest.Subscription{}), map[string]map[string]any{
	"frequency":  {"enum": []string{"daily", "weekly"}},
	"local_hour": {"minimum": 0, "maximum": 23, "description": "the hour, in timezone, from which the digest is sent"},
	"weekday":    {"minimum": 0, "maximum": 6, "description": "the day a weekly digest is sent: 0 = Sunday ... 6 = Saturday"},
	"timezone":   {"description": "IANA time zone of the digest's days and hours"},
	"email":      {"format": "email"},
	"site_ids":   {"type": []string{"array", "null"}, "items": map[string]any{"type": "string", "format": "uuid"}, "description": "only these sites; null is every site"},
})

// registerDigests mounts the signed-in member's own digest subscriptions.
func (r *Router) registerDigests() {
	sub := map[string]any{"type": "object", "properties": map[string]any{
		"frequency": map[string]any{"type": "string", "enum": []string{"daily", "weekly"}}, "local_hour": map[string]any{"type": "integer", "minimum": 0, "maximum": 23},
		"weekday": map[string]any{"type": "integer", "minimum": 0, "maximum": 6}, "timezone": str, "email": map[string]any{"type": "string", "format": "email"},
		"enabled":  map[string]any{"type": "boolean"},
		"site_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string", "format": "uuid"}, "description": "only these sites; [] for every site"},
	}}
	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/digest", Summary: "Your daily and weekly digest subscriptions in this organisation", Tag: "digests", Perm: auth.PermRead,
		Response: listSchema(subscriptionSchema)},
		func(c *fiber.Ctx) error {
			subs, err := digest.Get(c.UserContext(), r.deps.Pool, OrgOf(c), UserOf(c).ID)
			if err != nil {
				return digestError(err)
			}
			return sendList(c, subs)
		})
	r.Handle(Route{Method: "PUT", Path: "/v1/orgs/:org/digest/:frequency", Summary: "Subscribe to (or change) your daily or weekly digest, sent at a local hour", Tag: "digests", Perm: auth.PermRead,
		Request: sub, Response: subscriptionSchema,
		Example: func(map[string]string) map[string]any {
			return map[string]any{"local_hour": 7, "timezone": "Europe/Berlin"}
		}},
		func(c *fiber.Ctx) error {
			var p digest.PutParams
			if len(c.Body()) > 0 {
				if err := strictBody(c, &p); err != nil {
					return err
				}
			}
			if p.Frequency != "" && p.Frequency != c.Params("frequency") {
				return problem.Validation(problem.FieldError{Field: "frequency", Reason: "must match the path"})
			}
			p.OrgID, p.UserID, p.Frequency = OrgOf(c), UserOf(c).ID, c.Params("frequency")
			s, err := digest.Put(c.UserContext(), r.deps.Pool, p)
			if err != nil {
				return digestError(err)
			}
			return c.JSON(s)
		})
	r.Handle(Route{Method: "DELETE", Path: "/v1/orgs/:org/digest/:frequency", Summary: "Unsubscribe from a digest", Tag: "digests", Perm: auth.PermRead, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			if err := digest.Delete(c.UserContext(), r.deps.Pool, OrgOf(c), UserOf(c).ID, c.Params("frequency")); err != nil {
				return digestError(err)
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}
