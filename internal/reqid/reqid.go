// Package reqid gives every HTTP request an id that its answer's
// X-Request-Id header, its log lines and a proxy's logs share, so that one
// request can be followed from Caddy to the database error it met.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// Header carries the id in requests (from a proxy that set one) and answers.
const Header = "X-Request-Id"

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context { return context.WithValue(ctx, key{}, id) }

// From returns the id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// New returns a fresh id: 16 random bytes in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Accept returns a proxy's id when it is one worth keeping (1 to 64
// letters, digits, '-', '_' or '.', so that it cannot forge log lines or
// headers), else a fresh one.
func Accept(incoming string) string {
	if len(incoming) == 0 || len(incoming) > 64 {
		return New()
	}
	for i := 0; i < len(incoming); i++ {
		c := incoming[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return New()
		}
	}
	return incoming
}

// Handler adds request_id to every record logged with a context that
// carries one.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}
func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
