package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestNothingAcknowledgedIsLost runs freshtrack serve as a child process,
// posts batches from several goroutines, kills the process with SIGKILL in
// the middle of the load, and checks that every reading whose request was
// answered 200 is in the database.
func TestNothingAcknowledgedIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "freshtrack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dbURL, pool := pgtest.NewDBURL(t)
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Durable", AutoRegisterSensors: true})
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw"})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--addr", addr, "--ingest-flush-delay", "5ms")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "FRESHTRACK_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	type acked struct {
		sensor string
		at     time.Time
	}
	var (
		mu     sync.Mutex
		ok     []acked
		failed int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var items []string
				var batch []acked
				for i := range 200 {
					a := acked{fmt.Sprintf("dur-%d-%d", g, i%20), start.Add(time.Duration(n*200+i) * time.Millisecond)}
					batch = append(batch, a)
					items = append(items, fmt.Sprintf(`{"sensor":%q,"time":%q,"temp_c":4}`, a.sensor, a.at.Format(time.RFC3339Nano)))
				}
				req, _ := http.NewRequest("POST", base+"/v1/readings", strings.NewReader(`{"readings":[`+strings.Join(items, ",")+`]}`))
				req.Header.Set("Authorization", "Bearer "+key.Key)
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				var r struct{ Accepted, Duplicates int }
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == 200 && err == nil && r.Accepted+r.Duplicates == len(batch) {
					ok = append(ok, batch...)
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	// Let the load run until plenty is acknowledged, then pull the plug.
	for {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		n := len(ok)
		mu.Unlock()
		if n >= 20_000 || time.Since(start.Add(time.Hour)) > 20*time.Second {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	sensors := make([]string, len(ok))
	times := make([]time.Time, len(ok))
	for i, a := range ok {
		sensors[i], times[i] = a.sensor, a.at
	}
	var missing int
	err = pool.QueryRow(ctx, `
		SELECT count(*) FROM unnest($1::text[], $2::timestamptz[]) AS a(sensor, t)
		 WHERE NOT EXISTS (SELECT 1 FROM readings r JOIN sensors s ON s.id = r.sensor_id
		                    WHERE s.org_id = $3 AND s.external_id = a.sensor AND r.time = a.t)`,
		sensors, times, org.ID).Scan(&missing)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d readings acknowledged before SIGKILL, %d requests failed or cut off", len(ok), failed)
	if len(ok) == 0 {
		t.Fatalf("nothing was acknowledged; the test proved nothing\n%s", logs.String())
	}
	if missing != 0 {
		t.Fatalf("%d of %d acknowledged readings are not in the database", missing, len(ok))
	}
}
