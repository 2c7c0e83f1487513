package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestDemoPrintsAWorkingDevTokenLine runs the demo as make run does and
// pastes its "more tokens" line into a shell that has none of the demo's
// environment: the line names the binary as it was started and everything
// dev-token needs, and it mints a token.
func TestDemoPrintsAWorkingDevTokenLine(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDBURL(t)
	dir := t.TempDir()
	// Started by a relative path, as make run starts ./bin/freshtrack.
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(freshtrackBinary(t), filepath.Join(dir, "bin", "freshtrack")); err != nil {
		t.Fatal(err)
	}
	demo := exec.Command("./bin/freshtrack", "demo", "--dev-tokens", "--target", "http://127.0.0.1:18099")
	demo.Dir = dir
	demo.Env = append(os.Environ(), "DATABASE_URL="+url)
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	var line string
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "more tokens") && i+1 < len(lines) {
			line = strings.TrimSpace(lines[i+1])
		}
	}
	if !strings.HasPrefix(line, "./bin/freshtrack dev-token ") || !strings.Contains(line, "--addr 127.0.0.1:18099") {
		t.Fatalf("demo printed the dev-token line %q, want ./bin/freshtrack dev-token ... --addr 127.0.0.1:18099\n%s", line, out)
	}
	paste := exec.Command("bash", "-c", line)
	paste.Dir = dir
	paste.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if strings.Contains(string(out), "with DATABASE_URL set") {
		// The test database's URL has a password, which the demo does not
		// print.
		paste.Env = append(paste.Env, "DATABASE_URL="+url)
	}
	tok, err := paste.CombinedOutput()
	if err != nil || strings.Count(strings.TrimSpace(string(tok)), ".") != 2 {
		t.Fatalf("pasting %q: %v\n%s", line, err, tok)
	}
}

// TestDemoPostsItsHistoryThroughTheAPI: with --history the demo first posts
// a record of in-range readings, one per sensor every 5 minutes, through
// POST /v1/readings, so a fresh `make run` has a week to chart, report and
// sign; none of it opens an alert.
func TestDemoPostsItsHistoryThroughTheAPI(t *testing.T) {
	t.Parallel()
	url, pool := pgtest.NewDBURL(t)
	p := startServe(t, "demo-history", url, nil)
	demo := exec.Command(freshtrackBinary(t), "demo", "--simulate", "--history", "6h", "--interval", "1h", "--sensors", "6", "--target", p.base())
	demo.Env = append(os.Environ(), "DATABASE_URL="+url)
	logs := &syncBuffer{}
	demo.Stdout, demo.Stderr = logs, logs
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = demo.Process.Kill(); _ = demo.Wait() })
	ctx := context.Background()
	// 6 h at 5 min is 72 steps of 6 sensors; the first live reading makes one more each.
	const want = 72 * 6
	deadline := time.Now().Add(60 * time.Second)
	var n, outOfRange, alerts int
	for {
		err := pool.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE r.temp_c < u.safe_min_c OR r.temp_c > u.safe_max_c)
			  FROM readings r JOIN sensors s ON s.id = r.sensor_id JOIN units u ON u.org_id = s.org_id AND u.id = s.unit_id
			 WHERE r.time < now() - interval '1 minute'`).Scan(&n, &outOfRange)
		if err != nil {
			t.Fatal(err)
		}
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n != want || outOfRange != 0 {
		t.Fatalf("history: %d readings (%d out of range), want %d in range\n%s", n, outOfRange, want, logs)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM alerts`).Scan(&alerts); err != nil {
		t.Fatal(err)
	}
	if alerts != 0 {
		t.Fatalf("the history opened %d alerts", alerts)
	}
}
