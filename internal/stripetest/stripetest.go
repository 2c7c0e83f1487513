package stripetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Module is the stripe-mock installed when none is found.
const Module = "github.com/stripe/stripe-mock@v0.203.0"

// Binary returns the path of stripe-mock: on PATH, in GOBIN or
// GOPATH/bin, or installed there now. It skips the test when stripe-mock
// can be neither found nor installed, or fails it with TEST_STRIPE_REQUIRED
// set (as CI does).
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	gobin := goBin()
	p := filepath.Join(gobin, "stripe-mock")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	// Test packages run in parallel processes: one installs, the others
	// wait for it.
	if err := withLock(func() error {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
		cmd := exec.Command("go", "install", Module)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
		cmd.Dir = os.TempDir()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go install %s: %v\n%s", Module, err, out)
		}
		return nil
	}); err != nil {
		unavailable(t, err)
	}
	return p
}

func goBin() string {
	if b := os.Getenv("GOBIN"); b != "" {
		return b
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if gp := strings.TrimSpace(string(out)); err == nil && gp != "" {
		return filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

func withLock(f func() error) error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "freshtrack-stripe-mock.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	return f()
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("TEST_STRIPE_REQUIRED") != "" {
		t.Fatalf("stripe-mock is required (TEST_STRIPE_REQUIRED) but unavailable: %v", err)
	}
	t.Skipf("stripe-mock unavailable (set TEST_STRIPE_REQUIRED=1 to fail instead): %v", err)
}

// Start starts a stripe-mock listening on loopback only, for the test,
// and returns its HTTP base URL.
func Start(t testing.TB) string {
	t.Helper()
	bin := Binary(t)
	var lastErr error
	for range 5 {
		httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
		cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			unavailable(t, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(15 * time.Second)
	wait:
		for time.Now().Before(deadline) {
			select {
			case err := <-exited:
				lastErr = fmt.Errorf("stripe-mock exited: %v\n%s", err, logs.String())
			default:
				c, err := net.DialTimeout("tcp", httpAddr, 200*time.Millisecond)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				c.Close()
				// The port was free when picked, but another test's
				// process may have taken it before stripe-mock bound it:
				// only a Stripe answer proves whose port it is.
				if !answersAsStripe(httpAddr) {
					select {
					case err := <-exited:
						lastErr = fmt.Errorf("stripe-mock exited (its port %s was taken?): %v\n%s", httpAddr, err, logs.String())
					case <-time.After(time.Second):
						_ = cmd.Process.Kill()
						<-exited
						lastErr = fmt.Errorf("something other than stripe-mock answers on %s", httpAddr)
					}
					break wait
				}
				t.Cleanup(func() {
					_ = cmd.Process.Kill()
					<-exited
				})
				return "http://" + httpAddr
			}
			break
		}
		if lastErr == nil {
			_ = cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("stripe-mock did not listen on %s within 15s\n%s", httpAddr, logs.String())
		}
	}
	t.Fatalf("start stripe-mock: %v", lastErr)
	return ""
}

// answersAsStripe reports whether the server at addr answers a Stripe API
// call as stripe-mock does: a JSON list of customers.
func answersAsStripe(addr string) bool {
	req, err := http.NewRequest("GET", "http://"+addr+"/v1/customers", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer sk_test_stripetest")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode == 200 && (bytes.Contains(body, []byte(`"object": "list"`)) || bytes.Contains(body, []byte(`"object":"list"`)))
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Request is one call that reached the Recorder.
type Request struct {
	Method, Path string
	Form         url.Values
	Header       http.Header
	Status       int
}

// Recorder is a proxy in front of a stripe-mock that keeps every request,
// so a test can see what was sent to Stripe. Fail, when set, answers a
// request instead of Stripe (an outage, say).
type Recorder struct {
	URL string

	mu   sync.Mutex
	reqs []Request
	Fail func(r *http.Request) (status int, body string, fail bool)
}

// NewRecorder starts a recording proxy to the stripe-mock at target.
func NewRecorder(t testing.TB, target string) *Recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		entry := Request{Method: r.Method, Path: r.URL.Path, Form: form, Header: r.Header.Clone()}
		rec.mu.Lock()
		fail := rec.Fail
		rec.mu.Unlock()
		if fail != nil {
			if status, out, ok := fail(r); ok {
				entry.Status = status
				rec.add(entry)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, out)
				return
			}
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		entry.Status = sw.status
		rec.add(entry)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

func (r *Recorder) add(e Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, e)
	r.mu.Unlock()
}

// SetFail sets (or with nil clears) Fail.
func (r *Recorder) SetFail(f func(r *http.Request) (int, string, bool)) {
	r.mu.Lock()
	r.Fail = f
	r.mu.Unlock()
}

// Requests returns the requests to path so far (every request for "").
func (r *Recorder) Requests(path string) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, q := range r.reqs {
		if path == "" || q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Sign returns the Stripe-Signature header Stripe sends with payload at
// time at: t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<payload>" under the
// endpoint's signing secret>.
func Sign(secret string, payload []byte, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
