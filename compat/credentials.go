package compat

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/freshtrack/freshtrack/auth"
)

// credentialHeaders are read in this order; the first present wins.
// FreshTrack Pro read X-API-Key and X-Webhook-Secret, FrostGuard also
// X-Downlink-Apikey, and the TTN webhooks FreshTrack Pro provisioned send
// Authorization with the raw secret.
var credentialHeaders = [...]string{"X-API-Key", "X-Webhook-Secret", "X-Downlink-Apikey"}

// credential returns the secret a request presents: one of
// credentialHeaders, else Authorization, raw or after "Bearer ". The
// result points into the header buffer; nothing is allocated.
func credential(h *fasthttp.RequestHeader) []byte {
	for _, name := range credentialHeaders {
		if v := trimSpace(h.Peek(name)); len(v) > 0 {
			return v
		}
	}
	v := trimSpace(h.Peek(fiber.HeaderAuthorization))
	if len(v) > len("Bearer ") && (v[6] == ' ' || v[6] == '\t') && hasFoldPrefix(v, "bearer") {
		return trimSpace(v[len("Bearer "):])
	}
	return v
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasFoldPrefix reports whether b starts with the lower-case ASCII prefix,
// ignoring case.
func hasFoldPrefix(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		if b[i]|0x20 != prefix[i] {
			return false
		}
	}
	return true
}

// authenticate returns who the request's credential speaks for: a
// FreshTrack API key (it must carry the ingest scope) or a FreshTrack Pro
// secret. The answers are FreshTrack Pro's: 401 "Missing API key" or
// "Invalid API key"; 503 when the credential cannot be checked.
func (s *Service) authenticate(c *fiber.Ctx) (auth.Principal, error) {
	cred := credential(&c.Request().Header)
	if len(cred) == 0 {
		return auth.Principal{}, errMissingKey
	}
	var (
		p   auth.Principal
		err error
	)
	if auth.IsAPIKeyShaped(cred) {
		p, err = s.cfg.Keys.Verify(c.UserContext(), cred)
	} else {
		p, err = s.cfg.Secrets.Verify(c.UserContext(), cred)
	}
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		return p, errInvalidKey
	case err != nil:
		s.log.Warn("legacy routes: cannot verify a credential", "err", err)
		e := newError(fiber.StatusServiceUnavailable, "cannot verify the API key right now; retry shortly")
		e.RetryAfter = 2
		return p, e
	case !p.HasScope(auth.ScopeIngest):
		return p, newError(fiber.StatusForbidden, "this API key lacks the ingest scope")
	}
	return p, nil
}
