package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/records"
)

var (
	calibrationSchema = refine(schemaOf(records.Calibration{}), map[string]map[string]any{
		"sensor_id":    {"format": "uuid", "description": "the sensor's public id"},
		"due_at":       {"description": "when the next calibration is due; the calibration_due rule warns ahead of it"},
		"offset_c":     {"description": "the correction applied to the sensor's readings, °C"},
		"performed_by": {"format": "uuid", "description": "the user who recorded it"},
	})
	coolingSchema = refine(schemaOf(records.CoolingLog{}), map[string]map[string]any{
		"source":          {"enum": []string{"manual", "detected"}},
		"status":          {"enum": []string{records.CoolingRunning, records.CoolingPassed, records.CoolingFailed, records.CoolingCancelled}},
		"started_by":      {"format": "uuid", "description": "the user who started a manual cycle"},
		"stage1_deadline": {"description": "started_at + 2 h: the food must be at stage1_target_c (21 °C) by then"},
		"stage2_deadline": {"description": "started_at + 6 h: the food must be at stage2_target_c (5 °C) by then"},
		"failed_stage":    {"enum": []any{1, 2, nil}, "description": "the stage a failed cycle missed"},
		"last_c":          {"description": "the latest temperature the detectors saw"},
	})
	unitEventsSchema = refine(schemaOf(records.UnitEvents{}), map[string]map[string]any{
		"items": {"items": refine(schemaOf(records.UnitEvent{}), map[string]map[string]any{
			"kind":          {"enum": records.UnitEventKinds},
			"source":        {"enum": []string{"detected", "sensor"}, "description": "detected from the temperature, or reported by a door sensor"},
			"ended_at":      {"description": "null while it lasts"},
			"within_bounds": {"description": "false for a defrost that ran longer or hotter than the learned pattern allows"},
			"details":       {"type": "object", "additionalProperties": true, "description": "what the detector recorded about it"},
		}), "description": "the events that overlap the window, latest start first"},
		"next_cursor":     {"description": "pass as ?cursor= for the next page; null on the last page"},
		"defrost_pattern": {"description": "the unit's learned defrost cycle; null while none was learned"},
	})
	pageParams = []Param{
		{Name: "cursor", Description: "next_cursor of the previous page", Schema: str},
		{Name: "limit", Description: "page size, 1-200 (default 50)", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 200}},
	}
)

// recordError maps the errors of records to problems; what names the
// resource of the path.
func recordError(what string, err error) error { return capabilityError(what, err) }

// windowParams reads from and to (RFC 3339, optional).
func windowParams(c *fiber.Ctx) (from, to time.Time, err error) {
	f, e1 := timeParam(c, "from", time.Time{})
	t, e2 := timeParam(c, "to", time.Time{})
	var errs []problem.FieldError
	for _, e := range []*problem.FieldError{e1, e2} {
		if e != nil {
			errs = append(errs, *e)
		}
	}
	if len(errs) > 0 {
		return time.Time{}, time.Time{}, problem.Validation(errs...)
	}
	return f, t, nil
}

// registerRecords mounts what people record about their equipment and
// what the detectors recognised (records owns them): calibrations,
// cooling logs and unit events.
func (r *Router) registerRecords() {
	cal := "/v1/orgs/:org/sensors/:id/calibrations"
	r.Handle(Route{Method: "GET", Path: cal, Summary: "A sensor's calibration records, newest first", Tag: "sensors", Perm: auth.PermRead,
		Response: listSchema(calibrationSchema)},
		func(c *fiber.Ctx) error {
			items, err := records.ListCalibrations(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"))
			if err != nil {
				return recordError("sensor", err)
			}
			return sendList(c, items)
		})
	// Recording a calibration changes what the sensor's readings mean:
	// the same role as editing the sensor.
	r.Handle(Route{Method: "POST", Path: cal, Summary: "Record a calibration of a sensor", Tag: "sensors", Perm: auth.PermManage,
		Success: fiber.StatusCreated, Response: calibrationSchema,
		Request: obj(map[string]any{
			"calibrated_at": describe(map[string]any{"type": "string", "format": "date-time"}, "when it was calibrated; not in the future"),
			"due_at":        describe(map[string]any{"type": "string", "format": "date-time"}, "when the next calibration is due: after calibrated_at, within 5 years"),
			"reference_c":   map[string]any{"type": "number", "minimum": -100, "maximum": 200, "description": "the reference's reading, °C"},
			"measured_c":    map[string]any{"type": "number", "minimum": -100, "maximum": 200, "description": "the sensor's reading, °C"},
			"offset_c":      map[string]any{"type": "number", "minimum": -20, "maximum": 20, "description": "the correction applied, °C"},
			"method":        map[string]any{"type": "string", "maxLength": 200, "description": "e.g. ice bath, reference thermometer"},
			"certificate":   map[string]any{"type": "string", "maxLength": 500, "description": "the calibration certificate's number or link"},
			"notes":         map[string]any{"type": "string", "maxLength": 4000},
		}, "calibrated_at", "due_at"),
		Example: func(map[string]string) map[string]any {
			now := time.Now().UTC()
			return map[string]any{"calibrated_at": now.Add(-time.Hour).Format(time.RFC3339), "due_at": now.AddDate(1, 0, 0).Format(time.RFC3339),
				"reference_c": 0, "measured_c": 0.3, "offset_c": -0.3, "method": "ice bath"}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				CalibratedAt *time.Time `json:"calibrated_at"`
				DueAt        *time.Time `json:"due_at"`
				ReferenceC   *float64   `json:"reference_c"`
				MeasuredC    *float64   `json:"measured_c"`
				OffsetC      *float64   `json:"offset_c"`
				Method       string     `json:"method"`
				Certificate  string     `json:"certificate"`
				Notes        string     `json:"notes"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			item, err := records.RecordCalibration(c.UserContext(), r.deps.Pool, records.CalibrationParams{OrgID: OrgOf(c), SensorID: c.Params("id"),
				UserID: UserOf(c).ID, Actor: Actor(c), CalibratedAt: in.CalibratedAt, DueAt: in.DueAt,
				ReferenceC: in.ReferenceC, MeasuredC: in.MeasuredC, OffsetC: in.OffsetC, Method: in.Method, Certificate: in.Certificate, Notes: in.Notes})
			if err != nil {
				return recordError("sensor", err)
			}
			return c.Status(fiber.StatusCreated).JSON(item)
		})

	cooling := "/v1/orgs/:org/units/:id/cooling"
	r.Handle(Route{Method: "GET", Path: cooling, Summary: "A unit's cooling cycles, latest start first", Tag: "units", Perm: auth.PermRead,
		Params: append([]Param{
			{Name: "from", Description: "started at or after (RFC 3339)", Schema: str},
			{Name: "to", Description: "started before (RFC 3339)", Schema: str},
		}, pageParams...),
		Response: listSchema(coolingSchema)},
		func(c *fiber.Ctx) error {
			from, to, err := windowParams(c)
			if err != nil {
				return err
			}
			limit, err := pageLimit(c)
			if err != nil {
				return err
			}
			page, err := records.ListCooling(c.UserContext(), r.deps.Pool, records.CoolingListParams{OrgID: OrgOf(c), UnitID: c.Params("id"),
				From: from, To: to, Cursor: c.Query("cursor"), Limit: limit})
			if err != nil {
				return recordError("unit", err)
			}
			return c.JSON(page)
		})
	// Cooling food down is kitchen work: staff start and cancel cycles, as
	// they record manual checks.
	r.Handle(Route{Method: "POST", Path: cooling, Summary: "Start a cooling cycle (57 °C → 21 °C within 2 h, → 5 °C within 6 h) on a blast chiller or hot-holding unit", Tag: "units", Perm: auth.PermOperate,
		Success: fiber.StatusCreated, Response: coolingSchema,
		Request: obj(map[string]any{
			"item":       map[string]any{"type": "string", "minLength": 1, "maxLength": 200, "description": "what is cooled, e.g. Beef stock 20 l"},
			"started_at": describe(map[string]any{"type": "string", "format": "date-time"}, "when cooling began: not in the future, at most 6 h ago (default: now)"),
			"start_c":    map[string]any{"type": "number", "minimum": -100, "maximum": 200, "description": "the food's temperature at the start, °C"},
			"notes":      map[string]any{"type": "string", "maxLength": 4000},
		}),
		Example: func(map[string]string) map[string]any {
			return map[string]any{"item": "Beef stock, 20 l", "start_c": 71.5}
		}},
		func(c *fiber.Ctx) error {
			var in struct {
				Item      string     `json:"item"`
				StartedAt *time.Time `json:"started_at"`
				StartC    *float64   `json:"start_c"`
				Notes     string     `json:"notes"`
			}
			if len(c.Body()) > 0 {
				if err := strictBody(c, &in); err != nil {
					return err
				}
			}
			l, err := records.StartCooling(c.UserContext(), r.deps.Pool, records.StartCoolingParams{OrgID: OrgOf(c), UnitID: c.Params("id"),
				UserID: UserOf(c).ID, Actor: Actor(c), Item: in.Item, StartedAt: in.StartedAt, StartC: in.StartC, Notes: in.Notes})
			if err != nil {
				return recordError("unit", err)
			}
			return c.Status(fiber.StatusCreated).JSON(l)
		})
	r.Handle(Route{Method: "POST", Path: "/v1/orgs/:org/units/:unit/cooling/:id/cancel", Summary: "Cancel a running cooling cycle", Tag: "units", Perm: auth.PermOperate,
		Response: coolingSchema},
		func(c *fiber.Ctx) error {
			l, err := records.CancelCooling(c.UserContext(), r.deps.Pool, records.CancelCoolingParams{OrgID: OrgOf(c), UnitID: c.Params("unit"),
				LogID: c.Params("id"), Actor: Actor(c)})
			if err != nil {
				return recordError("cooling cycle", err)
			}
			return c.JSON(l)
		})

	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/units/:id/events", Summary: "The defrost cycles and door openings recognised in a unit's data, with its learned defrost pattern", Tag: "units", Perm: auth.PermRead,
		Params: append([]Param{
			{Name: "from", Description: "only events that had not ended before this (RFC 3339)", Schema: str},
			{Name: "to", Description: "only events that started before this (RFC 3339)", Schema: str},
			{Name: "kind", Description: "defrost or door_open (default: both)", Schema: map[string]any{"type": "string", "enum": records.UnitEventKinds}},
		}, pageParams...),
		Response: unitEventsSchema},
		func(c *fiber.Ctx) error {
			from, to, err := windowParams(c)
			if err != nil {
				return err
			}
			limit, err := pageLimit(c)
			if err != nil {
				return err
			}
			out, err := records.ListUnitEvents(c.UserContext(), r.deps.Pool, records.UnitEventParams{OrgID: OrgOf(c), UnitID: c.Params("id"),
				From: from, To: to, Kind: c.Query("kind"), Cursor: c.Query("cursor"), Limit: limit})
			if err != nil {
				return recordError("unit", err)
			}
			return c.JSON(out)
		})
}
