package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestPprofOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.DiscardHandler)
	if _, err := servePprof("0.0.0.0:0", quiet); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("profiles on every interface = %v, want a refusal", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop, err := servePprof(addr, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("goroutine profile = %d %.200s", resp.StatusCode, body)
	}
}
