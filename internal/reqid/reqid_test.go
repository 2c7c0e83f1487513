package reqid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestAcceptKeepsOnlySafeIDs(t *testing.T) {
	for in, keep := range map[string]bool{
		"caddy-7f3a.1_b": true, "": false, strings.Repeat("a", 65): false, "a b": false, "x\r\nSet-Cookie: y": false, "é": false,
	} {
		if got := Accept(in); (got == in) != keep || len(got) == 0 {
			t.Errorf("Accept(%q) = %q", in, got)
		}
	}
	if a, b := New(), New(); a == b || len(a) != 32 {
		t.Errorf("New: %q %q", a, b)
	}
}

func TestHandlerLogsTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil))).With("component", "api")
	log.InfoContext(With(context.Background(), "abc123"), "request")
	log.Info("no request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[1]), &second)
	if first["request_id"] != "abc123" || first["component"] != "api" || second["request_id"] != nil {
		t.Errorf("%s", buf.String())
	}
}
