package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/freshtrack/freshtrack/auth"
)

// Sign-in is OpenID Connect's authorization code flow with PKCE (S256):
// /auth/signin stores the state, verifier and nonce (hashed state as the
// key), binds the state to the browser with a short cookie and redirects
// to the identity provider; /auth/callback checks both, exchanges the code
// with the verifier, verifies the access token exactly as the API does
// (and the ID token's nonce when one comes), then starts a session. The
// provider's tokens never reach the browser.
//
// /auth/signin?reauth=1 is the re-authentication a signature needs (21 CFR
// 11.200): for the person already signed in, it asks the provider to take
// their credentials again (prompt=login, max_age=0), and its callback,
// instead of a new session, hands the returning page a one-time signing
// grant, provided the same person came back with a fresh auth_time.

// signinTTL bounds a sign-in from redirect to callback.
const signinTTL = 10 * time.Minute

// OIDCClient configures the web app's sign-in with an identity provider.
type OIDCClient struct {
	// Issuer is the provider's issuer URL; its discovery document names
	// the authorization and token endpoints.
	Issuer string
	// ClientID and ClientSecret identify the web app to the provider (no
	// secret: a public client, which PKCE protects).
	ClientID, ClientSecret string
	// AuthURL and TokenURL override discovery's endpoints.
	AuthURL, TokenURL string
	// Scopes requested; defaults to openid, email and profile.
	Scopes []string
}

type signer struct {
	cfg      OIDCClient
	callback string

	mu       sync.Mutex
	oauth    *oauth2.Config
	idTokens *oidc.IDTokenVerifier
}

// endpoints discovers the provider once it first answers (at startup the
// development issuer, served by this very process, is not listening yet).
func (s *signer) endpoints(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		return s.oauth, s.idTokens, nil
	}
	scopes := s.cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	conf := &oauth2.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, RedirectURL: s.callback, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: s.cfg.AuthURL, TokenURL: s.cfg.TokenURL}}
	var ids *oidc.IDTokenVerifier
	if conf.Endpoint.AuthURL == "" || conf.Endpoint.TokenURL == "" {
		p, err := oidc.NewProvider(context.WithoutCancel(ctx), s.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc discovery for %s: %w", s.cfg.Issuer, err)
		}
		ep := p.Endpoint()
		if conf.Endpoint.AuthURL == "" {
			conf.Endpoint.AuthURL = ep.AuthURL
		}
		if conf.Endpoint.TokenURL == "" {
			conf.Endpoint.TokenURL = ep.TokenURL
		}
		ids = p.Verifier(&oidc.Config{ClientID: s.cfg.ClientID, SupportedSigningAlgs: []string{oidc.ES256, oidc.RS256}})
	}
	if conf.Endpoint.AuthURL == "" || conf.Endpoint.TokenURL == "" {
		return nil, nil, fmt.Errorf("the identity provider %s names no authorization or token endpoint: set FRESHTRACK_OIDC_AUTH_URL and FRESHTRACK_OIDC_TOKEN_URL", s.cfg.Issuer)
	}
	if s.cfg.ClientSecret == "" {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	s.oauth, s.idTokens = conf, ids
	return conf, ids, nil
}

// signinCookie binds a sign-in's state to the browser that started it, so
// a callback carrying someone else's code (login CSRF) is refused.
const signinCookie = "freshtrack_signin"

// localPath keeps return addresses on this site: a path, not a URL, and
// not one that a browser reads as another host (//evil, /\evil).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// start redirects to the provider. loginHint, when set, names who signs in
// (the development issuer then asks no question).
func (a *App) start(c *fiber.Ctx) error {
	conf, _, err := a.signer.endpoints(c.UserContext())
	if err != nil {
		a.log.Warn("sign-in unavailable", "err", err)
		return a.errorPage(c, fiber.StatusServiceUnavailable, "Sign-in is unavailable", "The identity provider cannot be reached right now. Try again in a minute.")
	}
	state, nonce, verifier := newToken(), newToken(), oauth2.GenerateVerifier()
	next := localPath(c.Query("next", "/"))
	// A re-authentication (reauth=1) is for signing a record: only the
	// person signed in here can give it, and the provider must ask for
	// their credentials again however recent their sign-in.
	var reauthOf *auth.User
	if c.Query("reauth") == "1" {
		ss, ok, err := a.sessions.Lookup(c)
		if err != nil {
			return err
		}
		if !ok {
			return c.Redirect(signinURL(next), fiber.StatusSeeOther)
		}
		reauthOf = &ss.User
	}
	if _, err := a.db.Exec(c.UserContext(), `
		INSERT INTO web_signins (state_sha256, code_verifier, nonce, return_to, expires_at, reauth) VALUES ($1, $2, $3, $4, $5, $6)`,
		tokenHash(state), verifier, nonce, next, time.Now().Add(signinTTL), reauthOf != nil); err != nil {
		return err
	}
	if _, err := a.db.Exec(c.UserContext(), `DELETE FROM web_signins WHERE expires_at < now()`); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: signinCookie, Value: state, Path: "/auth/", MaxAge: int(signinTTL.Seconds()),
		HTTPOnly: true, Secure: a.sessions.secure, SameSite: fiber.CookieSameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
	if hint := c.Query("login_hint"); hint != "" && reauthOf == nil {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	if reauthOf != nil {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
		if reauthOf.Email != "" {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", reauthOf.Email))
		}
	}
	return c.Redirect(conf.AuthCodeURL(state, opts...), fiber.StatusSeeOther)
}

var errSignin = errors.New("sign-in refused")

// callback finishes a sign-in.
func (a *App) callback(c *fiber.Ctx) error {
	if e := c.Query("error"); e != "" {
		return a.errorPage(c, fiber.StatusUnauthorized, "Sign-in was not completed", "The identity provider answered: "+e+" "+c.Query("error_description"))
	}
	state, code := c.Query("state"), c.Query("code")
	cookie := c.Cookies(signinCookie)
	c.Cookie(&fiber.Cookie{Name: signinCookie, Value: "", Path: "/auth/", Expires: time.Unix(0, 0), HTTPOnly: true, Secure: a.sessions.secure, SameSite: fiber.CookieSameSiteLaxMode})
	if state == "" || code == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
		return a.errorPage(c, fiber.StatusBadRequest, "Sign-in expired", "This sign-in was started in another browser or took too long. Sign in again.")
	}
	var verifier, nonce, next string
	var reauth bool
	err := a.db.QueryRow(c.UserContext(), `
		DELETE FROM web_signins WHERE state_sha256 = $1 AND expires_at > now() RETURNING code_verifier, nonce, return_to, reauth`,
		tokenHash(state)).Scan(&verifier, &nonce, &next, &reauth)
	if errors.Is(err, pgx.ErrNoRows) {
		return a.errorPage(c, fiber.StatusBadRequest, "Sign-in expired", "This sign-in was already used or took too long. Sign in again.")
	}
	if err != nil {
		return err
	}
	user, err := a.redeem(c.UserContext(), code, verifier, nonce)
	if errors.Is(err, errSignin) || errors.Is(err, auth.ErrBadToken) {
		a.log.Warn("sign-in refused", "err", err)
		return a.errorPage(c, fiber.StatusUnauthorized, "Sign-in refused", "The identity provider's answer could not be verified. Sign in again.")
	}
	if err != nil {
		a.log.Warn("sign-in failed", "err", err)
		return a.errorPage(c, fiber.StatusServiceUnavailable, "Sign-in failed", "The sign-in could not be completed right now. Try again in a minute.")
	}
	if reauth {
		return a.reauthenticated(c, user, next)
	}
	if err := a.sessions.Create(c, user.ID); err != nil {
		return err
	}
	return c.Redirect(localPath(next), fiber.StatusSeeOther)
}

// reauthenticated finishes a re-authentication for signing: the session
// stays as it is, and the page that asked gets a one-time signing grant in
// its URL fragment (never sent to a server, so no log or Referer holds it),
// which its signature request carries (auth.CreateSigningGrant).
func (a *App) reauthenticated(c *fiber.Ctx, user auth.User, next string) error {
	ss, ok, err := a.sessions.Lookup(c)
	if err != nil {
		return err
	}
	if !ok || ss.User.ID != user.ID {
		return a.errorPage(c, fiber.StatusForbidden, "Re-authentication refused",
			"Only the person signed in here can confirm a signature. Sign in again as yourself to sign.")
	}
	grant, err := auth.CreateSigningGrant(c.UserContext(), a.db, user.ID, user.AuthTime)
	if errors.Is(err, auth.ErrReauthRequired) {
		a.log.Warn("re-authentication not fresh", "err", err)
		return a.errorPage(c, fiber.StatusUnauthorized, "Re-authentication not confirmed",
			"The identity provider did not confirm that you entered your credentials just now (auth_time). Try signing again.")
	}
	if err != nil {
		return err
	}
	return c.Redirect(localPath(next)+"#reauth="+grant, fiber.StatusSeeOther)
}

// redeem exchanges the code and returns the verified user.
func (a *App) redeem(ctx context.Context, code, verifier, nonce string) (auth.User, error) {
	conf, ids, err := a.signer.endpoints(ctx)
	if err != nil {
		return auth.User{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return auth.User{}, fmt.Errorf("%w: token endpoint: %v", errSignin, err)
	}
	if err != nil {
		return auth.User{}, err
	}
	var idAuthTime time.Time
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" && ids != nil {
		id, err := ids.Verify(ctx, raw)
		if err != nil {
			return auth.User{}, fmt.Errorf("%w: id token: %v", errSignin, err)
		}
		if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
			return auth.User{}, fmt.Errorf("%w: id token nonce does not match", errSignin)
		}
		var claims struct {
			AuthTime int64 `json:"auth_time"`
		}
		if err := id.Claims(&claims); err == nil && claims.AuthTime > 0 {
			idAuthTime = time.Unix(claims.AuthTime, 0).UTC()
		}
	}
	// The access token is what the API accepts from any client: the same
	// issuer, audience and refusals (anonymous users) apply to browsers.
	u, err := a.users.Verify(ctx, tok.AccessToken)
	if err == nil && u.AuthTime.IsZero() {
		// OIDC puts auth_time in the ID token (max_age asks for it);
		// some providers leave it out of access tokens.
		u.AuthTime = idAuthTime
	}
	return u, err
}

// signout ends the session (a POST with the page's CSRF token).
func (a *App) signout(c *fiber.Ctx) error {
	ss, ok, err := a.sessions.Lookup(c)
	if err != nil {
		return err
	}
	if ok && subtle.ConstantTimeCompare([]byte(c.Get(CSRFHeader)), []byte(ss.CSRF)) != 1 {
		return c.Status(fiber.StatusForbidden).SendString("sign-out needs the page's X-CSRF-Token")
	}
	if err := a.sessions.End(c); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// signinURL is where a page sends someone who is not signed in.
func signinURL(next string) string { return "/signin?next=" + url.QueryEscape(localPath(next)) }
