package api

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/internal/replica"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/live"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/query"
)

// Route describes one registered route, for the OpenAPI document and the
// route × role tests.
type Route struct {
	Method string
	// Path is the Fiber pattern, e.g. /v1/orgs/:org/sites/:id.
	Path    string
	Summary string
	Tag     string
	// Perm is the permission needed inside the organisation; empty for
	// routes outside one (they still need a signed-in user unless Public).
	Perm   auth.Permission
	Public bool
	// Success is the status of a successful call.
	Success int
	// Request and Response are JSON Schemas (nil: none).
	Request  map[string]any
	Response map[string]any
	// Produces are the media types of a success (nil: JSON, if Response).
	Produces []string
	// Params are the query parameters a route reads.
	Params []Param
	// Example builds a valid request body for tests; nil for none.
	Example func(ids map[string]string) map[string]any
	// TestQuery builds a valid query string for tests; nil for none.
	TestQuery func(ids map[string]string) string
	// Ticket lets a caller authenticate with ?ticket= (live.Tickets)
	// instead of a header: a browser's EventSource cannot set one.
	Ticket bool
	// LegacyErrors marks a FreshTrack Pro route (LegacyRoutes): its errors
	// are {"error":{"code","message"}} under application/json, not
	// problem+json, and its credential a legacy secret or an API key.
	LegacyErrors bool
}

// Param is a query parameter.
type Param struct {
	Name        string
	Description string
	Schema      map[string]any
}

// Deps are what the v1 API needs.
type Deps struct {
	// Pool is handed, unopened, to the capabilities that own the data;
	// api runs no SQL of its own.
	Pool *database.Pool
	// Reads routes the reads that may trail the primary by a few seconds
	// (unit series, persisted latest values, HACCP reports) to a streaming
	// replica while it is within its lag bound. Defaults to every read on
	// Pool.
	Reads  *replica.Reads
	Users  *auth.UserVerifier
	Logger *slog.Logger
	// SensorsChanged, when set, is told after sensors of an organisation
	// were changed (ingest drops its cache of them).
	SensorsChanged func(orgID string)
	// Alerts, when set, is told when units, sensors or alert rules change,
	// so the evaluator reloads them.
	Alerts *alerting.Evaluator
	// Latest, when set, is the ingest's in-memory latest values; without it
	// latest values come from sensor_latest (a few seconds behind).
	Latest query.LatestSource
	// Admission bounds the request bodies read at once (nil: unbounded).
	Admission *httpbody.Admission
	// MaxJSONBody is the largest decoded body a route takes. Defaults to
	// DefaultMaxJSONBody.
	MaxJSONBody int
	// Live, when set, holds this process's event streams
	// (/v1/orgs/{org}/events); without it the events routes are not
	// mounted.
	Live *live.Hub
	// Tickets signs the tickets a browser opens its event stream with.
	// Defaults to a random key (tickets then work on this instance only).
	Tickets *live.Tickets
	// Sessions, when set, authenticates requests without a token by the
	// web app's session cookie (web.Sessions).
	Sessions SessionAuth
	// Billing, when set, enforces sensor limits on creates and serves the
	// billing routes (which answer 503 while it has no Stripe key).
	Billing *billing.Service
	// Notify, when set, sends phone codes and test messages (the profile
	// and contacts routes answer 503 without it).
	Notify *notify.Service
}

// SessionAuth authenticates a browser by its session cookie. ok is false
// when the request has no live session; csrfOK says whether it carries the
// session's CSRF token, which every state-changing call must.
type SessionAuth interface {
	SessionUser(c *fiber.Ctx) (u auth.User, ok, csrfOK bool, err error)
}

// Router registers routes on a Fiber app and remembers them.
type Router struct {
	app    *fiber.App
	deps   Deps
	routes []Route
}

// NewRouter returns a router for app.
func NewRouter(app *fiber.App, d Deps) *Router {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.MaxJSONBody <= 0 {
		d.MaxJSONBody = DefaultMaxJSONBody
	}
	if d.Tickets == nil {
		d.Tickets = live.NewTickets(nil)
	}
	if d.Reads == nil {
		d.Reads = replica.New(replica.Config{Primary: d.Pool, Logger: d.Logger})
	}
	return &Router{app: app, deps: d}
}

// Routes returns every route registered through the router.
func (r *Router) Routes() []Route { return r.routes }

// Handle registers a route. Routes under /v1/orgs/:org get the membership
// check and the permission check before h runs.
func (r *Router) Handle(rt Route, h fiber.Handler) {
	if rt.Success == 0 {
		rt.Success = fiber.StatusOK
	}
	r.routes = append(r.routes, rt)
	var chain []fiber.Handler
	switch {
	case rt.Ticket:
		chain = append(chain, r.authenticateOrTicket)
	case !rt.Public:
		chain = append(chain, r.authenticate)
	}
	switch {
	case strings.HasPrefix(rt.Path, "/v1/orgs/:org"):
		chain = append(chain, r.member(rt))
	case !rt.Public:
		// An inspector link reads some routes of its organisation only.
		chain = append(chain, refuseInspector)
	}
	if rt.Request != nil {
		chain = append(chain, jsonBody(r.deps.Admission, r.deps.MaxJSONBody))
	} else {
		chain = append(chain, noBody)
	}
	chain = append(chain, h)
	r.app.Add(rt.Method, rt.Path, chain...)
}

// Locals keys.
const (
	localUser = "freshtrack.user"
	localOrg  = "freshtrack.org"
	localRole = "freshtrack.role"
)

// UserOf is the signed-in user of a request.
func UserOf(c *fiber.Ctx) auth.User { u, _ := c.Locals(localUser).(auth.User); return u }

// OrgOf is the organisation a request is scoped to.
func OrgOf(c *fiber.Ctx) string { s, _ := c.Locals(localOrg).(string); return s }

// RoleOf is the caller's role in the request's organisation.
func RoleOf(c *fiber.Ctx) auth.Role { r, _ := c.Locals(localRole).(auth.Role); return r }

// Actor is the audit-log actor of a request: "user:<id>", or
// "inspector:<id>" for an inspector link.
func Actor(c *fiber.Ctx) string {
	if l := InspectorOf(c); l != nil {
		return auth.InspectorActor(l.ID)
	}
	return "user:" + UserOf(c).ID
}

var errNoToken = &problem.Problem{
	Type: problem.TypeBase + "unauthorized", Title: "Unauthorized", Status: fiber.StatusUnauthorized,
	Detail: "sign in and send the access token as 'Authorization: Bearer <token>' or 'x-stack-access-token'",
}

// errNoCSRF refuses a change made with a session cookie but without the
// page's token: what a forged cross-site request looks like.
var errNoCSRF = problem.New(fiber.StatusForbidden, "csrf", "Forbidden",
	"a change made with a browser session must carry the page's X-CSRF-Token header; reload the page")

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

func (r *Router) authenticate(c *fiber.Ctx) error {
	tok := c.Get("x-stack-access-token")
	if tok == "" {
		if h := c.Get(fiber.HeaderAuthorization); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			tok = strings.TrimSpace(h[7:])
		}
	}
	if strings.HasPrefix(tok, auth.InspectorMarker) {
		return r.authenticateInspector(c, tok)
	}
	if tok == "" && r.deps.Sessions != nil {
		u, ok, csrfOK, err := r.deps.Sessions.SessionUser(c)
		if err != nil {
			return err
		}
		if ok {
			if !csrfOK && !safeMethod(c.Method()) {
				return errNoCSRF
			}
			c.Locals(localUser, u)
			return c.Next()
		}
	}
	if tok == "" || r.deps.Users == nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="freshtrack"`)
		return errNoToken
	}
	u, err := r.deps.Users.Verify(c.UserContext(), tok)
	if errors.Is(err, auth.ErrBadToken) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="freshtrack", error="invalid_token"`)
		p := *errNoToken
		p.Detail = "the access token is invalid or expired"
		return &p
	}
	if err != nil {
		r.deps.Logger.Warn("cannot verify access token", "err", err)
		return problem.Unavailable("cannot verify the access token right now; retry shortly", 2)
	}
	c.Locals(localUser, u)
	return c.Next()
}

// member checks that the caller belongs to the organisation in the path and
// has the route's permission. Not a member, a deleted organisation and a
// malformed id all answer 404, exactly like an organisation that does not
// exist. An inspector link passes only on its allowlisted reads
// (inspectorMember).
func (r *Router) member(rt Route) fiber.Handler {
	perm := rt.Perm
	inspector := r.inspectorMember(rt)
	return func(c *fiber.Ctx) error {
		org := c.Params("org")
		if !uuids.Valid(org) {
			return problem.NotFound("organisation")
		}
		if InspectorOf(c) != nil {
			return inspector(c)
		}
		role, err := auth.MemberRole(c.UserContext(), r.deps.Pool, org, UserOf(c).ID)
		if errors.Is(err, auth.ErrNotFound) {
			return problem.NotFound("organisation")
		}
		if err != nil {
			return err
		}
		if perm != "" && !role.Can(perm) {
			return problem.New(fiber.StatusForbidden, "forbidden", "Forbidden",
				"your role ("+string(role)+") may not do this; it needs "+string(auth.Matrix[perm])+" or above")
		}
		c.Locals(localOrg, org)
		c.Locals(localRole, role)
		return c.Next()
	}
}
