package bench_test

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestIngestThroughTLSProxy points bench ingest at an https proxy whose
// certificate only the given CA file vouches for, as Caddy's internal CA
// does in deploy/e2e.sh: with --target-ca every reading goes through, and
// without it the bench refuses the certificate and stores nothing.
func TestIngestThroughTLSProxy(t *testing.T) {
	t.Parallel()
	bin := freshtrackBinary(t)
	dbURL, pool := pgtest.NewDBURL(t)
	upstream := startServe(t, bin, dbURL)
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(upstream))
	t.Cleanup(proxy.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := bench.IngestOptions{DatabaseURL: dbURL, Target: proxy.URL, Sensors: 20, Batch: 50, Concurrency: 4, Rows: 1000,
		Logger: slog.New(slog.DiscardHandler)}

	if _, err := bench.RunIngest(context.Background(), opts); err == nil {
		t.Fatal("bench ingest trusted a certificate of an unknown CA")
	} else {
		t.Logf("without the CA file: %v", err)
	}
	opts.TargetCA = caFile
	res, err := bench.RunIngest(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1000 || res.Runs[0].Errors != nil {
		t.Fatalf("accepted %d with errors %v; want 1000 and none", res.Accepted, res.Runs[0].Errors)
	}
	var stored, total int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE s.org_id = $1), count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id`, res.OrgID).Scan(&stored, &total); err != nil {
		t.Fatal(err)
	}
	// The refused run got as far as its warm-up round, which stored nothing.
	if stored != 1000+20 || total != stored {
		t.Fatalf("the run's organisation holds %d readings and the table %d; want 1020 (with the warm-up round) in both", stored, total)
	}
}

// startServe runs freshtrack serve on a free loopback port until the test
// ends and returns its base URL once it is ready.
func startServe(t *testing.T, bin, dbURL string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "FRESHTRACK_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	base := &url.URL{Scheme: "http", Host: addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base.String() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(logFile.Name())
			t.Fatalf("serve did not become ready: %v\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
