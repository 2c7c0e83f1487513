package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Config configures the web app.
type Config struct {
	Pool *database.Pool
	// Users verifies the identity provider's access tokens (the API's own
	// verifier).
	Users *auth.UserVerifier
	// OIDC is the identity provider the browser signs in with.
	OIDC OIDCClient
	// PublicURL is where people reach the service; the sign-in callback is
	// PublicURL/auth/callback, and an https URL makes cookies Secure.
	PublicURL string
	// SessionTTL is how long a sign-in lasts. Defaults to 12 hours.
	SessionTTL time.Duration
	// Personas, when set, are offered as one-click sign-ins (the
	// development issuer's demo people).
	Personas []auth.DevPersona
	// Version is shown in the footer.
	Version string
	Logger  *slog.Logger
}

// App is the web app: pages, sign-in and their assets. Everything a page
// shows or changes goes through the /v1 API, with the session cookie.
type App struct {
	db       *database.Pool
	users    *auth.UserVerifier
	sessions *Sessions
	signer   *signer
	personas []auth.DevPersona
	version  string
	log      *slog.Logger
}

// New returns the web app.
func New(cfg Config) (*App, error) {
	if cfg.Users == nil {
		return nil, errors.New("web: the web app needs an identity provider")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("web: the public URL must be an http(s) URL")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	base := u.Scheme + "://" + u.Host + u.Path
	// Secure cookies everywhere but plain-HTTP development, where a
	// browser would not send them back.
	secure := u.Scheme == "https"
	return &App{
		db: cfg.Pool, users: cfg.Users, sessions: NewSessions(cfg.Pool, cfg.SessionTTL, secure),
		signer:   &signer{cfg: cfg.OIDC, callback: base + "/auth/callback"},
		personas: cfg.Personas, version: cfg.Version, log: cfg.Logger,
	}, nil
}

// RegisterUnconfigured mounts, for a server with no identity provider, a
// page at / that says what to configure, instead of a JSON 404.
func RegisterUnconfigured(app *fiber.App, version string) {
	app.Get("/", func(c *fiber.Ctx) error {
		pageHeaders(c)
		c.Status(fiber.StatusServiceUnavailable)
		return templates.ExecuteTemplate(c.Response().BodyWriter(), "error.html", map[string]any{"Title": "Sign-in is not configured",
			"Detail": "This FreshTrack has no identity provider: set FRESHTRACK_OIDC_ISSUER, FRESHTRACK_OIDC_AUDIENCE and FRESHTRACK_OIDC_CLIENT_ID (or start it with --dev-auth on a loopback address for development). The API and device ingest work meanwhile.",
			"Status": fiber.StatusServiceUnavailable, "Version": version})
	})
	app.Get("/assets/*", serveAsset)
}

// Sessions is how the API authenticates the app's calls.
func (a *App) Sessions() *Sessions { return a.sessions }

// orgPages are the pages of an organisation (pageName names them).
var orgPages = []string{"/o/:org", "/o/:org/units/:id", "/o/:org/alerts", "/o/:org/alerts/:id",
	"/o/:org/log", "/o/:org/reports", "/o/:org/settings", "/o/:org/settings/:section", "/o/:org/profile"}

// Register mounts the pages, sign-in routes and assets on app.
func (a *App) Register(app *fiber.App) {
	app.Get("/assets/*", serveAsset)
	app.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.Redirect(assetURL("icon.svg"), fiber.StatusMovedPermanently) })
	app.Get("/auth/signin", a.start)
	app.Get("/auth/callback", a.callback)
	app.Post("/auth/signout", a.signout)
	app.Get("/signin", a.signinPage)
	app.Get("/", a.home)
	for _, p := range orgPages {
		app.Get(p, a.page)
	}
	app.Get("/inspect/:org/:link", a.inspectPage)
}

// inspectPage is an inspector link's page. It needs no sign-in: the
// link's secret is in the URL's fragment, which the browser keeps to
// itself, and the page's script sends it to the API as a bearer
// credential. The server knows nothing about the link here, so the page
// is the same shell for every link, valid or not.
func (a *App) inspectPage(c *fiber.Ctx) error {
	if !uuids.Valid(c.Params("org")) || !uuids.Valid(c.Params("link")) {
		return a.errorPage(c, fiber.StatusNotFound, "Not found", "This is not an inspector link. Check the address you were given.")
	}
	return a.render(c, fiber.StatusOK, "inspect.html", map[string]any{"Version": a.version})
}

func pageHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Type("html", "utf-8")
}

func (a *App) render(c *fiber.Ctx, status int, name string, data any) error {
	pageHeaders(c)
	c.Status(status)
	return templates.ExecuteTemplate(c.Response().BodyWriter(), name, data)
}

func (a *App) errorPage(c *fiber.Ctx, status int, title, detail string) error {
	return a.render(c, status, "error.html", map[string]any{"Title": title, "Detail": detail, "Status": status, "Version": a.version})
}

func (a *App) signinPage(c *fiber.Ctx) error {
	next := localPath(c.Query("next", "/"))
	if _, ok, err := a.sessions.Lookup(c); err != nil {
		return err
	} else if ok {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	return a.render(c, fiber.StatusOK, "signin.html", map[string]any{"Next": next, "Personas": a.personas, "Version": a.version})
}

// orgEntry is an organisation as the switcher lists it.
type orgEntry struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Role     auth.Role       `json:"role"`
	Settings json.RawMessage `json:"settings"`
}

func (a *App) userOrgs(c *fiber.Ctx, userID string) ([]orgEntry, error) {
	raw, err := auth.ListUserOrganizations(c.UserContext(), a.db, userID)
	if err != nil {
		return nil, err
	}
	orgs := make([]orgEntry, 0, len(raw))
	for _, r := range raw {
		var o orgEntry
		if err := json.Unmarshal(r, &o); err != nil {
			return nil, err
		}
		orgs = append(orgs, o)
	}
	return orgs, nil
}

// home sends a signed-in person to their organisation (or lets them pick
// one), and anyone else to sign in.
func (a *App) home(c *fiber.Ctx) error {
	ss, ok, err := a.sessions.Lookup(c)
	if err != nil {
		return err
	}
	if !ok {
		return c.Redirect(signinURL("/"), fiber.StatusSeeOther)
	}
	orgs, err := a.userOrgs(c, ss.User.ID)
	if err != nil {
		return err
	}
	if len(orgs) == 1 {
		return c.Redirect("/o/"+orgs[0].ID, fiber.StatusSeeOther)
	}
	return a.render(c, fiber.StatusOK, "orgs.html", map[string]any{"User": ss.User, "Orgs": orgs, "CSRF": ss.CSRF, "Version": a.version})
}

// pageData is what a page's script starts from (the rest it asks the API).
type pageData struct {
	Page   string            `json:"page"`
	Org    orgEntry          `json:"org"`
	Orgs   []orgEntry        `json:"orgs"`
	Role   auth.Role         `json:"role"`
	Can    map[string]bool   `json:"can"`
	User   auth.User         `json:"user"`
	CSRF   string            `json:"csrf"`
	Params map[string]string `json:"params"`
}

// page serves an organisation's page: sign-in first (and back here after),
// and the same 404 as the API for an organisation one is not a member of.
func (a *App) page(c *fiber.Ctx) error {
	ss, ok, err := a.sessions.Lookup(c)
	if err != nil {
		return err
	}
	if !ok {
		return c.Redirect(signinURL(string(c.Request().RequestURI())), fiber.StatusSeeOther)
	}
	orgID := c.Params("org")
	var orgs []orgEntry
	if uuids.Valid(orgID) {
		if orgs, err = a.userOrgs(c, ss.User.ID); err != nil {
			return err
		}
	}
	d := pageData{Orgs: orgs, User: ss.User, CSRF: ss.CSRF, Params: map[string]string{}}
	found := false
	for _, o := range orgs {
		if o.ID == orgID {
			d.Org, d.Role, found = o, o.Role, true
		}
	}
	if !found {
		return a.errorPage(c, fiber.StatusNotFound, "Not found", "There is no such organisation, or you are not a member of it.")
	}
	d.Page = pageName(c.Route().Path)
	for _, k := range []string{"id", "section"} {
		if v := c.Params(k); v != "" {
			d.Params[k] = v
		}
	}
	d.Can = map[string]bool{
		"operate":    d.Role.Can(auth.PermOperate),
		"manage":     d.Role.Can(auth.PermManage),
		"administer": d.Role.Can(auth.PermAdminister),
		"own":        d.Role.Can(auth.PermOwn),
	}
	return a.render(c, fiber.StatusOK, "shell.html", map[string]any{"D": d, "Version": a.version})
}

func pageName(route string) string {
	switch route {
	case "/o/:org/units/:id":
		return "unit"
	case "/o/:org/alerts":
		return "alerts"
	case "/o/:org/alerts/:id":
		return "alert"
	case "/o/:org/log":
		return "log"
	case "/o/:org/reports":
		return "reports"
	case "/o/:org/settings", "/o/:org/settings/:section":
		return "settings"
	case "/o/:org/profile":
		return "profile"
	}
	return "overview"
}

var templates = template.Must(template.New("").Funcs(template.FuncMap{"asset": assetURL}).ParseFS(files, "templates/*.html"))
