package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
)

func TestDevIssuerCodeNeedsItsPKCEVerifierOnce(t *testing.T) {
	dev, err := LoadDevIssuer(filepath.Join(t.TempDir(), "k.pem"), "http://127.0.0.1:9/dev-oidc")
	if err != nil {
		t.Fatal(err)
	}
	verifier := "a-verifier-that-is-long-enough-for-rfc-7636-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	req := DevAuthorizeRequest{ResponseType: "code", ClientID: DevAudience, RedirectURI: "http://127.0.0.1:9/auth/callback",
		State: "s1", Nonce: "n1", CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), CodeChallengeMethod: "S256"}
	for name, bad := range map[string]func(r *DevAuthorizeRequest){
		"no PKCE":         func(r *DevAuthorizeRequest) { r.CodeChallenge, r.CodeChallengeMethod = "", "" },
		"plain PKCE":      func(r *DevAuthorizeRequest) { r.CodeChallengeMethod = "plain" },
		"remote redirect": func(r *DevAuthorizeRequest) { r.RedirectURI = "https://evil.example/cb" },
		"implicit flow":   func(r *DevAuthorizeRequest) { r.ResponseType = "token" },
		"other client":    func(r *DevAuthorizeRequest) { r.ClientID = "someone" },
		"no state":        func(r *DevAuthorizeRequest) { r.State = "" },
	} {
		r := req
		bad(&r)
		if _, err := dev.Authorize(r, "manager@dev.freshtrack.local", ""); err == nil {
			t.Errorf("%s: authorized", name)
		}
	}
	to, err := dev.Authorize(req, "Manager@Dev.Freshtrack.Local", "Dev manager")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	code := u.Query().Get("code")
	if u.Query().Get("state") != "s1" || code == "" {
		t.Fatalf("redirect %s", to)
	}
	if _, err := dev.Exchange(code, req.RedirectURI, DevAudience, verifier+"x"); !errors.Is(err, ErrDevGrant) {
		t.Fatalf("wrong verifier: %v", err)
	}
	// The failed attempt used the code up.
	to, _ = dev.Authorize(req, "manager@dev.freshtrack.local", "Dev manager")
	u, _ = url.Parse(to)
	code = u.Query().Get("code")
	tok, err := dev.Exchange(code, req.RedirectURI, DevAudience, verifier)
	if err != nil || tok.AccessToken == "" || tok.IDToken == "" {
		t.Fatalf("exchange: %+v %v", tok, err)
	}
	if _, err := dev.Exchange(code, req.RedirectURI, DevAudience, verifier); !errors.Is(err, ErrDevGrant) {
		t.Fatalf("second use of a code: %v", err)
	}
}
