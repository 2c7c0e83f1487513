package httpbody_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// echo serves POST /echo, which answers the decoded body, and POST /hold,
// which holds its admission slot until release is closed, on a real
// listener (streamed bodies behave differently from app.Test's).
type echo struct {
	base    string
	release chan struct{}
	holding chan struct{}
}

func newEcho(t *testing.T, adm *httpbody.Admission, limit int) *echo {
	t.Helper()
	e := &echo{release: make(chan struct{}), holding: make(chan struct{}, 64)}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, StreamRequestBody: true, DisablePreParseMultipartForm: true,
		ErrorHandler: problem.Handler(nil)})
	app.Post("/echo", func(c *fiber.Ctx) error {
		b, err := httpbody.Read(c, adm, httpbody.Options{Limit: limit})
		defer b.Close()
		if err != nil {
			return err
		}
		return c.Send(append([]byte(nil), b.Bytes...))
	})
	app.Post("/raw", func(c *fiber.Ctx) error {
		b, err := httpbody.Read(c, adm, httpbody.Options{Limit: limit, Identity: true})
		defer b.Close()
		if err != nil {
			return err
		}
		return c.Send(append([]byte(nil), b.Bytes...))
	})
	app.Post("/hold", func(c *fiber.Ctx) error {
		b, err := httpbody.Read(c, adm, httpbody.Options{Limit: limit})
		defer b.Close()
		if err != nil {
			return err
		}
		e.holding <- struct{}{}
		<-e.release
		return c.SendString("held")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { _ = app.Shutdown() })
	e.base = "http://" + ln.Addr().String()
	return e
}

// send writes a request on a connection of its own and reads the answer,
// whether or not the server read the whole body first (it answers a body
// that is too large before reading it).
func send(t *testing.T, base, path string, headers map[string]string, body []byte, chunked bool) (int, string, http.Header) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var h bytes.Buffer
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: test\r\n", path)
	for k, v := range headers {
		fmt.Fprintf(&h, "%s: %s\r\n", k, v)
	}
	if chunked {
		h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", len(body))
	}
	go func() {
		conn.Write(h.Bytes())
		if !chunked {
			conn.Write(body)
			return
		}
		for len(body) > 0 {
			n := min(len(body), 64<<10)
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", n, body[:n]); err != nil {
				return
			}
			body = body[n:]
		}
		conn.Write([]byte("0\r\n\r\n"))
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestBodiesAreReadWithTheirRoutesLimit(t *testing.T) {
	e := newEcho(t, nil, 64<<10)
	small := []byte(`{"name":"Kitchen"}`)
	js := map[string]string{"Content-Type": "application/json"}
	withEnc := func(enc string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Content-Encoding": enc}
	}

	if code, body, _ := send(t, e.base, "/echo", js, small, false); code != 200 || body != string(small) {
		t.Fatalf("plain = %d %q", code, body)
	}
	if code, body, _ := send(t, e.base, "/echo", js, small, true); code != 200 || body != string(small) {
		t.Fatalf("chunked = %d %q", code, body)
	}
	if code, body, _ := send(t, e.base, "/echo", withEnc("gzip"), gz(small), false); code != 200 || body != string(small) {
		t.Fatalf("gzip = %d %q, want it decoded", code, body)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(small)
	zw.Close()
	if code, body, _ := send(t, e.base, "/echo", withEnc("deflate"), z.Bytes(), false); code != 200 || body != string(small) {
		t.Fatalf("deflate = %d %q, want it decoded", code, body)
	}
	exact := bytes.Repeat([]byte("a"), 64<<10)
	if code, body, _ := send(t, e.base, "/echo", withEnc("gzip"), gz(exact), false); code != 200 || len(body) != len(exact) {
		t.Fatalf("a body exactly at the limit = %d (%d bytes), want 200", code, len(body))
	}

	// 256 MiB of zeros is about 250 KiB of gzip: refused without being
	// expanded.
	bomb := gz(make([]byte, 256<<20))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 4 {
		if code, body, _ := send(t, e.base, "/echo", withEnc("gzip"), bomb, false); code != 413 || !strings.Contains(body, "65536 bytes (64 KiB)") {
			t.Fatalf("gzip bomb = %d %s, want 413 naming the limit", code, body)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Fatalf("four gzip bombs allocated %d MiB; the limit is 64 KiB", grew>>20)
	}

	big := bytes.Repeat([]byte(" "), 17<<20)
	for _, chunked := range []bool{false, true} {
		start := time.Now()
		code, body, hdr := send(t, e.base, "/echo", js, big, chunked)
		if code != 413 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("17 MiB (chunked %v) = %d %s %s, want 413 problem+json", chunked, code, hdr.Get("Content-Type"), body)
		}
		t.Logf("17 MiB body, chunked %v: 413 after %v", chunked, time.Since(start).Round(time.Millisecond))
	}
	for enc, want := range map[string]int{"br": 415, "compress": 415} {
		if code, _, _ := send(t, e.base, "/echo", withEnc(enc), []byte("x"), false); code != want {
			t.Fatalf("Content-Encoding %s = %d, want %d", enc, code, want)
		}
	}
	if code, _, _ := send(t, e.base, "/echo", withEnc("gzip"), []byte("not gzip at all"), false); code != 400 {
		t.Fatalf("a corrupt gzip body = %d, want 400", code)
	}
	if code, _, _ := send(t, e.base, "/echo", withEnc("gzip"), gz(small)[:20], false); code != 400 {
		t.Fatalf("a truncated gzip body = %d, want 400", code)
	}
	if code, _, _ := send(t, e.base, "/raw", withEnc("gzip"), gz(small), false); code != 415 {
		t.Fatalf("gzip to an identity-only route = %d, want 415", code)
	}
}

// When every slot is taken, a request waits at most the admission's wait
// and then gets 503 with Retry-After; a released slot admits the next one.
// Small plain bodies, already read with the headers, need no slot.
func TestAdmissionBoundsBodiesInFlight(t *testing.T) {
	adm := httpbody.NewAdmission(2, 200*time.Millisecond)
	e := newEcho(t, adm, 1<<20)
	large := bytes.Repeat([]byte("x"), 100<<10)
	js := map[string]string{"Content-Type": "application/json"}
	var held sync.WaitGroup
	for range 2 {
		held.Add(1)
		go func() {
			defer held.Done()
			if code, body, _ := send(t, e.base, "/hold", js, large, false); code != 200 {
				t.Errorf("held request = %d %s", code, body)
			}
		}()
		<-e.holding
	}
	start := time.Now()
	code, body, hdr := send(t, e.base, "/echo", js, large, false)
	waited := time.Since(start)
	if code != 503 || hdr.Get("Retry-After") != "1" || !strings.Contains(body, "2 request bodies") {
		t.Fatalf("third body with both slots held = %d %q Retry-After %q, want 503 with Retry-After", code, body, hdr.Get("Retry-After"))
	}
	if waited < 200*time.Millisecond {
		t.Fatalf("refused after %v, before the admission's wait", waited)
	}
	if code, _, _ := send(t, e.base, "/echo", js, []byte(`{"small":true}`), false); code != 200 {
		t.Fatalf("a small plain body with the slots held = %d, want 200 (it needs no slot)", code)
	}
	close(e.release)
	held.Wait()
	if code, _, _ := send(t, e.base, "/echo", js, large, false); code != 200 {
		t.Fatalf("after the slots were released = %d, want 200", code)
	}
}

func TestReleaseSlotIsIdempotent(t *testing.T) {
	adm := httpbody.NewAdmission(1, 10*time.Millisecond)
	s, err := adm.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Acquire(); err == nil {
		t.Fatal("a second slot out of one")
	}
	s.Release()
	s.Release() // must not free a slot it does not hold
	s2, err := adm.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Acquire(); err == nil {
		t.Fatal("a double release freed two slots")
	}
	s2.Release()
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"application/merge-patch+json": true, "application/json; charset=latin1": false,
		"text/plain": false, "": false, "application/x-www-form-urlencoded": false, "json": false,
		" application/json ": true, "application/json;": true, "application/json; charset=\"": false,
	} {
		if got := httpbody.IsJSON(ct); got != want {
			t.Errorf("IsJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}
