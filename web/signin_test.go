package web_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/web"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// site is the web app and the development issuer on one loopback server,
// as `serve --dev-auth` runs them.
type site struct {
	base string
	pool *pgxpool.Pool
}

func newSite(t *testing.T) *site {
	t.Helper()
	pool := pgtest.NewDB(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	dev, err := auth.LoadDevIssuer(filepath.Join(t.TempDir(), "dev.pem"), auth.DevIssuerURL(addr))
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: dev.Issuer(), Audience: auth.DevAudience, JWKSURL: dev.JWKSURL(), Algorithms: []string{"ES256"}}, pool)
	if err != nil {
		t.Fatal(err)
	}
	app, err := web.New(web.Config{Pool: pool, Users: users, PublicURL: "http://" + addr, Personas: auth.DevPersonas(),
		OIDC: web.OIDCClient{Issuer: dev.Issuer(), ClientID: auth.DevAudience}})
	if err != nil {
		t.Fatal(err)
	}
	f := fiber.New(fiber.Config{DisableStartupMessage: true, StreamRequestBody: true})
	api.ServeDevIssuer(f, dev)
	app.Register(f)
	go func() { _ = f.Listener(ln) }()
	t.Cleanup(func() { _ = f.Shutdown() })
	return &site{base: "http://" + addr, pool: pool}
}

// client is a browser without scripts: it keeps cookies and, unless told
// otherwise, follows redirects.
func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (s *site) sessions(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// signIn follows the whole code flow as the development manager and
// returns the page it ends on.
func (s *site) signIn(t *testing.T, c *http.Client, next string) (*http.Response, string) {
	t.Helper()
	return get(t, c, s.base+"/auth/signin?next="+url.QueryEscape(next)+"&login_hint="+url.QueryEscape(auth.DevEmail(auth.Manager)))
}

func sessionCookie(c *http.Client, base string) *http.Cookie {
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "freshtrack_session" {
			return ck
		}
	}
	return nil
}

func TestSignInRunsTheCodeFlowIntoAServerSession(t *testing.T) {
	s := newSite(t)
	c := client(t)
	resp, body := s.signIn(t, c, "/o/00000000-0000-4000-8000-000000000000/alerts")
	// Back where the sign-in started (a 404 page: no such organisation).
	if resp.Request.URL.Path != "/o/00000000-0000-4000-8000-000000000000/alerts" || resp.StatusCode != 404 || !strings.Contains(body, "not a member") {
		t.Fatalf("signed in to %s: %d %.200s", resp.Request.URL, resp.StatusCode, body)
	}
	ck := sessionCookie(c, s.base)
	if ck == nil {
		t.Fatal("no session cookie")
	}
	// Only the token's hash is stored.
	var stored []byte
	if err := s.pool.QueryRow(context.Background(), `SELECT token_sha256 FROM web_sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(ck.Value))
	if string(stored) != string(sum[:]) || strings.Contains(string(stored), ck.Value) {
		t.Error("web_sessions does not hold exactly the cookie's SHA-256")
	}
	// The cookie is out of scripts' reach and not sent cross-site.
	raw := noRedirects(client(t))
	resp, _ = get(t, raw, s.base+"/auth/signin?login_hint="+url.QueryEscape(auth.DevEmail(auth.Staff)))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request lacks PKCE, state or nonce: %s", loc)
	}
	resp, _ = get(t, raw, loc.String())
	cb := resp.Header.Get("Location")
	resp, _ = get(t, raw, cb)
	setCookie := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(setCookie, "freshtrack_session=") || !strings.Contains(setCookie, "HttpOnly") || !strings.Contains(setCookie, "SameSite=Lax") {
		t.Errorf("session cookie: %s", setCookie)
	}
	// The callback works once: the state and the code are used up.
	resp, body = get(t, raw, cb)
	if resp.StatusCode != 400 || !strings.Contains(body, "Sign in again") {
		t.Errorf("replayed callback: %d %.200s", resp.StatusCode, body)
	}
	if n := s.sessions(t); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

func TestSignInRefusesAForeignCallbackAndForeignRedirects(t *testing.T) {
	s := newSite(t)
	// Mallory starts a sign-in and hands her callback to Alice (login CSRF):
	// Alice's browser never started it, so it has no matching state cookie.
	mallory := noRedirects(client(t))
	resp, _ := get(t, mallory, s.base+"/auth/signin?login_hint="+url.QueryEscape("mallory@example.com"))
	resp, _ = get(t, mallory, resp.Header.Get("Location"))
	cb := resp.Header.Get("Location")
	alice := client(t)
	resp, body := get(t, alice, cb)
	if resp.StatusCode != 400 || sessionCookie(alice, s.base) != nil {
		t.Fatalf("a callback from another browser: %d, session %v, %.200s", resp.StatusCode, sessionCookie(alice, s.base), body)
	}
	if n := s.sessions(t); n != 0 {
		t.Fatalf("%d sessions after a refused callback", n)
	}
	// A return address is a path on this site, never another host.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		c := client(t)
		resp, _ := s.signIn(t, c, next)
		if resp.Request.URL.Host != strings.TrimPrefix(s.base, "http://") || resp.Request.URL.Path != "/" {
			t.Errorf("next=%q ended at %s", next, resp.Request.URL)
		}
	}
}

func TestSignOutEndsTheSessionAndNeedsTheCSRFToken(t *testing.T) {
	s := newSite(t)
	c := client(t)
	s.signIn(t, c, "/")
	var csrf string
	if err := s.pool.QueryRow(context.Background(), `SELECT csrf_token FROM web_sessions`).Scan(&csrf); err != nil {
		t.Fatal(err)
	}
	post := func(token string) int {
		req, _ := http.NewRequest("POST", s.base+"/auth/signout", nil)
		if token != "" {
			req.Header.Set(web.CSRFHeader, token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != 403 || s.sessions(t) != 1 {
		t.Fatalf("sign-out without the CSRF token: %d, %d sessions", code, s.sessions(t))
	}
	if code := post(csrf); code != 204 || s.sessions(t) != 0 {
		t.Fatalf("sign-out: %d, %d sessions", code, s.sessions(t))
	}
	resp, _ := get(t, noRedirects(c), s.base+"/o/00000000-0000-4000-8000-000000000000")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
		t.Errorf("a page after sign-out: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestAnExpiredSessionSignsNoOneIn(t *testing.T) {
	s := newSite(t)
	c := client(t)
	s.signIn(t, c, "/")
	if _, err := s.pool.Exec(context.Background(), `UPDATE web_sessions SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	resp, _ := get(t, noRedirects(c), s.base+"/")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("home with an expired session: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestWithoutAnIdentityProviderTheHomePageSaysWhatToConfigure(t *testing.T) {
	f := fiber.New()
	web.RegisterUnconfigured(f, "test")
	resp, err := f.Test(httptestRequest("GET", "/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "FRESHTRACK_OIDC_ISSUER") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / without sign-in: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

func httptestRequest(method, target string) *http.Request {
	req, _ := http.NewRequest(method, "http://freshtrack.test"+target, nil)
	return req
}
