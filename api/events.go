package api

import (
	"bufio"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/fleet"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/live"
)

// registerEvents mounts the organisation's live event stream and the
// tickets a browser opens it with.
func (r *Router) registerEvents() {
	if r.deps.Live == nil {
		return
	}
	events := "/v1/orgs/:org/events"
	r.Handle(Route{Method: "GET", Path: events, Tag: "events", Perm: auth.PermRead, Ticket: true,
		Summary: "Live events as Server-Sent Events (text/event-stream): reading, unit_state, alert, notification; " +
			"Last-Event-ID resumes within 15 minutes, or a reset event says to reload",
		Params: []Param{
			{Name: "site", Description: "only this site's units (repeatable)", Schema: map[string]any{"type": "string", "format": "uuid"}},
			{Name: "unit", Description: "only this unit (repeatable)", Schema: map[string]any{"type": "string", "format": "uuid"}},
			{Name: "ticket", Description: "a ticket from POST .../events/ticket, for clients that cannot send an Authorization header", Schema: str},
		},
		Produces: []string{"text/event-stream"}},
		r.streamEvents)
	r.Handle(Route{Method: "POST", Path: events + "/ticket", Tag: "events", Perm: auth.PermRead,
		Summary:  "A ticket that opens this organisation's event stream for 60 seconds (?ticket=), for a browser's EventSource",
		Response: obj(map[string]any{"ticket": str, "expires_at": map[string]any{"type": "string", "format": "date-time"}}, "ticket", "expires_at")},
		func(c *fiber.Ctx) error {
			t, exp := r.deps.Tickets.Issue(OrgOf(c), UserOf(c).ID)
			return c.JSON(fiber.Map{"ticket": t, "expires_at": exp.UTC()})
		})
}

// authenticateOrTicket authenticates with a header like every route, or
// with ?ticket= for the organisation in the path.
func (r *Router) authenticateOrTicket(c *fiber.Ctx) error {
	t := c.Query("ticket")
	if t == "" {
		return r.authenticate(c)
	}
	uid, err := r.deps.Tickets.Check(t, c.Params("org"))
	if err != nil {
		p := *errNoToken
		p.Detail = err.Error()
		return &p
	}
	c.Locals(localUser, auth.User{ID: uid})
	return c.Next()
}

// streamEvents opens the caller's stream: filters checked against the
// organisation, the replay of a resume, then live events until either side
// ends it.
func (r *Router) streamEvents(c *fiber.Ctx) error {
	args := c.Context().QueryArgs()
	var f live.Filter
	for _, v := range args.PeekMulti("site") {
		f.Sites = append(f.Sites, string(v))
	}
	for _, v := range args.PeekMulti("unit") {
		f.Units = append(f.Units, string(v))
	}
	if err := fleet.CheckScope(c.UserContext(), r.deps.Pool, OrgOf(c), f.Sites, f.Units); err != nil {
		what := "unit"
		if len(f.Units) == 0 {
			what = "site"
		}
		return capabilityError(what, err)
	}
	// The stream outlives the handler, and Fiber's strings point into the
	// request's buffer, which the server reuses: the hub keeps copies.
	stream, err := r.deps.Live.Subscribe(strings.Clone(OrgOf(c)), strings.Clone(UserOf(c).ID), f)
	if errors.Is(err, live.ErrClosed) {
		return problem.Unavailable(err.Error(), 2)
	}
	if err != nil {
		return err
	}
	lastID := c.Get("Last-Event-ID")
	first, err := live.Resume(c.UserContext(), live.ResumeParams{DB: r.deps.Pool, OrgID: OrgOf(c), Filter: f,
		LastEventID: lastID, Latest: r.deps.Latest, Now: time.Now()})
	if err != nil {
		stream.Close()
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	// nginx and some other proxies buffer responses unless told not to.
	c.Set("X-Accel-Buffering", "no")
	conn := c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		stream.Serve(w, live.ServeOptions{First: first, SetWriteDeadline: conn.SetWriteDeadline})
	})
	return nil
}
