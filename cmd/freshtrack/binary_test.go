package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests that run the freshtrack binary as a child process share one build
// of it per test process: linking it once per test would cost more than
// some of the tests.

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// freshtrackBinary returns the path of the freshtrack binary built from
// this package, building it the first time it is asked for.
func freshtrackBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "freshtrack-bin-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "freshtrack")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build freshtrack: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// serveProc is one `freshtrack serve` child process.
type serveProc struct {
	name string
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	done chan struct{} // closed once the process exited
	err  error         // cmd.Wait's result, set before done is closed
}

// startServe starts `freshtrack serve` on a free loopback port against the
// database at dbURL, with extraEnv added to the environment and args after
// serve's own, and waits until /readyz answers 200. The process is killed
// at cleanup if still running.
func startServe(t *testing.T, name, dbURL string, extraEnv []string, args ...string) *serveProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &serveProc{name: name, addr: addr, logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(freshtrackBinary(t), append([]string{"serve", "--addr", addr}, args...)...)
	p.cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "FRESHTRACK_LOG_LEVEL=warn")
	p.cmd.Env = append(p.cmd.Env, extraEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.done:
			t.Fatalf("%s: serve exited before it was ready: %v\n%s", name, p.err, p.logs)
		default:
		}
		resp, err := client.Get(p.base() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: serve not ready after 30s: %v\n%s", name, err, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *serveProc) base() string { return "http://" + p.addr }

// stop sends sig and waits up to timeout for the process to exit.
func (p *serveProc) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s: did not exit within %v of %v\n%s", p.name, timeout, sig, p.logs)
	}
}

// metrics returns the samples of /metrics whose names start with one of
// prefixes, one per line, or the error that prevented reading them.
func (p *serveProc) metrics(prefixes ...string) string {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(p.base() + "/metrics")
	if err != nil {
		return fmt.Sprintf("(metrics: %v)", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, pre := range prefixes {
			if strings.HasPrefix(line, pre) {
				b.WriteString(line)
				b.WriteByte('\n')
				break
			}
		}
	}
	return b.String()
}

// logTail returns the last n lines of the process's output.
func (p *serveProc) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(p.logs.String(), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
