package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// testIssuer is a local OIDC issuer: discovery, a JWKS whose keys the test
// can rotate, and signing of arbitrary tokens.
type testIssuer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
	hits int
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{keys: map[string]*ecdsa.PrivateKey{}}
	iss.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/.well-known/jwks.json",
				"id_token_signing_alg_values_supported": []string{"ES256"}})
		case "/.well-known/jwks.json":
			iss.mu.Lock()
			iss.hits++
			var set jose.JSONWebKeySet
			for kid, k := range iss.keys {
				set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
			}
			iss.mu.Unlock()
			_ = json.NewEncoder(w).Encode(set)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(iss.srv.Close)
	return iss
}

func (iss *testIssuer) addKey(t *testing.T, kid string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	iss.keys[kid] = k
	iss.mu.Unlock()
	return k
}

type tokenSpec struct {
	kid      string
	key      *ecdsa.PrivateKey
	issuer   string
	audience string
	subject  string
	expiry   time.Time
	nbf      time.Time
	extra    map[string]any
}

func sign(t *testing.T, s tokenSpec) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.kid))
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.Claims{Issuer: s.issuer, Subject: s.subject, Audience: jwt.Audience{s.audience}, Expiry: jwt.NewNumericDate(s.expiry), IssuedAt: jwt.NewNumericDate(time.Now())}
	if !s.nbf.IsZero() {
		c.NotBefore = jwt.NewNumericDate(s.nbf)
	}
	extra := map[string]any{"email": "cook@example.com", "name": "Sam Cook"}
	for k, v := range s.extra {
		extra[k] = v
	}
	tok, err := jwt.Signed(signer).Claims(c).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestUserVerifierRefusesEveryBadToken(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	iss := newTestIssuer(t)
	key := iss.addKey(t, "k1")
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, discovery := range []bool{false, true} {
		cfg := auth.OIDCConfig{Issuer: iss.srv.URL, Audience: "proj-1", Algorithms: []string{"ES256"}}
		if !discovery {
			cfg.JWKSURL = iss.srv.URL + "/.well-known/jwks.json"
		}
		v, err := auth.NewUserVerifier(cfg, pool)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		good := tokenSpec{kid: "k1", key: key, issuer: iss.srv.URL, audience: "proj-1", subject: "user-1", expiry: time.Now().Add(10 * time.Minute)}
		u, err := v.Verify(ctx, sign(t, good))
		if err != nil || u.ID == "" || u.Email != "cook@example.com" || u.Name != "Sam Cook" {
			t.Fatalf("discovery=%v: good token = %+v, %v", discovery, u, err)
		}
		again, err := v.Verify(ctx, sign(t, good))
		if err != nil || again.ID != u.ID {
			t.Fatalf("the same subject became another user: %+v %v", again, err)
		}
		f := func(name, tok string) {
			t.Helper()
			if _, err := v.Verify(ctx, tok); !errors.Is(err, auth.ErrBadToken) {
				t.Errorf("discovery=%v: %s: err = %v, want ErrBadToken", discovery, name, err)
			}
		}
		mod := func(change func(*tokenSpec)) string {
			s := good
			change(&s)
			return sign(t, s)
		}
		f("expired", mod(func(s *tokenSpec) { s.expiry = time.Now().Add(-time.Hour) }))
		f("not yet valid", mod(func(s *tokenSpec) { s.nbf = time.Now().Add(time.Hour) }))
		f("wrong issuer", mod(func(s *tokenSpec) { s.issuer = "https://evil.example" }))
		f("wrong audience", mod(func(s *tokenSpec) { s.audience = "proj-2" }))
		f("anonymous audience", mod(func(s *tokenSpec) { s.audience = "proj-1:anon" }))
		f("anonymous user", mod(func(s *tokenSpec) { s.extra = map[string]any{"is_anonymous": true} }))
		f("unknown signing key", mod(func(s *tokenSpec) { s.key = stranger }))
		f("known kid, other key", mod(func(s *tokenSpec) { s.key, s.kid = stranger, "k1" }))
		f("empty", "")
		f("garbage", "not.a.jwt")
		parts := strings.Split(sign(t, good), ".")
		f("alg none", b64(map[string]any{"alg": "none", "typ": "JWT"})+"."+parts[1]+".")
		f("unsigned", parts[0]+"."+parts[1]+".")
		f("HS256 header", b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"})+"."+parts[1]+"."+parts[2])
		f("tampered claims", parts[0]+"."+b64(map[string]any{"iss": iss.srv.URL, "aud": "proj-1", "sub": "admin", "exp": time.Now().Add(time.Hour).Unix()})+"."+parts[2])
	}
}

func TestUserVerifierFollowsKeyRotation(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	iss := newTestIssuer(t)
	old := iss.addKey(t, "old")
	v, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: iss.srv.URL, Audience: "proj-1", JWKSURL: iss.srv.URL + "/.well-known/jwks.json"}, pool)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spec := tokenSpec{kid: "old", key: old, issuer: iss.srv.URL, audience: "proj-1", subject: "u", expiry: time.Now().Add(time.Hour)}
	if _, err := v.Verify(ctx, sign(t, spec)); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates: a new key with a new kid appears in its JWKS.
	spec.key, spec.kid = iss.addKey(t, "new"), "new"
	if _, err := v.Verify(ctx, sign(t, spec)); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	iss.mu.Lock()
	hits := iss.hits
	iss.mu.Unlock()
	if hits < 2 {
		t.Fatalf("JWKS fetched %d times; the verifier did not refresh on the unknown kid", hits)
	}
}

func TestUserVerifierConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []auth.OIDCConfig{
		{Audience: "a"},
		{Issuer: "https://x"},
		{Issuer: "https://x", Audience: "a", Algorithms: []string{"none"}},
		{Issuer: "https://x", Audience: "a", Algorithms: []string{"HS256"}},
	} {
		if _, err := auth.NewUserVerifier(cfg, nil); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestDevIssuerTokensVerifyThroughOIDC(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	var dev *auth.DevIssuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case auth.DevIssuerPath + "/.well-known/jwks.json":
			_, _ = w.Write(dev.JWKS())
		case auth.DevIssuerPath + "/.well-known/openid-configuration":
			_, _ = w.Write(dev.Discovery())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	keyFile := t.TempDir() + "/dev.pem"
	var err error
	dev, err = auth.LoadDevIssuer(keyFile, srv.URL+auth.DevIssuerPath)
	if err != nil {
		t.Fatal(err)
	}
	// A second load (the dev-token command) uses the same key.
	dev2, err := auth.LoadDevIssuer(keyFile, srv.URL+auth.DevIssuerPath)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := dev2.Mint("dev|chef@example.com", "chef@example.com", "Chef", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: dev.Issuer(), Audience: auth.DevAudience}, pool)
	if err != nil {
		t.Fatal(err)
	}
	u, err := v.Verify(context.Background(), tok)
	if err != nil || u.Email != "chef@example.com" {
		t.Fatalf("dev token via discovery = %+v, %v", u, err)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true, ":8080": false, "0.0.0.0:8080": false, "10.0.0.5:80": false, "example.com:80": false} {
		if auth.IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) = %v", addr, !want)
		}
	}
}

func TestRoleHierarchy(t *testing.T) {
	t.Parallel()
	f := func(r auth.Role, p auth.Permission, want bool) {
		t.Helper()
		if r.Can(p) != want {
			t.Errorf("%s.Can(%s) = %v", r, p, !want)
		}
	}
	f(auth.Viewer, auth.PermRead, true)
	f(auth.Viewer, auth.PermOperate, false)
	f(auth.Staff, auth.PermOperate, true)
	f(auth.Staff, auth.PermManage, false)
	f(auth.Manager, auth.PermManage, true)
	f(auth.Manager, auth.PermAdminister, false)
	f(auth.Admin, auth.PermAdminister, true)
	f(auth.Admin, auth.PermOwn, false)
	f(auth.Owner, auth.PermOwn, true)
	f(auth.Owner, auth.PermRead, true)
	f(auth.Role("chef"), auth.PermRead, false)
}

// TestSignInKeepsTheNameAPersonChose: the identity provider's name fills
// and refreshes a user's name until the person names themselves in their
// profile; after that a sign-in never replaces it.
func TestSignInKeepsTheNameAPersonChose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	const iss = "https://issuer.test"
	if _, err := auth.UpsertUser(ctx, pool, iss, "sub-kim", "kim@example.com", "Kim P."); err != nil {
		t.Fatal(err)
	}
	u, err := auth.UpsertUser(ctx, pool, iss, "sub-kim", "kim@example.com", "Kimberly Park")
	if err != nil || u.Name != "Kimberly Park" {
		t.Fatalf("the provider's new name: %q, %v", u.Name, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE users SET name = 'Kim Park (pastry)', name_chosen_at = now() WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	u, err = auth.UpsertUser(ctx, pool, iss, "sub-kim", "kim@example.com", "Kimberly Park")
	if err != nil || u.Name != "Kim Park (pastry)" {
		t.Fatalf("after the person chose a name, sign-in made it %q (%v)", u.Name, err)
	}
}
