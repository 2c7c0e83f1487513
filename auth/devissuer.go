package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DevAudience is the audience of development tokens.
const DevAudience = "freshtrack-dev"

// DevIssuerPath is where the development issuer lives on the server.
const DevIssuerPath = "/dev-oidc"

// DevIssuer is a development OIDC issuer for machines with no identity
// provider: `serve --dev-auth` serves its discovery document and JWKS on
// loopback, and `freshtrack dev-token` mints ES256 tokens with the same key.
// Tokens are verified by the ordinary go-oidc path, like any issuer's.
type DevIssuer struct {
	key    *ecdsa.PrivateKey
	kid    string
	issuer string
	codes  devCodes
}

// DevIssuerURL is the issuer URL for a server listening on addr.
func DevIssuerURL(addr string) string { return "http://" + addr + DevIssuerPath }

// IsLoopback reports whether a listen address only accepts local
// connections (127.0.0.0/8, ::1 or localhost; not an empty or wildcard host).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadDevIssuer reads the signing key at keyPath, creating it (mode 0600)
// when missing, for the issuer URL.
func LoadDevIssuer(keyPath, issuerURL string) (*DevIssuer, error) {
	key, err := loadOrCreateKey(keyPath)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	return &DevIssuer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8]), issuer: issuerURL}, nil
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("dev issuer key: %w", err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("dev issuer key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("dev issuer key %s: not PEM", path)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key %s: %w", path, err)
	}
	return key, nil
}

// Issuer is the issuer URL.
func (d *DevIssuer) Issuer() string { return d.issuer }

// JWKSURL is where the key set is served.
func (d *DevIssuer) JWKSURL() string { return d.issuer + "/.well-known/jwks.json" }

// Discovery is the OpenID discovery document.
func (d *DevIssuer) Discovery() []byte {
	b, _ := json.Marshal(map[string]any{
		"issuer":                                d.issuer,
		"jwks_uri":                              d.JWKSURL(),
		"authorization_endpoint":                d.issuer + "/authorize",
		"token_endpoint":                        d.issuer + "/token",
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"subject_types_supported":               []string{"public"},
	})
	return b
}

// JWKS is the public key set.
func (d *DevIssuer) JWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &d.key.PublicKey, KeyID: d.kid, Algorithm: "ES256", Use: "sig"}}})
	return b
}

// Mint signs a token for subject with the development audience. Minting is
// the development issuer's act of authentication, so the token's auth_time
// is now.
func (d *DevIssuer) Mint(subject, email, name string, ttl time.Duration) (string, error) {
	return d.MintAuthenticatedAt(subject, email, name, ttl, time.Now())
}

// MintAuthenticatedAt is Mint for a person authenticated at authTime (the
// auth_time claim), as a token refreshed long after its sign-in carries.
func (d *DevIssuer) MintAuthenticatedAt(subject, email, name string, ttl time.Duration, authTime time.Time) (string, error) {
	return d.mint(subject, email, name, ttl, map[string]any{"auth_time": authTime.Unix()})
}

func (d *DevIssuer) mint(subject, email, name string, ttl time.Duration, more map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: d.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", d.kid))
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims := jwt.Claims{
		Issuer:    d.issuer,
		Subject:   subject,
		Audience:  jwt.Audience{DevAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry:    jwt.NewNumericDate(now.Add(ttl)),
	}
	extra := map[string]any{"email": email, "name": name, "email_verified": true}
	for k, v := range more {
		extra[k] = v
	}
	return jwt.Signed(signer).Claims(claims).Claims(extra).Serialize()
}
