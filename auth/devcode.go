package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The development issuer also signs people in to the web app the way a
// real identity provider does: an authorization endpoint that hands out a
// one-time code, and a token endpoint that exchanges it for an access
// token only against the PKCE verifier (RFC 7636, S256). The web app's
// sign-in therefore runs one code path for Stack Auth and for `make run`.

// DevPersona is someone the development issuer signs in with one click.
type DevPersona struct {
	// Role names the persona and the demo membership it has.
	Role Role
	// Email is the persona's email, as `freshtrack dev-token` names it.
	Email string
	// Name is its display name.
	Name string
}

// DevPersonas are the people of the demo organisation (`freshtrack demo
// --dev-tokens` makes them members), in the order the sign-in page offers.
func DevPersonas() []DevPersona {
	var ps []DevPersona
	for _, r := range []Role{Manager, Staff, Viewer, Admin} {
		ps = append(ps, DevPersona{Role: r, Email: DevEmail(r), Name: DevName(r)})
	}
	return ps
}

// DevEmail is the default email of a development user with role.
func DevEmail(r Role) string { return string(r) + "@dev.freshtrack.local" }

// DevName is the default display name of a development user with role.
func DevName(r Role) string { return "Dev " + string(r) }

// DevSubject is the subject of a development user's tokens.
func DevSubject(email string) string { return "dev|" + email }

// devCodeTTL bounds the time between the authorization redirect and the
// token exchange.
const devCodeTTL = time.Minute

type devGrant struct {
	email, name, challenge, redirectURI, clientID, nonce string
	// authenticated is when the person picked who they are: the tokens'
	// auth_time.
	authenticated, expires time.Time
}

type devCodes struct {
	mu     sync.Mutex
	grants map[string]devGrant
}

// DevAuthorizeRequest is an authorization request's parameters.
type DevAuthorizeRequest struct {
	ResponseType, ClientID, RedirectURI, State, Nonce, CodeChallenge, CodeChallengeMethod string
}

// Check refuses a request the issuer does not serve: only the code flow
// with an S256 challenge, to a loopback redirect (a development issuer
// never sends a code off the machine).
func (r DevAuthorizeRequest) Check() error {
	if r.ResponseType != "code" {
		return errors.New("response_type must be code")
	}
	if r.ClientID != DevAudience {
		return errors.New("unknown client_id: the development issuer serves " + DevAudience)
	}
	u, err := url.Parse(r.RedirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !IsLoopback(u.Host) && !IsLoopback(u.Host+":80") {
		return errors.New("redirect_uri must be an http(s) URL on a loopback address")
	}
	if r.CodeChallengeMethod != "S256" || len(r.CodeChallenge) < 43 {
		return errors.New("PKCE is required: code_challenge with code_challenge_method=S256")
	}
	if r.State == "" {
		return errors.New("state is required")
	}
	return nil
}

// Authorize grants a one-time code to the development user email for a
// checked request and returns the redirect URI that carries it back.
func (d *DevIssuer) Authorize(r DevAuthorizeRequest, email, name string) (string, error) {
	if err := r.Check(); err != nil {
		return "", err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") {
		return "", errors.New("an email is required")
	}
	code := randomToken()
	d.codes.mu.Lock()
	if d.codes.grants == nil {
		d.codes.grants = map[string]devGrant{}
	}
	now := time.Now()
	for k, g := range d.codes.grants {
		if now.After(g.expires) {
			delete(d.codes.grants, k)
		}
	}
	d.codes.grants[code] = devGrant{email: email, name: name, challenge: r.CodeChallenge, redirectURI: r.RedirectURI,
		clientID: r.ClientID, nonce: r.Nonce, authenticated: now, expires: now.Add(devCodeTTL)}
	d.codes.mu.Unlock()
	u, _ := url.Parse(r.RedirectURI)
	q := u.Query()
	q.Set("code", code)
	q.Set("state", r.State)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// DevTokenResponse is the token endpoint's answer.
type DevTokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// ErrDevGrant is the token endpoint's invalid_grant: unknown, used or
// expired code, wrong redirect URI, client or verifier.
var ErrDevGrant = errors.New("invalid_grant")

// Exchange redeems a code once, against the verifier whose S256 hash the
// authorization request carried.
func (d *DevIssuer) Exchange(code, redirectURI, clientID, verifier string) (DevTokenResponse, error) {
	d.codes.mu.Lock()
	g, ok := d.codes.grants[code]
	delete(d.codes.grants, code)
	d.codes.mu.Unlock()
	if !ok || time.Now().After(g.expires) || g.redirectURI != redirectURI || g.clientID != clientID {
		return DevTokenResponse{}, ErrDevGrant
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		return DevTokenResponse{}, ErrDevGrant
	}
	const ttl = 10 * time.Minute
	subject := DevSubject(g.email)
	access, err := d.MintAuthenticatedAt(subject, g.email, g.name, ttl, g.authenticated)
	if err != nil {
		return DevTokenResponse{}, err
	}
	id, err := d.mint(subject, g.email, g.name, ttl, map[string]any{"nonce": g.nonce, "auth_time": g.authenticated.Unix()})
	if err != nil {
		return DevTokenResponse{}, err
	}
	return DevTokenResponse{AccessToken: access, IDToken: id, TokenType: "Bearer", ExpiresIn: int(ttl.Seconds())}, nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
