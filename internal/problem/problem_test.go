package problem

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestHandlerWritesProblemJSON(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	app := fiber.New(fiber.Config{ErrorHandler: Handler(slog.New(slog.NewTextHandler(&logs, nil)))})
	app.Get("/validation", func(*fiber.Ctx) error {
		return Validation(FieldError{Field: "name", Reason: "is required"})
	})
	app.Get("/busy", func(*fiber.Ctx) error { return Unavailable("queue full", 2) })
	app.Get("/fiber", func(*fiber.Ctx) error { return fiber.ErrMethodNotAllowed })
	app.Get("/crash", func(*fiber.Ctx) error { return errors.New("pq: password=hunter2 leaked in an error") })

	f := func(path string, status int, typ string, check func(p Problem, h map[string]string)) {
		t.Helper()
		resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		var p Problem
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: body %q is not a problem: %v", path, body, err)
		}
		if resp.StatusCode != status || p.Status != status || p.Type != TypeBase+typ || resp.Header.Get("Content-Type") != ContentType {
			t.Fatalf("%s: %d %s %+v", path, resp.StatusCode, resp.Header.Get("Content-Type"), p)
		}
		if check != nil {
			check(p, map[string]string{"Retry-After": resp.Header.Get("Retry-After")})
		}
	}
	f("/validation", 400, "validation", func(p Problem, _ map[string]string) {
		if len(p.Fields) != 1 || p.Fields[0].Field != "name" {
			t.Errorf("fields = %+v", p.Fields)
		}
	})
	f("/busy", 503, "unavailable", func(_ Problem, h map[string]string) {
		if h["Retry-After"] != "2" {
			t.Errorf("Retry-After = %q", h["Retry-After"])
		}
	})
	f("/fiber", 405, "method-not-allowed", nil)
	f("/crash", 500, "internal", func(p Problem, _ map[string]string) {
		if strings.Contains(p.Detail, "hunter2") {
			t.Errorf("a 500 leaks the error to the client: %q", p.Detail)
		}
	})
	if !strings.Contains(logs.String(), "request failed") {
		t.Errorf("the 500 was not logged: %s", logs.String())
	}
}

func TestExtensionsBesideTheStandardMembers(t *testing.T) {
	p := New(403, "sensor-limit", "Sensor limit reached", "the pro plan allows 25 sensors")
	p.Extensions = map[string]any{"code": "sensor_limit_reached", "limit": 25, "status": "would replace the status", "detail": "and the detail"}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["code"] != "sensor_limit_reached" || got["limit"] != float64(25) || got["status"] != float64(403) || got["detail"] != "the pro plan allows 25 sensors" || got["type"] != TypeBase+"sensor-limit" {
		t.Errorf("%s", b)
	}
}
