package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testAPIKey = "KEY0123456789secret"

// telnyxRequest is one request the fake Telnyx received.
type telnyxRequest struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any
}

// fakeTelnyx is a local server speaking the Telnyx Messaging API v2 send
// shapes. Scripted answers are used in order; after them every request is
// accepted.
type fakeTelnyx struct {
	*httptest.Server
	mu       sync.Mutex
	script   []http.HandlerFunc
	requests []telnyxRequest
	accepted []string // message ids answered with 200
	stop     chan struct{}
}

func newFakeTelnyx(t *testing.T, script ...http.HandlerFunc) *fakeTelnyx {
	t.Helper()
	f := &fakeTelnyx{script: script, stop: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.stop)
		f.Close()
	})
	return f
}

func (f *fakeTelnyx) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, telnyxRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	var h http.HandlerFunc
	if n < len(f.script) {
		h = f.script[n]
	}
	f.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	id := fmt.Sprintf("40385f64-5717-4562-b3fc-2c963f66a%03d", n)
	f.mu.Lock()
	f.accepted = append(f.accepted, id)
	f.mu.Unlock()
	to, _ := body["to"].(string)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":{"record_type":"message","direction":"outbound","id":%q,"type":"SMS","parts":1,
"from":{"phone_number":%q,"carrier":"Telnyx","line_type":"VoIP"},
"to":[{"phone_number":%q,"status":"queued","carrier":"T-MOBILE USA, INC.","line_type":"Wireless"}],
"text":%q,"encoding":"GSM-7","errors":[],"cost":null}}`, id, body["from"], to, body["text"])
}

func (f *fakeTelnyx) Requests() []telnyxRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]telnyxRequest(nil), f.requests...)
}

func (f *fakeTelnyx) Accepted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.accepted...)
}

// telnyxErrorAnswer answers with a Telnyx error body.
func telnyxErrorAnswer(status int, code, title, detail string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"title":%q,"detail":%q,"source":{"pointer":"/to"}}]}`, code, title, detail)
	}
}

// hang answers only when the client gives up (or the test ends).
func (f *fakeTelnyx) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.stop:
	}
}

// sleepRecorder replaces real waits in a Telnyx sender: it records each wait
// and returns at once.
type sleepRecorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.sleeps = append(s.sleeps, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) Sleeps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.sleeps...)
}

// newTestTelnyx returns a sender on f that never really waits and adds no
// jitter; modify adjusts the config first.
func newTestTelnyx(t *testing.T, f *fakeTelnyx, modify func(*TelnyxConfig)) (*Telnyx, *sleepRecorder) {
	t.Helper()
	cfg := TelnyxConfig{APIKey: testAPIKey, From: "+15550001111", BaseURL: f.URL}
	if modify != nil {
		modify(&cfg)
	}
	tel, err := NewTelnyx(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sleepRecorder{}
	tel.sleep = rec.sleep
	tel.jitter = func(time.Duration) time.Duration { return 0 }
	return tel, rec
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
