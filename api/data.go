package api

import (
	"bytes"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/query"
)

// queryError maps the query and compliance packages' errors to problems.
func queryError(what string, err error) error { return capabilityError(what, err) }

func timeParam(c *fiber.Ctx, name string, def time.Time) (time.Time, *problem.FieldError) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &problem.FieldError{Field: name, Reason: "must be an RFC 3339 time such as 2026-11-26T00:00:00Z"}
	}
	return t, nil
}

var (
	seriesSchema = refine(schemaOf(query.UnitSeries{}), map[string]map[string]any{
		"resolution":      {"enum": []string{query.ResolutionRaw, query.Resolution5m, query.Resolution1h, query.Resolution1d}, "description": "the resolution answered (auto is resolved)"},
		"from":            {"description": "start of the range covered: the request's from moved back to its bucket's start"},
		"to":              {"description": "end of the range covered: the request's to moved forward to a bucket boundary"},
		"time_zone":       {"description": "IANA zone of the day buckets (resolution 1d only)"},
		"sensors":         {"description": "public ids of the sensors aggregated"},
		"buckets":         {"description": "buckets that hold readings, oldest first (empty for raw); avg_c is rounded to 0.01 °C"},
		"points":          {"description": "the readings, oldest first (raw only)"},
		"gaps":            {"description": "stretches of the range without data that have ended"},
		"gap_threshold_s": {"description": "for raw: the silence that counts as a gap"},
	})
	latestSchema = refine(schemaOf(query.UnitLatest{}), map[string]map[string]any{
		"status":         {"enum": []string{query.StatusNoData, query.StatusOffline, query.StatusOutOfRange, query.StatusSensorFault, query.StatusOK}},
		"low_source":     {"enum": []string{query.SourceUnit, query.SourceRule}},
		"high_source":    {"enum": []string{query.SourceUnit, query.SourceRule}},
		"offline_source": {"enum": []string{query.SourceUnit, query.SourceRule}},
		"reading":        {"description": "the reading the status stands on; null when no sensor has one"},
		"age_s":          {"description": "how old reading is, in seconds (0 without one)"},
		"low_c":          {"description": "the lower limit the probes are judged against: safe_min_c or a temp_low rule's own threshold"},
		"high_c":         {"description": "the upper limit: safe_max_c or a temp_high rule's own threshold"},
	})
	haccpSchema = describe(schemaOf(compliance.Report{}), "the HACCP record; temperatures in the report's temperature_unit")
)

func (r *Router) registerData() {
	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/units/:id/readings", Summary: "A unit's series: buckets (min, max, avg, count) or raw readings, with gaps", Tag: "data", Perm: auth.PermRead,
		Params: []Param{
			{Name: "from", Description: "start, RFC 3339 (default: 24 h ago)", Schema: str},
			{Name: "to", Description: "end, RFC 3339 (default: now)", Schema: str},
			{Name: "resolution", Description: "auto (default), raw, 5m, 1h or 1d (local days of the site)", Schema: map[string]any{"type": "string", "enum": []string{"auto", "raw", "5m", "1h", "1d"}}},
		},
		Response: seriesSchema},
		func(c *fiber.Ctx) error {
			now := time.Now()
			from, e1 := timeParam(c, "from", now.Add(-24*time.Hour))
			to, e2 := timeParam(c, "to", now)
			var errs []problem.FieldError
			for _, e := range []*problem.FieldError{e1, e2} {
				if e != nil {
					errs = append(errs, *e)
				}
			}
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			p := query.SeriesParams{OrgID: OrgOf(c), UnitID: c.Params("id"), From: from, To: to, Resolution: c.Query("resolution", query.ResolutionAuto)}
			var s *query.UnitSeries
			err := r.deps.Reads.Read(c.UserContext(), func(db *database.Pool) error {
				var err error
				s, err = query.Series(c.UserContext(), db, p)
				return err
			})
			if err != nil {
				return queryError("unit", err)
			}
			return c.JSON(s)
		})
	latest := func(c *fiber.Ctx, site string) error {
		// The in-memory values (r.deps.Latest) are newer than any
		// database's, where they exist; the rest may come from a replica.
		p := query.LatestParams{OrgID: OrgOf(c), SiteID: site, Source: r.deps.Latest}
		var units []query.UnitLatest
		err := r.deps.Reads.Read(c.UserContext(), func(db *database.Pool) error {
			var err error
			units, err = query.Latest(c.UserContext(), db, p)
			return err
		})
		if err != nil {
			return queryError("site", err)
		}
		return sendList(c, units)
	}
	latestResp := listSchema(latestSchema)
	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/sites/:id/latest", Summary: "Every unit of a site: newest reading, age, range and offline status", Tag: "data", Perm: auth.PermRead, Response: latestResp},
		func(c *fiber.Ctx) error { return latest(c, c.Params("id")) })
	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/latest", Summary: "Every unit of the organisation: newest reading, age, range and offline status", Tag: "data", Perm: auth.PermRead, Response: latestResp},
		func(c *fiber.Ctx) error { return latest(c, "") })

	r.Handle(Route{Method: "GET", Path: "/v1/orgs/:org/reports/haccp", Summary: "HACCP temperature record of a site, as JSON, CSV (one sortable table per section) or PDF", Tag: "reports", Perm: auth.PermRead,
		Params: []Param{
			{Name: "site", Description: "the site (required)", Schema: str},
			{Name: "from", Description: "first day, YYYY-MM-DD in the site's time zone (required)", Schema: str},
			{Name: "to", Description: "last day, inclusive (required)", Schema: str},
			{Name: "format", Description: "json (default), csv or pdf", Schema: map[string]any{"type": "string", "enum": []string{"json", "csv", "pdf"}}},
			{Name: "units", Description: "C (default) or F", Schema: map[string]any{"type": "string", "enum": []string{"C", "F"}}},
		},
		Response: haccpSchema, Produces: []string{fiber.MIMEApplicationJSON, "text/csv", "application/pdf"},
		TestQuery: func(ids map[string]string) string {
			d := time.Now().UTC().Format(time.DateOnly)
			return "site=" + ids["site"] + "&from=" + d + "&to=" + d
		}},
		func(c *fiber.Ctx) error {
			var errs []problem.FieldError
			site := c.Query("site")
			if site == "" {
				errs = append(errs, problem.FieldError{Field: "site", Reason: "is required"})
			}
			day := func(name string) time.Time {
				d, err := time.Parse(time.DateOnly, c.Query(name))
				if err != nil {
					errs = append(errs, problem.FieldError{Field: name, Reason: "must be a date such as 2026-03-01"})
				}
				return d
			}
			from, to := day("from"), day("to")
			format := c.Query("format", "json")
			if format != "json" && format != "csv" && format != "pdf" {
				errs = append(errs, problem.FieldError{Field: "format", Reason: "must be json, csv or pdf"})
			}
			if len(errs) > 0 {
				return problem.Validation(errs...)
			}
			p := compliance.HACCPParams{OrgID: OrgOf(c), SiteID: site, From: from, To: to, Unit: strings.ToUpper(c.Query("units", "C"))}
			var rep *compliance.Report
			err := r.deps.Reads.Read(c.UserContext(), func(db *database.Pool) error {
				var err error
				rep, err = compliance.HACCP(c.UserContext(), db, p)
				return err
			})
			if err != nil {
				return queryError("site", err)
			}
			var buf bytes.Buffer
			name := "haccp-" + c.Query("from") + "-" + c.Query("to")
			switch format {
			case "csv":
				err = compliance.WriteCSV(&buf, rep)
				c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
				c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
			case "pdf":
				err = compliance.WritePDF(&buf, rep)
				c.Set(fiber.HeaderContentType, "application/pdf")
				c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.pdf"`)
			default:
				err = compliance.WriteJSON(&buf, rep)
				c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			}
			if err != nil {
				return err
			}
			return c.Send(buf.Bytes())
		})
}
