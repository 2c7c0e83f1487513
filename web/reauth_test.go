package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
)

// reauth runs a re-authentication from the signed-in browser c, in which
// the person picks persona at the development issuer, and returns the
// callback's answer (not followed).
func (s *site) reauth(t *testing.T, c *http.Client, persona string) (status int, location, body string) {
	t.Helper()
	raw := noRedirects(c)
	resp, _ := get(t, raw, s.base+"/auth/signin?reauth=1&next="+url.QueryEscape("/o/x/reports?site=s"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("prompt") != "login" || q.Get("max_age") != "0" || q.Get("login_hint") != auth.DevEmail(auth.Manager) {
		t.Fatalf("re-authentication request %s lacks prompt=login, max_age=0 or the signed-in person's login_hint", loc)
	}
	// prompt=login: the issuer asks again rather than signing in from
	// the hint.
	resp, page := get(t, raw, loc.String())
	if resp.StatusCode != 200 || !strings.Contains(page, "Pick who you are") {
		t.Fatalf("re-authentication did not ask: %d %s %.200s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	// What the page's persona button submits.
	q.Del("prompt")
	q.Del("max_age")
	q.Set("login_hint", persona)
	loc.RawQuery = q.Encode()
	resp, _ = get(t, raw, loc.String())
	resp, body = get(t, raw, resp.Header.Get("Location"))
	return resp.StatusCode, resp.Header.Get("Location"), body
}

func TestReauthenticationHandsOutASigningGrant(t *testing.T) {
	s := newSite(t)
	c := client(t)
	s.signIn(t, c, "/")
	if n := s.sessions(t); n != 1 {
		t.Fatalf("%d sessions", n)
	}
	var manager string
	if err := s.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, auth.DevEmail(auth.Manager)).Scan(&manager); err != nil {
		t.Fatal(err)
	}
	status, location, body := s.reauth(t, c, auth.DevEmail(auth.Manager))
	back, grant, ok := strings.Cut(location, "#reauth=")
	if status != 303 || !ok || back != "/o/x/reports?site=s" || len(grant) < 40 {
		t.Fatalf("re-authentication answered %d %s %.200s", status, location, body)
	}
	if n := s.sessions(t); n != 1 {
		t.Fatalf("re-authentication made a new session: %d", n)
	}
	if _, err := auth.RedeemSigningGrant(context.Background(), s.pool, manager, grant); err != nil {
		t.Fatalf("the grant does not sign: %v", err)
	}
	if _, err := auth.RedeemSigningGrant(context.Background(), s.pool, manager, grant); !errors.Is(err, auth.ErrReauthRequired) {
		t.Fatalf("a grant signs twice: %v", err)
	}

	// Someone else at the keyboard cannot confirm the manager's signature.
	status, location, body = s.reauth(t, c, auth.DevEmail(auth.Viewer))
	if status != 403 || strings.Contains(location, "reauth=") || !strings.Contains(body, "Only the person signed in here") {
		t.Fatalf("re-authentication as another person: %d %s %.200s", status, location, body)
	}
	var grants int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM signing_reauths`).Scan(&grants); err != nil || grants != 1 {
		t.Fatalf("%d grants (%v), want the manager's one", grants, err)
	}

	// Without a session there is nobody to re-authenticate: an ordinary
	// sign-in first.
	resp, _ := get(t, noRedirects(client(t)), s.base+"/auth/signin?reauth=1&next=/o/x/reports")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
		t.Fatalf("re-authentication without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
