package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// Inspector links (auth.InspectorLink) are read-only credentials an admin
// gives a food-safety inspector. They answer on a fixed allowlist of reads
// (inspectorReads) of their own organisation, scoped to their sites and
// period, and every read they make is audited. Consistently:
//
//   - expired, revoked or unknown link: 401;
//   - another organisation: 404, as for a user who is not a member;
//   - a route not on the allowlist (every write, members, keys, billing,
//     settings, the other reads) and a period outside the link's: 403;
//   - an object (site, unit, alert, link) outside the link's sites: 404.

const localInspector = "freshtrack.inspector"

// InspectorOf is the inspector link a request authenticated with; nil for
// people and their sessions.
func InspectorOf(c *fiber.Ctx) *auth.InspectorLink {
	l, _ := c.Locals(localInspector).(*auth.InspectorLink)
	return l
}

var errInspectorRoute = problem.New(fiber.StatusForbidden, "inspector-scope", "Forbidden",
	"an inspector link reads only the HACCP report, unit charts and events, alerts and the audit trail of its sites")

// inspectorScopeError refuses a read outside the link's period.
func inspectorScopeError(detail string) error {
	return problem.New(fiber.StatusForbidden, "inspector-scope", "Forbidden", detail)
}

// authenticateInspector authenticates a request by an inspector link's
// secret, read from the database on every request so a revocation holds
// at once.
func (r *Router) authenticateInspector(c *fiber.Ctx, tok string) error {
	l, err := auth.AuthenticateInspector(c.UserContext(), r.deps.Pool, tok)
	if errors.Is(err, auth.ErrInspectorUnknown) || errors.Is(err, auth.ErrInspectorExpired) || errors.Is(err, auth.ErrInspectorRevoked) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="freshtrack", error="invalid_token"`)
		p := *errNoToken
		p.Detail = err.Error()
		return &p
	}
	if err != nil {
		return err
	}
	c.Locals(localInspector, &l)
	return c.Next()
}

// refuseInspector guards the routes outside an organisation.
func refuseInspector(c *fiber.Ctx) error {
	if InspectorOf(c) != nil {
		return errInspectorRoute
	}
	return c.Next()
}

// inspectorCheck refuses a read of an allowlisted route outside the link's
// scope, before its handler runs.
type inspectorCheck func(r *Router, c *fiber.Ctx, l *auth.InspectorLink) error

// inspectorReads is the allowlist: "METHOD path" → the scope check (nil:
// nothing beyond the organisation; the handler itself narrows the list
// routes to the link's sites).
var inspectorReads = map[string]inspectorCheck{
	"GET /v1/orgs/:org":                     nil,
	"GET /v1/orgs/:org/inspector-links/:id": checkOwnLink,
	"GET /v1/orgs/:org/reports/haccp":       checkReport,
	"GET /v1/orgs/:org/units/:id/readings":  checkUnit,
	"GET /v1/orgs/:org/units/:id/events":    checkUnit,
	"GET /v1/orgs/:org/alerts":              checkAlertList,
	"GET /v1/orgs/:org/alerts/:id":          checkAlert,
	"GET /v1/orgs/:org/audit":               nil,
}

// InspectorReadable reports whether an inspector link may call a route at
// all (within its scope).
func InspectorReadable(rt Route) bool {
	_, ok := inspectorReads[rt.Method+" "+rt.Path]
	return ok
}

// inspectorMember admits an inspector link to an allowlisted route of its
// organisation, and audits each successful read.
func (r *Router) inspectorMember(rt Route) fiber.Handler {
	check, allowed := inspectorReads[rt.Method+" "+rt.Path]
	return func(c *fiber.Ctx) error {
		l := InspectorOf(c)
		if !strings.EqualFold(c.Params("org"), l.OrgID) {
			return problem.NotFound("organisation")
		}
		if !allowed {
			return errInspectorRoute
		}
		if check != nil {
			if err := check(r, c, l); err != nil {
				return err
			}
		}
		c.Locals(localOrg, l.OrgID)
		if err := c.Next(); err != nil {
			return err
		}
		if c.Response().StatusCode() >= fiber.StatusBadRequest {
			return nil
		}
		what := map[string]any{"method": c.Method(), "path": strings.Clone(c.Path()), "query": string(c.Request().URI().QueryString())}
		if err := auth.RecordInspectorView(c.UserContext(), r.deps.Pool, l, what); err != nil {
			// An unaudited view is not served.
			c.Response().ResetBody()
			c.Response().Header.Del(fiber.HeaderContentDisposition)
			return fmt.Errorf("record inspector view: %w", err)
		}
		return nil
	}
}

func checkOwnLink(_ *Router, c *fiber.Ctx, l *auth.InspectorLink) error {
	if !strings.EqualFold(c.Params("id"), l.ID) {
		return problem.NotFound("inspector link")
	}
	return nil
}

// checkReport: the site must be the link's, and the days within its period.
// A missing or malformed parameter is left to the handler's 400.
func checkReport(_ *Router, c *fiber.Ctx, l *auth.InspectorLink) error {
	if site := c.Query("site"); site != "" && !l.Covers(strings.ToLower(site)) {
		return problem.NotFound("site")
	}
	for _, name := range []string{"from", "to"} {
		d := c.Query(name)
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			continue
		}
		if (l.PeriodFrom != nil && d < *l.PeriodFrom) || (l.PeriodTo != nil && d > *l.PeriodTo) {
			return inspectorScopeError(fmt.Sprintf("%s %s is outside the days this inspector link covers (%s); ask for a report within them", name, d, periodText(l)))
		}
	}
	return nil
}

func periodText(l *auth.InspectorLink) string {
	from, to := "the beginning", "today"
	if l.PeriodFrom != nil {
		from = *l.PeriodFrom
	}
	if l.PeriodTo != nil {
		to = *l.PeriodTo
	}
	return from + " to " + to
}

// checkUnit: the unit must be at one of the link's sites; with a period,
// from and to are required and must lie within it (local days of the
// unit's site).
func checkUnit(r *Router, c *fiber.Ctx, l *auth.InspectorLink) error {
	site, tz, err := auth.UnitSite(c.UserContext(), r.deps.Pool, l.OrgID, c.Params("id"))
	if errors.Is(err, auth.ErrNotFound) || (err == nil && !l.Covers(site)) {
		return problem.NotFound("unit")
	}
	if err != nil {
		return err
	}
	if l.PeriodFrom == nil && l.PeriodTo == nil {
		return nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	lo, hi := l.Window(loc)
	for _, name := range []string{"from", "to"} {
		v := c.Query(name)
		if v == "" {
			return inspectorScopeError(fmt.Sprintf("this inspector link covers %s only; give from and to (RFC 3339) within it", periodText(l)))
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			continue // the handler names the parameter
		}
		if (!lo.IsZero() && t.Before(lo)) || (!hi.IsZero() && t.After(hi)) {
			return inspectorScopeError(fmt.Sprintf("%s is outside the days this inspector link covers (%s, the site's local days)", name, periodText(l)))
		}
	}
	return nil
}

// checkAlertList: a unit filter must name a unit of the link's sites (the
// handler limits the list to them either way).
func checkAlertList(r *Router, c *fiber.Ctx, l *auth.InspectorLink) error {
	unit := c.Query("unit")
	if unit == "" {
		return nil
	}
	site, _, err := auth.UnitSite(c.UserContext(), r.deps.Pool, l.OrgID, unit)
	if errors.Is(err, auth.ErrNotFound) {
		return nil // the handler validates the id; an unknown unit has no alerts
	}
	if err != nil {
		return err
	}
	if !l.Covers(site) {
		return problem.NotFound("unit")
	}
	return nil
}

// checkAlert: the alert must be of a unit at one of the link's sites and
// have opened within its period.
func checkAlert(r *Router, c *fiber.Ctx, l *auth.InspectorLink) error {
	site, tz, opened, err := auth.AlertSite(c.UserContext(), r.deps.Pool, l.OrgID, c.Params("id"))
	if errors.Is(err, auth.ErrNotFound) || (err == nil && !l.Covers(site)) {
		return problem.NotFound("alert")
	}
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	if lo, hi := l.Window(loc); (!lo.IsZero() && opened.Before(lo)) || (!hi.IsZero() && !opened.Before(hi)) {
		return problem.NotFound("alert")
	}
	return nil
}
