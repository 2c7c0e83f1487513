package live

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// TicketTTL is how long a ticket may be used to open a stream: long enough
// for a page to open its EventSource, short enough that a ticket in a log is
// worthless.
const TicketTTL = 60 * time.Second

// ErrBadTicket is a ticket that is malformed, forged, for another
// organisation, or expired. It deliberately does not say which.
var ErrBadTicket = errors.New("the ticket is invalid or expired; ask for a new one")

// Tickets signs and checks the short-lived tickets a browser's EventSource,
// which cannot set an Authorization header, passes as ?ticket= instead. A
// ticket names one person and one organisation; membership is still checked
// when the stream opens. Every instance behind one address must share the
// key.
type Tickets struct {
	key []byte
	now func() time.Time
}

// NewTickets returns tickets signed with key; an empty key makes a random
// one, so tickets then work only on the instance that issued them.
func NewTickets(key []byte) *Tickets {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	return &Tickets{key: key, now: time.Now}
}

// Issue returns a ticket for userID in orgID and when it expires.
func (t *Tickets) Issue(orgID, userID string) (string, time.Time) {
	exp := t.now().Add(TicketTTL).Truncate(time.Second)
	body := orgID + "." + userID + "." + strconv.FormatInt(exp.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + t.sign(body), exp
}

// Check returns the user a ticket was issued to for orgID.
func (t *Tickets) Check(ticket, orgID string) (string, error) {
	b64, mac, ok := strings.Cut(ticket, ".")
	if !ok || len(ticket) > 512 {
		return "", ErrBadTicket
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", ErrBadTicket
	}
	body := string(raw)
	if !hmac.Equal([]byte(mac), []byte(t.sign(body))) {
		return "", ErrBadTicket
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 || parts[0] != orgID {
		return "", ErrBadTicket
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || t.now().Unix() > exp {
		return "", ErrBadTicket
	}
	return parts[1], nil
}

func (t *Tickets) sign(body string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("freshtrack live ticket\x00"))
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
