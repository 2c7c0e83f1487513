package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// ErrBadToken is returned for a user token that is missing, malformed,
// unsigned, signed with an unaccepted algorithm or unknown key, expired, not
// yet valid, or for the wrong issuer or audience.
var ErrBadToken = errors.New("invalid or expired access token")

// OIDCConfig configures user-token verification.
type OIDCConfig struct {
	// Issuer is the exact iss claim expected.
	Issuer string
	// Audience is the exact aud claim expected (Stack Auth: the project id).
	Audience string
	// JWKSURL is the issuer's key set. Empty uses OIDC discovery at
	// <Issuer>/.well-known/openid-configuration.
	JWKSURL string
	// Algorithms are the accepted signing algorithms. Defaults to ES256 and RS256.
	Algorithms []string
	// Now is the clock, for tests. Defaults to time.Now.
	Now func() time.Time
}

// User is a person known through a verified token.
type User struct {
	ID      string `json:"id"`
	Issuer  string `json:"-"`
	Subject string `json:"-"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
	// AuthTime is when the identity provider last authenticated the
	// person (the token's auth_time claim); zero when the token carries
	// none, and for a browser session. Signing a record needs it recent
	// (see FreshAuth).
	AuthTime time.Time `json:"-"`
}

// UserVerifier verifies OIDC access tokens with go-oidc (signature against
// the issuer's JWKS, refreshed when an unknown key id appears; issuer,
// audience, expiry and not-before) and maps the subject to a users row,
// created on first use.
type UserVerifier struct {
	cfg  OIDCConfig
	pool *pgxpool.Pool

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier

	users sync.Map // issuer+"\x00"+subject -> cachedUser
}

type cachedUser struct {
	u       User
	expires time.Time
}

// NewUserVerifier returns a verifier. With an explicit JWKS URL nothing is
// fetched until the first token; with discovery, the discovery document is
// fetched on first use and retried until it succeeds.
func NewUserVerifier(cfg OIDCConfig, pool *pgxpool.Pool) (*UserVerifier, error) {
	if cfg.Issuer == "" {
		return nil, &ValidationError{Field: "issuer", Reason: "must be set"}
	}
	if cfg.Audience == "" {
		return nil, &ValidationError{Field: "audience", Reason: "must be set"}
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{oidc.ES256, oidc.RS256}
	}
	for _, a := range cfg.Algorithms {
		if strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS") {
			return nil, &ValidationError{Field: "algorithms", Reason: fmt.Sprintf("%s is not accepted: use asymmetric algorithms such as ES256 or RS256", a)}
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &UserVerifier{cfg: cfg, pool: pool}, nil
}

func (v *UserVerifier) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	conf := &oidc.Config{ClientID: v.cfg.Audience, SupportedSigningAlgs: v.cfg.Algorithms, Now: v.cfg.Now}
	if v.cfg.JWKSURL != "" {
		// The key set outlives this request: it refreshes itself on unknown kids.
		keys := oidc.NewRemoteKeySet(context.WithoutCancel(ctx), v.cfg.JWKSURL)
		v.verifier = oidc.NewVerifier(v.cfg.Issuer, keys, conf)
		return v.verifier, nil
	}
	p, err := oidc.NewProvider(context.WithoutCancel(ctx), v.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery for %s: %w", v.cfg.Issuer, err)
	}
	v.verifier = p.Verifier(conf)
	return v.verifier, nil
}

type tokenClaims struct {
	Email       string `json:"email"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	IsAnonymous bool   `json:"is_anonymous"`
	AuthTime    int64  `json:"auth_time"`
}

// Verify checks a raw token and returns its user, creating the users row on
// first use. A token that fails verification yields an error wrapping
// ErrBadToken; other errors mean the check could not be made (discovery or
// database unavailable).
func (v *UserVerifier) Verify(ctx context.Context, raw string) (User, error) {
	if raw == "" {
		return User{}, ErrBadToken
	}
	iv, err := v.idVerifier(ctx)
	if err != nil {
		return User{}, err
	}
	tok, err := iv.Verify(ctx, raw)
	if err != nil {
		// Expired, wrong issuer or audience, bad signature, unknown key even
		// after a refresh, unaccepted algorithm: all the same to the client.
		return User{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		return User{}, fmt.Errorf("%w: claims: %v", ErrBadToken, err)
	}
	if c.IsAnonymous || tok.Subject == "" {
		return User{}, fmt.Errorf("%w: anonymous or subject-less tokens are not accepted", ErrBadToken)
	}
	name := c.Name
	if name == "" {
		name = c.DisplayName
	}
	u, err := v.user(ctx, tok.Issuer, tok.Subject, c.Email, name)
	if err == nil && c.AuthTime > 0 {
		u.AuthTime = time.Unix(c.AuthTime, 0).UTC()
	}
	return u, err
}

// user returns the users row of an identity, creating or refreshing it.
func (v *UserVerifier) user(ctx context.Context, issuer, subject, email, name string) (User, error) {
	key := issuer + "\x00" + subject
	now := v.cfg.Now()
	if c, ok := v.users.Load(key); ok {
		cu := c.(cachedUser)
		if now.Before(cu.expires) && cu.u.Email == email && cu.u.Name == name {
			return cu.u, nil
		}
	}
	u, err := UpsertUser(ctx, v.pool, issuer, subject, email, name)
	if err != nil {
		return User{}, err
	}
	v.users.Store(key, cachedUser{u: u, expires: now.Add(5 * time.Minute)})
	return u, nil
}

// UpsertUser creates or refreshes the users row of an OIDC identity.
func UpsertUser(ctx context.Context, db database.Querier, issuer, subject, email, name string) (User, error) {
	u := User{Issuer: issuer, Subject: subject}
	err := db.QueryRow(ctx, `
		INSERT INTO users (issuer, subject, email, name) VALUES ($1, $2, nullif($3, ''), nullif($4, ''))
		ON CONFLICT (issuer, subject) DO UPDATE
		   SET email = coalesce(excluded.email, users.email),
		       name = CASE WHEN users.name_chosen_at IS NULL THEN coalesce(excluded.name, users.name) ELSE users.name END,
		       updated_at = now()
		RETURNING id, coalesce(email, ''), coalesce(name, '')`, issuer, subject, email, name).Scan(&u.ID, &u.Email, &u.Name)
	if err != nil {
		return User{}, fmt.Errorf("upsert user: %w", err)
	}
	return u, nil
}
