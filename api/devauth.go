package api

import (
	"encoding/json"
	"html/template"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// ServeDevIssuer registers the development OIDC issuer on app: discovery,
// key set, and the authorization-code endpoints (a sign-in page with one
// button per demo persona, and the PKCE-checked token exchange). It
// returns their routes for the OpenAPI document.
func ServeDevIssuer(app *fiber.App, dev *auth.DevIssuer) []Route {
	disc := Route{Method: "GET", Path: auth.DevIssuerPath + "/.well-known/openid-configuration", Summary: "Development OIDC discovery (serve --dev-auth only)", Tag: "dev-auth", Public: true,
		Response: obj(map[string]any{"issuer": str, "jwks_uri": str, "authorization_endpoint": str, "token_endpoint": str})}
	jwks := Route{Method: "GET", Path: auth.DevIssuerPath + "/.well-known/jwks.json", Summary: "Development OIDC key set (serve --dev-auth only)", Tag: "dev-auth", Public: true,
		Response: obj(map[string]any{"keys": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"kid": str, "kty": str, "alg": str}}}})}
	authorize := Route{Method: "GET", Path: auth.DevIssuerPath + "/authorize", Summary: "Development sign-in: a code for login_hint, or a page to pick a demo persona (serve --dev-auth only)", Tag: "dev-auth", Public: true, Produces: []string{"text/html"}}
	token := Route{Method: "POST", Path: auth.DevIssuerPath + "/token", Summary: "Development token endpoint: a code and its PKCE verifier for tokens (serve --dev-auth only)", Tag: "dev-auth", Public: true,
		Response: obj(map[string]any{"access_token": str, "id_token": str, "token_type": str, "expires_in": map[string]any{"type": "integer"}})}
	app.Get(disc.Path, noBody, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(dev.Discovery())
	})
	app.Get(jwks.Path, noBody, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(dev.JWKS())
	})
	// Fiber's strings point into the request buffer: the grant outlives it.
	request := func(query func(string, ...string) string) auth.DevAuthorizeRequest {
		get := func(k string) string { return strings.Clone(query(k)) }
		return auth.DevAuthorizeRequest{ResponseType: get("response_type"), ClientID: get("client_id"), RedirectURI: get("redirect_uri"),
			State: get("state"), Nonce: get("nonce"), CodeChallenge: get("code_challenge"), CodeChallengeMethod: get("code_challenge_method")}
	}
	authorizeError := func(c *fiber.Ctx, err error) error {
		return problem.BadRequest("development sign-in refused: " + err.Error())
	}
	app.Get(authorize.Path, noBody, func(c *fiber.Ctx) error {
		req := request(c.Query)
		if err := req.Check(); err != nil {
			return authorizeError(c, err)
		}
		// The app's sign-in page names a persona in login_hint: signed in
		// at once. Without one, this page offers them; so it does for
		// prompt=login (a re-authentication before signing a record),
		// where picking oneself again is this issuer's entering of
		// credentials, and the tokens' auth_time is that moment.
		if hint := strings.Clone(strings.TrimSpace(c.Query("login_hint"))); hint != "" && c.Query("prompt") != "login" {
			name := ""
			for _, p := range auth.DevPersonas() {
				if strings.EqualFold(hint, p.Email) {
					name = p.Name
				}
			}
			to, err := dev.Authorize(req, hint, name)
			if err != nil {
				return authorizeError(c, err)
			}
			return c.Redirect(to, fiber.StatusSeeOther)
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		c.Type("html", "utf-8")
		return devSignInPage.Execute(c.Response().BodyWriter(), map[string]any{"Request": req, "Personas": auth.DevPersonas(), "Action": authorize.Path})
	})
	app.Post(token.Path, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		form, err := formBody(c, 16<<10)
		if err != nil {
			return err
		}
		if form.Get("grant_type") != "authorization_code" {
			return oauthError(c, "unsupported_grant_type", "grant_type must be authorization_code")
		}
		tok, err := dev.Exchange(form.Get("code"), form.Get("redirect_uri"), form.Get("client_id"), form.Get("code_verifier"))
		if err != nil {
			return oauthError(c, "invalid_grant", "the code is unknown, used or expired, or the redirect URI, client or PKCE verifier does not match")
		}
		b, _ := json.Marshal(tok)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(b)
	})
	return []Route{disc, jwks, authorize, token}
}

// formBody reads an application/x-www-form-urlencoded body of at most
// limit bytes, the way every route reads bodies (httpbody: bounded,
// decoded, refused with a problem).
func formBody(c *fiber.Ctx, limit int) (url.Values, error) {
	if ct := string(c.Request().Header.ContentType()); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, httpbody.WrongContentType(ct, "application/x-www-form-urlencoded")
	}
	b, err := httpbody.Read(c, nil, httpbody.Options{Limit: limit})
	defer b.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(b.Bytes))
	if err != nil {
		return nil, problem.BadRequest("the body is not a valid form: " + err.Error())
	}
	return form, nil
}

// oauthError answers a token request as RFC 6749 section 5.2 says (an
// "error" code, 400) in a problem document, which OAuth clients read as
// JSON and every other client of this server knows.
func oauthError(c *fiber.Ctx, code, detail string) error {
	p := problem.New(fiber.StatusBadRequest, "oauth-"+strings.ReplaceAll(code, "_", "-"), "Token request refused", detail)
	b, _ := json.Marshal(struct {
		*problem.Problem
		Error string `json:"error"`
	}{p, code})
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(fiber.StatusBadRequest).Send(b)
}

var devSignInPage = template.Must(template.New("dev-sign-in").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development sign-in · FreshTrack</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#102a43}
button{font:inherit;display:block;width:100%;margin:.5rem 0;padding:.75rem;border:1px solid #334e68;border-radius:.5rem;background:#f0f4f8;color:#102a43;cursor:pointer}
button:focus{outline:3px solid #2680c2}input{font:inherit;width:100%;padding:.5rem;box-sizing:border-box}</style></head>
<body><h1>Development sign-in</h1>
<p>This identity provider runs inside <code>freshtrack serve --dev-auth</code> on this machine only. Pick who you are:</p>
{{range .Personas}}<form method="get" action="{{$.Action}}">{{template "hidden" $.Request}}<input type="hidden" name="login_hint" value="{{.Email}}">
<button type="submit">{{.Name}} ({{.Email}})</button></form>{{end}}
<form method="get" action="{{.Action}}">{{template "hidden" .Request}}<label>Someone else (email)<input name="login_hint" type="email" required></label><button type="submit">Sign in</button></form>
</body></html>
{{define "hidden"}}<input type="hidden" name="response_type" value="{{.ResponseType}}"><input type="hidden" name="client_id" value="{{.ClientID}}"><input type="hidden" name="redirect_uri" value="{{.RedirectURI}}"><input type="hidden" name="state" value="{{.State}}"><input type="hidden" name="nonce" value="{{.Nonce}}"><input type="hidden" name="code_challenge" value="{{.CodeChallenge}}"><input type="hidden" name="code_challenge_method" value="{{.CodeChallengeMethod}}">{{end}}`))
