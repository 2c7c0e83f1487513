package api_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// A compressed body is decoded once, in front of every route, with a limit:
// a gzip bomb is refused with 413 without being expanded, whoever sends it
// and whatever route it targets, and a handler's c.Body() only ever sees
// decoded bytes within the limit.
func TestBodiesAreDecodedOnceWithALimit(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	app := api.New(api.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), Version: "test", MaxJSONBody: 64 << 10})
	app.Post("/echo", func(c *fiber.Ctx) error { return c.Send(c.Body()) })
	api.NotFound(app)
	post := func(path, encoding string, body []byte) (int, string) {
		t.Helper()
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 && !strings.Contains(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s: %d answered with %s, want problem+json", path, encoding, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(b)
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	small := []byte(`{"name":"Kitchen"}`)

	if code, body := post("/echo", "gzip", gz(small)); code != 200 || body != string(small) {
		t.Fatalf("gzip body = %d %q, want it decoded", code, body)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(small)
	zw.Close()
	if code, body := post("/echo", "deflate", z.Bytes()); code != 200 || body != string(small) {
		t.Fatalf("deflate body = %d %q, want it decoded", code, body)
	}

	// 256 MiB of zeros is about 250 KiB of gzip.
	bomb := gz(make([]byte, 256<<20))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, path := range []string{"/echo", "/v1/orgs", "/v1/webhooks/telnyx", "/v1/orgs/x/sites"} {
		if code, body := post(path, "gzip", bomb); code != 413 || !strings.Contains(body, "65536 bytes") {
			t.Fatalf("gzip bomb to %s = %d %s, want 413 naming the limit", path, code, body)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("four gzip bombs allocated %d MiB; the limit is 64 KiB", grew>>20)
	}

	if code, _ := post("/echo", "", bytes.Repeat([]byte(" "), 65<<10)); code != 413 {
		t.Fatalf("an oversized plain body = %d, want 413", code)
	}
	if code, _ := post("/echo", "br", []byte("x")); code != 415 {
		t.Fatalf("brotli = %d, want 415", code)
	}
	if code, _ := post("/echo", "gzip", []byte("not gzip at all")); code != 400 {
		t.Fatalf("a corrupt gzip body = %d, want 400", code)
	}
	if code, _ := post("/echo", "gzip", gz(small)[:20]); code != 400 {
		t.Fatalf("a truncated gzip body = %d, want 400", code)
	}
}
