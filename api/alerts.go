package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/notify"
)

// alertError maps the alerting package's errors to problems.
func alertError(err error) error {
	var ce *alerting.ConflictError
	if errors.As(err, &ce) {
		return problem.New(fiber.StatusConflict, "conflict", "Conflict", ce.Error())
	}
	return capabilityError("alert", err)
}

// strictBody decodes a JSON object body into v, refusing unknown fields.
// The router has checked it is JSON and UTF-8 (jsonBody).
func strictBody(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem.BadRequest("the body must be a JSON object with the documented fields: " + err.Error())
	}
	return nil
}

func obj(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

var (
	str = map[string]any{"type": "string"}
	// alertSchema is an alert (ack and resolve answer it too); the list
	// and the detail add to it.
	alertSchema       = alertKeywords(schemaOf(alerting.Alert{}))
	alertDetailSchema = alertKeywords(refine(schemaOf(alerting.AlertDetail{}), map[string]map[string]any{
		"events":             {"description": "the alert's history, oldest first"},
		"corrective_actions": {"description": "what was done about the excursion, recorded when resolving"},
		"notifications":      {"description": "the delivery record of every message sent about it"},
		"notification": {"description": "who was told and why: the notification policy the alert followed (null: the site's escalation policy " +
			"or the built-in steps) with the scope that matched, a sentence saying why it applied, and one decision per contact and channel each step " +
			"considered (decision: notified, quiet_hours, opted_out, no_address, off_shift, below_severity; purpose: notify, deferred, reminder, resolved)"},
	}))
	alertEventSchema = refine(schemaOf(alerting.Event{}), map[string]map[string]any{
		"kind":    {"description": "triggered, notified, escalated, acknowledged, comment, resolved, auto_resolved, ..."},
		"details": {"description": "depends on kind, e.g. a comment's text"},
	})
)

// alertKeywords documents an alert's fields that a type cannot tell.
func alertKeywords(s map[string]any) map[string]any {
	return refine(s, map[string]map[string]any{
		"kind": {"description": "the rule kind: temp_high, temp_low, sensor_offline, battery_low, sensor_fault, or a food-safety kind " +
			"(trend_warning, door_open, time_out_of_temp, cooling, manual_log_missed, calibration_due, sensor_implausible)"},
		"summary":         {"description": "a food-safety alert's one sentence, as its messages say it; absent for the other kinds"},
		"severity":        {"enum": []string{"info", "warning", "critical"}},
		"status":          {"enum": []string{alerting.StatusTriggered, alerting.StatusAcknowledged, alerting.StatusResolved}},
		"threshold":       {"description": "the rule's threshold: °C for temperature alerts, minutes for sensor_offline, percent for battery_low"},
		"sensor_id":       {"description": "public id of the sensor whose reading opened it; absent for sensor_offline alerts"},
		"peak_c":          {"description": "the worst temperature of the excursion (temperature alerts only)"},
		"escalation_step": {"description": "the last escalation step sent (0: the first)"},
	})
}

func (r *Router) registerAlerts() {
	base := "/v1/orgs/:org/alerts"
	r.Handle(Route{Method: "GET", Path: base, Summary: "List alerts, newest first", Tag: "alerts", Perm: auth.PermRead,
		Params: []Param{
			{Name: "status", Description: "open, triggered, acknowledged or resolved", Schema: str},
			{Name: "unit", Description: "only this unit's alerts", Schema: str},
			{Name: "from", Description: "opened at or after (RFC 3339)", Schema: str},
			{Name: "to", Description: "opened before (RFC 3339)", Schema: str},
			{Name: "cursor", Description: "next_cursor of the previous page", Schema: str},
			{Name: "limit", Description: "page size, 1-200 (default 50)", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 200}},
		},
		Response: listSchema(alertSchema)},
		func(c *fiber.Ctx) error {
			p := alerting.ListParams{OrgID: OrgOf(c), Status: c.Query("status"), UnitID: c.Query("unit"), Cursor: c.Query("cursor")}
			var errs []problem.FieldError
			for name, dst := range map[string]*time.Time{"from": &p.From, "to": &p.To} {
				if v := c.Query(name); v != "" {
					t, err := time.Parse(time.RFC3339, v)
					if err != nil {
						errs = append(errs, problem.FieldError{Field: name, Reason: "must be an RFC 3339 time"})
					}
					*dst = t
				}
			}
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			limit, err := pageLimit(c)
			if err != nil {
				return err
			}
			p.Limit = limit
			if l := InspectorOf(c); l != nil {
				p.Scope = &alerting.SiteScope{SiteIDs: l.SiteIDs(), PeriodFrom: l.PeriodFrom, PeriodTo: l.PeriodTo}
			}
			page, err := alerting.ListAlerts(c.UserContext(), r.deps.Pool, p)
			if err != nil {
				return alertError(err)
			}
			return c.JSON(page)
		})
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get an alert with its events, corrective actions and notifications", Tag: "alerts", Perm: auth.PermRead, Response: alertDetailSchema},
		func(c *fiber.Ctx) error {
			a, err := alerting.GetAlert(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"))
			if err != nil {
				return alertError(err)
			}
			if InspectorOf(c) != nil {
				// Who was messaged, and at which number, is not the
				// inspector's business; what was done about it is.
				a.Notifications = []alerting.Notification{}
			}
			return c.JSON(a)
		})
	r.Handle(Route{Method: "POST", Path: base + "/:id/ack", Summary: "Acknowledge an alert; its escalation stops", Tag: "alerts", Perm: auth.PermOperate,
		Request: obj(map[string]any{"comment": str}), Response: alertSchema,
		Example: func(map[string]string) map[string]any { return map[string]any{"comment": "on it"} }},
		func(c *fiber.Ctx) error {
			var in struct {
				Comment string `json:"comment"`
			}
			if len(c.Body()) > 0 {
				if err := strictBody(c, &in); err != nil {
					return err
				}
			}
			a, err := alerting.Acknowledge(c.UserContext(), r.deps.Pool, alerting.AckParams{OrgID: OrgOf(c), AlertID: c.Params("id"), UserID: UserOf(c).ID, Comment: in.Comment})
			if err != nil {
				return alertError(err)
			}
			return c.JSON(a)
		})
	r.Handle(Route{Method: "POST", Path: base + "/:id/resolve", Summary: "Resolve an alert with the corrective action taken (required for temperature alerts)", Tag: "alerts", Perm: auth.PermOperate,
		Request:  obj(map[string]any{"action": str, "disposition": map[string]any{"type": "string", "enum": []string{"kept", "moved", "reheated", "discarded", "other"}}, "notes": str}),
		Response: alertSchema,
		Example: func(map[string]string) map[string]any {
			return map[string]any{"action": "moved stock to the walk-in, called the technician", "disposition": "moved"}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				Action      string `json:"action"`
				Disposition string `json:"disposition"`
				Notes       string `json:"notes"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			a, err := alerting.Resolve(c.UserContext(), r.deps.Pool, alerting.ResolveParams{OrgID: OrgOf(c), AlertID: c.Params("id"), UserID: UserOf(c).ID,
				Action: in.Action, Disposition: in.Disposition, Notes: in.Notes})
			if err != nil {
				return alertError(err)
			}
			// The resolved messages its notification policy may ask for go
			// out now; the sweep sends them if this fails.
			if r.deps.Alerts != nil {
				if err := r.deps.Alerts.NotifyResolved(c.UserContext(), a.ID); err != nil {
					r.deps.Logger.Warn("cannot enqueue the resolved messages; the sweep will", "alert_id", a.ID, "err", err)
				}
			}
			return c.JSON(a)
		})
	r.Handle(Route{Method: "POST", Path: base + "/:id/comments", Summary: "Add a comment to an alert's history", Tag: "alerts", Perm: auth.PermOperate,
		Success: fiber.StatusCreated, Request: obj(map[string]any{"text": str}, "text"), Response: alertEventSchema,
		Example: func(map[string]string) map[string]any { return map[string]any{"text": "door seal replaced"} }},
		func(c *fiber.Ctx) error {
			var in struct {
				Text string `json:"text"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			ev, err := alerting.Comment(c.UserContext(), r.deps.Pool, alerting.CommentParams{OrgID: OrgOf(c), AlertID: c.Params("id"), UserID: UserOf(c).ID, Text: in.Text})
			if err != nil {
				return alertError(err)
			}
			return c.Status(fiber.StatusCreated).JSON(ev)
		})
}

// notificationSchema is a row of the delivery log
// (notify.ListNotifications).
var notificationSchema = obj(map[string]any{
	"id":                map[string]any{"type": "string", "format": "uuid"},
	"alert_id":          map[string]any{"type": []string{"string", "null"}, "format": "uuid", "description": "null for messages about no alert"},
	"contact_id":        map[string]any{"type": []string{"string", "null"}, "format": "uuid"},
	"channel":           map[string]any{"type": "string", "enum": []string{"sms", "email"}},
	"recipient":         str,
	"status":            map[string]any{"type": "string", "description": "queued, sending, sent, delivered, failed, not_configured, cancelled or suppressed"},
	"suppressed_reason": map[string]any{"type": []string{"string", "null"}, "description": "why a suppressed message was not sent (an SMS rate limit)"},
	"provider_id":       map[string]any{"type": []string{"string", "null"}, "description": "the SMS or email provider's message id"},
	"attempts":          map[string]any{"type": "integer"},
	"last_error":        map[string]any{"type": []string{"string", "null"}},
	"created_at":        map[string]any{"type": "string", "format": "date-time"},
	"sent_at":           map[string]any{"type": []string{"string", "null"}, "format": "date-time"},
	"delivered_at":      map[string]any{"type": []string{"string", "null"}, "format": "date-time"},
}, "id", "alert_id", "contact_id", "channel", "recipient", "status", "provider_id", "attempts", "last_error", "created_at", "sent_at", "delivered_at")

// registerNotifications mounts the delivery log (notify owns it).
func (r *Router) registerNotifications() {
	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/notifications", Summary: "The delivery log: every SMS and email attempt", Tag: "alerts", Perm: auth.PermRead,
		Params:   []Param{{Name: "alert", Description: "only this alert's notifications", Schema: str}},
		Response: listSchema(notificationSchema)},
		func(c *fiber.Ctx) error {
			alert := c.Query("alert")
			if alert != "" && !uuids.Valid(alert) {
				return problem.Validation(problem.FieldError{Field: "alert", Reason: "must be an alert id"})
			}
			items, err := notify.ListNotifications(c.UserContext(), r.deps.Pool, OrgOf(c), alert)
			if err != nil {
				return err
			}
			return sendList(c, items)
		})
}
