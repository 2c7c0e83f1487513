package api

import (
	"errors"
	"html/template"
	"log/slog"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/notify"
)

var unsubscribeParams = []Param{{Name: "token", Description: "the signed token from the email's List-Unsubscribe link", Schema: str}}

// UnsubscribeRoutes document the one-click unsubscribe routes, which work
// without signing in: the signed token is the credential.
var UnsubscribeRoutes = []Route{
	{Method: "GET", Path: notify.UnsubscribePath, Summary: "A page confirming an unsubscribe, with a button that POSTs it (a GET never unsubscribes: mail scanners prefetch links)",
		Tag: "profile", Public: true, Params: unsubscribeParams, Produces: []string{"text/html"}},
	{Method: "POST", Path: notify.UnsubscribePath, Summary: "One-click unsubscribe (RFC 8058): body List-Unsubscribe=One-Click, form-encoded",
		Tag: "profile", Public: true, Params: unsubscribeParams,
		Request: map[string]any{"type": "string", "description": "application/x-www-form-urlencoded: List-Unsubscribe=One-Click"},
		Response: obj(map[string]any{"unsubscribed": map[string]any{"type": "boolean"}, "list": str,
			"changed": map[string]any{"type": "boolean", "description": "false when it was off already"}}, "unsubscribed", "list", "changed")},
}

// maxUnsubscribeBody bounds the POST body: it is one short form field.
const maxUnsubscribeBody = 1024

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe – FreshTrack</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main class="narrow"><h1>FreshTrack</h1>
{{if .Done}}<p>You are unsubscribed from {{.What}}.{{if not .Changed}} (It was already off.){{end}}</p>
<p>You can turn it back on under My profile after signing in.</p>
{{else}}<p>Stop {{.What}}?</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>{{end}}
</main></body></html>`))

func listWhat(list string) string {
	switch list {
	case notify.ListAlerts:
		return "alert emails"
	case notify.ListDaily:
		return "the daily digest of this organisation"
	default:
		return "the weekly digest of this organisation"
	}
}

// RegisterUnsubscribe mounts the one-click unsubscribe routes. A nil
// Unsubscriber answers 503.
func RegisterUnsubscribe(app *fiber.App, pool *database.Pool, u *notify.Unsubscriber, adm *httpbody.Admission, log *slog.Logger) {
	parse := func(c *fiber.Ctx) (notify.UnsubscribeToken, error) {
		if u == nil {
			return notify.UnsubscribeToken{}, problem.Unavailable("unsubscribe links are not configured on this server", 60)
		}
		tok := c.Query("token")
		if tok == "" {
			return notify.UnsubscribeToken{}, problem.Validation(problem.FieldError{Field: "token", Reason: "is missing: use the whole link from the email"})
		}
		t, err := u.Parse(tok)
		if err != nil {
			return t, problem.New(fiber.StatusForbidden, "bad-token", "Invalid unsubscribe link",
				"this unsubscribe link is not valid (it was altered or cut short); use the whole link from the email, or sign in and change My profile")
		}
		return t, nil
	}
	page := func(c *fiber.Ctx, data map[string]any) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "no-store")
		// The web app's policy: no inline script or style, forms post here only.
		c.Set("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		c.Set("Referrer-Policy", "no-referrer")
		c.Set("X-Content-Type-Options", "nosniff")
		return unsubscribePage.Execute(c.Response().BodyWriter(), data)
	}
	app.Get(notify.UnsubscribePath, func(c *fiber.Ctx) error {
		if httpbody.HasBody(c) {
			return problem.BadRequest("GET " + notify.UnsubscribePath + " takes no request body")
		}
		t, err := parse(c)
		if err != nil {
			return err
		}
		return page(c, map[string]any{"What": listWhat(t.List), "Action": notify.UnsubscribePath + "?token=" + url.QueryEscape(c.Query("token"))})
	})
	app.Post(notify.UnsubscribePath, func(c *fiber.Ctx) error {
		t, err := parse(c)
		if err != nil {
			return err
		}
		b, err := httpbody.Read(c, adm, httpbody.Options{Limit: maxUnsubscribeBody, Identity: true})
		defer b.Close()
		if err != nil {
			return err
		}
		form, err := url.ParseQuery(strings.TrimSpace(string(b.Bytes)))
		if err != nil || form.Get("List-Unsubscribe") != "One-Click" {
			return problem.Validation(problem.FieldError{Field: "List-Unsubscribe", Reason: "the form body must be List-Unsubscribe=One-Click (RFC 8058)"})
		}
		changed, err := notify.Unsubscribe(c.UserContext(), pool, t)
		if errors.Is(err, notify.ErrBadToken) {
			return problem.New(fiber.StatusForbidden, "bad-token", "Invalid unsubscribe link", err.Error())
		}
		if err != nil {
			log.ErrorContext(c.UserContext(), "unsubscribe", "err", err)
			return err
		}
		if strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
			return page(c, map[string]any{"Done": true, "Changed": changed, "What": listWhat(t.List)})
		}
		return c.JSON(fiber.Map{"unsubscribed": true, "list": t.List, "changed": changed})
	})
}
