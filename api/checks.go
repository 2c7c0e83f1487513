package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/auth"
)

// checkError maps the errors of a unit's manual checks to problems.
func checkError(err error) error { return capabilityError("unit", err) }

// manualCheckSchema is a manual check (alerting's wire form of it).
var manualCheckSchema = obj(map[string]any{
	"id":         map[string]any{"type": "string", "format": "uuid"},
	"unit_id":    map[string]any{"type": "string", "format": "uuid"},
	"checked_at": map[string]any{"type": "string", "format": "date-time"},
	"temp_c":     map[string]any{"type": "number"},
	"checked_by": map[string]any{"type": []string{"string", "null"}, "format": "uuid", "description": "the user who measured"},
	"notes":      map[string]any{"type": []string{"string", "null"}},
}, "id", "unit_id", "checked_at", "temp_c", "checked_by", "notes")

// registerManualChecks mounts a unit's manual temperature checks (alerting
// owns them).
func (r *Router) registerManualChecks() {
	checks := "/v1/orgs/:org/units/:id/manual-checks"
	r.Handle(Route{Method: "GET", Path: checks, Summary: "A unit's manual temperature checks, newest first", Tag: "units", Perm: auth.PermRead,
		Response: listSchema(manualCheckSchema)},
		func(c *fiber.Ctx) error {
			items, err := alerting.ListManualChecks(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"))
			if err != nil {
				return checkError(err)
			}
			return sendList(c, items)
		})
	r.Handle(Route{Method: "POST", Path: checks, Summary: "Record a manual temperature check (probe thermometer)", Tag: "units", Perm: auth.PermOperate,
		Success: fiber.StatusCreated, Response: manualCheckSchema,
		Request: obj(map[string]any{"temp_c": map[string]any{"type": "number", "minimum": -100, "maximum": 200},
			"checked_at": map[string]any{"type": "string", "format": "date-time"}, "notes": str}, "temp_c"),
		Example: func(map[string]string) map[string]any {
			return map[string]any{"temp_c": 3.2, "notes": "probe in the middle shelf"}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				TempC     *float64   `json:"temp_c"`
				CheckedAt *time.Time `json:"checked_at"`
				Notes     string     `json:"notes"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			item, err := alerting.RecordManualCheck(c.UserContext(), r.deps.Pool, alerting.ManualCheckParams{OrgID: OrgOf(c), UnitID: c.Params("id"),
				UserID: UserOf(c).ID, Actor: Actor(c), TempC: in.TempC, CheckedAt: in.CheckedAt, Notes: in.Notes})
			if err != nil {
				return checkError(err)
			}
			return sendJSON(c, fiber.StatusCreated, item)
		})
}
