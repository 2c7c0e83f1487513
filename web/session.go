package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
)

// Sessions keeps the web app's sign-ins in the database: the browser holds
// a random token in an HttpOnly cookie (no token any script can read), the
// table its SHA-256, the user and the CSRF token the page sends back.
// Every instance sees every session, and signing out ends it everywhere.
type Sessions struct {
	db     database.Querier
	ttl    time.Duration
	secure bool
}

// NewSessions returns sessions lasting ttl. secure marks the cookie Secure
// (and names it with the __Host- prefix): every deployment but plain-HTTP
// development on loopback.
func NewSessions(db database.Querier, ttl time.Duration, secure bool) *Sessions {
	return &Sessions{db: db, ttl: ttl, secure: secure}
}

// CookieName is the session cookie's name.
func (s *Sessions) CookieName() string {
	if s.secure {
		return "__Host-freshtrack_session"
	}
	return "freshtrack_session"
}

// CSRFHeader carries the session's CSRF token on state-changing calls.
const CSRFHeader = "X-CSRF-Token"

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

// Create starts a session for userID and sets its cookie on c.
func (s *Sessions) Create(c *fiber.Ctx, userID string) error {
	tok := newToken()
	expires := time.Now().Add(s.ttl)
	if _, err := s.db.Exec(c.UserContext(), `
		INSERT INTO web_sessions (token_sha256, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)`,
		tokenHash(tok), userID, newToken(), expires); err != nil {
		return err
	}
	// Sessions that ran out are not looked up again; clear them now and
	// then rather than in a job of their own.
	if _, err := s.db.Exec(c.UserContext(), `DELETE FROM web_sessions WHERE expires_at < now() - interval '1 day'`); err != nil {
		return err
	}
	s.setCookie(c, tok, expires)
	return nil
}

func (s *Sessions) setCookie(c *fiber.Ctx, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{Name: s.CookieName(), Value: value, Path: "/", Expires: expires,
		HTTPOnly: true, Secure: s.secure, SameSite: fiber.CookieSameSiteLaxMode})
}

// Session is a signed-in browser.
type Session struct {
	User auth.User
	// CSRF is the token the page must send in X-CSRF-Token.
	CSRF    string
	Expires time.Time
}

// Lookup returns the session of c's cookie; ok is false without a cookie
// or for one that is unknown, ended or expired.
func (s *Sessions) Lookup(c *fiber.Ctx) (Session, bool, error) {
	tok := c.Cookies(s.CookieName())
	if tok == "" {
		return Session{}, false, nil
	}
	return s.lookup(c.UserContext(), tok)
}

func (s *Sessions) lookup(ctx context.Context, tok string) (Session, bool, error) {
	var ss Session
	err := s.db.QueryRow(ctx, `
		SELECT u.id, u.issuer, u.subject, coalesce(u.email, ''), coalesce(u.name, ''), w.csrf_token, w.expires_at
		  FROM web_sessions w JOIN users u ON u.id = w.user_id
		 WHERE w.token_sha256 = $1 AND w.expires_at > now()`, tokenHash(tok)).
		Scan(&ss.User.ID, &ss.User.Issuer, &ss.User.Subject, &ss.User.Email, &ss.User.Name, &ss.CSRF, &ss.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	return ss, true, nil
}

// End deletes c's session and its cookie.
func (s *Sessions) End(c *fiber.Ctx) error {
	if tok := c.Cookies(s.CookieName()); tok != "" {
		if _, err := s.db.Exec(c.UserContext(), `DELETE FROM web_sessions WHERE token_sha256 = $1`, tokenHash(tok)); err != nil {
			return err
		}
	}
	s.setCookie(c, "", time.Unix(0, 0))
	return nil
}

// SessionUser is how the API authenticates a browser (api.SessionAuth):
// the session's user, and whether a state-changing request carries its
// CSRF token.
func (s *Sessions) SessionUser(c *fiber.Ctx) (u auth.User, ok, csrfOK bool, err error) {
	ss, ok, err := s.Lookup(c)
	if !ok || err != nil {
		return auth.User{}, false, false, err
	}
	sent := c.Get(CSRFHeader)
	return ss.User, true, sent != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(ss.CSRF)) == 1, nil
}
