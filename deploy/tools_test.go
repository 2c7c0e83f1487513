package deploy

import (
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The configuration files are read by the tools that will run them.

func TestPrometheusConfigAndRules(t *testing.T) {
	t.Parallel()
	promtool := requireTool(t, "promtool", "TEST_PROMTOOL_REQUIRED", "apt-get install prometheus")
	run(t, nil, promtool, "check", "config", "prometheus/prometheus.yml")
	run(t, nil, promtool, "check", "rules", "prometheus/rules.yml")
	// Each alert fires on the series that should fire it (rules_test.yml).
	out := run(t, nil, promtool, "test", "rules", "prometheus/rules_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// TestRuleUnitTestsCoverTheAlertsTheIssueNames keeps rules_test.yml honest:
// the alerts issue 18 asks for are each fired by a unit test.
func TestRuleUnitTestsCoverTheAlertsTheIssueNames(t *testing.T) {
	t.Parallel()
	tests := readFile(t, "prometheus/rules_test.yml")
	rules := readFile(t, "prometheus/rules.yml")
	for _, alert := range []string{
		"FreshTrackIngestStopped", "FreshTrackIngestRateDropped", "FreshTrackIngestQueueFilling",
		"FreshTrackIngestCommitSlow", "FreshTrackAlertEvaluationLagging", "TimescaleDBJobFailing",
		"BackupTooOld", "BackupMetricsMissing", "TLSCertificateExpiresSoon", "FreshTrackInstanceDown",
	} {
		if !strings.Contains(rules, "- alert: "+alert+"\n") {
			t.Errorf("rules.yml has no alert %s", alert)
		}
		if !regexp.MustCompile(`alertname: ` + alert + `\n\s+exp_alerts:\n\s+- exp_labels:`).MatchString(tests) {
			t.Errorf("rules_test.yml never expects %s to fire", alert)
		}
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	amtool := requireTool(t, "amtool", "TEST_AMTOOL_REQUIRED", "apt-get install prometheus-alertmanager")
	run(t, nil, amtool, "check-config", "alertmanager/alertmanager.yml")
}

// TestCaddyfile validates the Caddyfile as production runs it (defaults:
// automatic HTTPS for the public name) and as the loopback end-to-end check
// does (tls internal, loopback upstreams), and checks what the adapted JSON
// says about health checks and retries.
func TestCaddyfile(t *testing.T) {
	t.Parallel()
	caddy := requireTool(t, "caddy", "TEST_CADDY_REQUIRED", "apt-get install caddy")
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"production", nil, []string{`"module":"acme"`, `"dial":"freshtrack-1:8080"`, `"dial":"freshtrack-2:8080"`, `"host":["freshtrack.example.com"]`}},
		{"loopback", []string{
			"FRESHTRACK_SITE=https://127.0.0.1:8443", "FRESHTRACK_TLS=tls internal",
			"FRESHTRACK_UPSTREAMS=127.0.0.1:18081 127.0.0.1:18082", "CADDY_HTTP_PORT=18080", "CADDY_ADMIN=127.0.0.1:12019",
		}, []string{`"module":"internal"`, `"dial":"127.0.0.1:18081"`, `"dial":"127.0.0.1:18082"`, `":8443"`, `"http_port":18080`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(cleanEnv("FRESHTRACK_SITE", "FRESHTRACK_TLS", "FRESHTRACK_UPSTREAMS", "CADDY_HTTP_PORT", "CADDY_ADMIN"), tc.env...)
			cmd := exec.Command(caddy, "validate", "--adapter", "caddyfile", "--config", "caddy/Caddyfile")
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("caddy validate: %v\n%s", err, out)
			}
			cmd = exec.Command(caddy, "adapt", "--adapter", "caddyfile", "--config", "caddy/Caddyfile")
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("caddy adapt: %v", err)
			}
			json := string(out)
			for _, want := range append(tc.want, `"uri":"/readyz"`, `"try_duration":10000000000`, `"flush_interval":-1`) {
				if !strings.Contains(json, want) {
					t.Errorf("adapted config has no %s:\n%s", want, json)
				}
			}
		})
	}
}

// TestSystemdUnits runs systemd-analyze verify on the units, with
// /usr/local/bin pointing at the real freshtrack binary and backup script,
// and checks that systemd waits longer than FreshTrack drains.
func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	analyze := requireTool(t, "systemd-analyze", "TEST_SYSTEMD_REQUIRED", "apt-get install systemd")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(freshtrackBinary(t), filepath.Join(bin, "freshtrack")); err != nil {
		t.Fatal(err)
	}
	backup, _ := filepath.Abs("backup/backup.sh")
	if err := os.Symlink(backup, filepath.Join(bin, "freshtrack-backup")); err != nil {
		t.Fatal(err)
	}
	units, err := filepath.Glob("systemd/*.service")
	if err != nil {
		t.Fatal(err)
	}
	timers, _ := filepath.Glob("systemd/*.timer")
	var args []string
	for _, u := range append(units, timers...) {
		text := strings.ReplaceAll(readFile(t, u), "/usr/local/bin/", bin+"/")
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(u)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(u)
		if strings.HasSuffix(name, "@.service") {
			name = strings.TrimSuffix(name, "@.service") + "@1.service"
		}
		args = append(args, filepath.Join(dir, name))
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, args...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	unit := readFile(t, "systemd/freshtrack@.service")
	env := readFile(t, "systemd/freshtrack.env.example")
	stop := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s$`).FindStringSubmatch(unit)
	drain := regexp.MustCompile(`(?m)^FRESHTRACK_SHUTDOWN_TIMEOUT=(\d+)s$`).FindStringSubmatch(env)
	delay := regexp.MustCompile(`(?m)^FRESHTRACK_SHUTDOWN_DELAY=(\d+)s$`).FindStringSubmatch(env)
	if stop == nil || drain == nil || delay == nil {
		t.Fatalf("freshtrack@.service needs TimeoutStopSec=<n>s and freshtrack.env.example FRESHTRACK_SHUTDOWN_DELAY=<n>s and FRESHTRACK_SHUTDOWN_TIMEOUT=<n>s")
	}
	if s, _ := strconv.Atoi(stop[1]); s <= must(strconv.Atoi(drain[1]))+must(strconv.Atoi(delay[1])) {
		t.Errorf("TimeoutStopSec=%ss must exceed FRESHTRACK_SHUTDOWN_DELAY=%ss + FRESHTRACK_SHUTDOWN_TIMEOUT=%ss, or systemd kills the drain", stop[1], delay[1], drain[1])
	}
	for _, want := range []string{"EnvironmentFile=/etc/freshtrack/freshtrack.env", "KillSignal=SIGTERM", "Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
		if !strings.Contains(unit, want+"\n") {
			t.Errorf("freshtrack@.service has no %s", want)
		}
	}
}

// TestSystemdEnvironmentUsesServeVariables checks the VM's environment file
// against the binary, like compose.yaml's.
func TestSystemdEnvironmentUsesServeVariables(t *testing.T) {
	t.Parallel()
	used := map[string]string{}
	for _, line := range strings.Split(readFile(t, "systemd/freshtrack.env.example"), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		for _, f := range strings.Fields(line) {
			if k, _, ok := strings.Cut(f, "="); ok && regexp.MustCompile(`^(FRESHTRACK_[A-Z0-9_]+|DATABASE_URL|REDIS_URL|PGPASSWORD)$`).MatchString(k) {
				used[k] = "freshtrack.env.example"
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %d variables in freshtrack.env.example", len(used))
	}
	checkVariables(t, serveVariables(t), used)
}

// TestSecretsEnv runs secrets-env.sh with a secrets directory the way
// Docker mounts one: each file named after its variable becomes that
// variable, without its trailing newline; empty files, and files that are
// not FreshTrack's variables, are left alone.
func TestSecretsEnv(t *testing.T) {
	t.Parallel()
	sh := requireTool(t, "sh", "TEST_SH_REQUIRED", "apt-get install dash")
	dir := t.TempDir()
	for name, content := range map[string]string{
		"PGPASSWORD":                   "s3cret pass\n",
		"FRESHTRACK_EVENTS_TICKET_KEY": "0123456789abcdef0123456789abcdef",
		"FRESHTRACK_STRIPE_SECRET_KEY": "",
		"notes.txt":                    "not a variable",
		"HOME":                         "/not/this",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sh, "secrets-env.sh", "env")
	cmd.Env = append(cleanEnv("PGPASSWORD", "FRESHTRACK_EVENTS_TICKET_KEY", "FRESHTRACK_STRIPE_SECRET_KEY"), "SECRETS_DIR="+dir, "HOME=/root")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("secrets-env.sh: %v\n%s", err, out)
	}
	env := "\n" + string(out)
	for _, want := range []string{"\nPGPASSWORD=s3cret pass\n", "\nFRESHTRACK_EVENTS_TICKET_KEY=0123456789abcdef0123456789abcdef\n", "\nHOME=/root\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", strings.TrimSpace(want), out)
		}
	}
	for _, unwanted := range []string{"\nFRESHTRACK_STRIPE_SECRET_KEY=", "notes", "/not/this"} {
		if strings.Contains(env, unwanted) {
			t.Errorf("environment has %q:\n%s", strings.TrimSpace(unwanted), out)
		}
	}
	// The wrapper's exit status is the program's.
	cmd = exec.Command(sh, "secrets-env.sh", "false")
	cmd.Env = append(os.Environ(), "SECRETS_DIR="+dir)
	if err := cmd.Run(); err == nil {
		t.Error("secrets-env.sh false succeeded")
	}
}

// TestBackupMetricsFromRealPgBackRest runs backup.sh's metrics against a
// real pgBackRest whose repository has no stanza yet, the state before the
// first backup: the repository is reported not ok, and no backup time is
// made up. (deploy/e2e.sh takes real backups.)
func TestBackupMetricsFromRealPgBackRest(t *testing.T) {
	t.Parallel()
	requireTool(t, "pgbackrest", "TEST_PGBACKREST_REQUIRED", "apt-get install pgbackrest")
	requireTool(t, "jq", "TEST_PGBACKREST_REQUIRED", "apt-get install jq")
	dir := t.TempDir()
	conf := filepath.Join(dir, "pgbackrest.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(readFile(t, "backup/pgbackrest.conf"), "/var/lib/pgbackrest", filepath.Join(dir, "repo"))), 0o600); err != nil {
		t.Fatal(err)
	}
	textfile := filepath.Join(dir, "textfile")
	env := []string{
		"PGBACKREST_CONFIG=" + conf, "PGBACKREST_LOCK_PATH=" + dir, "PGBACKREST_LOG_PATH=" + dir,
		"BACKUP_TEXTFILE_DIR=" + textfile,
	}
	run(t, env, "sh", "backup/backup.sh", "metrics")
	prom := readFile(t, filepath.Join(textfile, "freshtrack_backup.prom"))
	if !strings.Contains(prom, "\nfreshtrack_backup_repository_ok{stanza=\"freshtrack\"} 0\n") {
		t.Errorf("want repository_ok 0 before the first backup:\n%s", prom)
	}
	if regexp.MustCompile(`(?m)^freshtrack_backup_last_success_timestamp_seconds`).MatchString(prom) {
		t.Errorf("a backup time without any backup:\n%s", prom)
	}
	// Before any attempt the service is healthy; a bad type is refused.
	run(t, env, "sh", "backup/backup.sh", "health")
	cmd := exec.Command("sh", "backup/backup.sh", "backup", "weekly")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "full, diff or incr") {
		t.Errorf("backup weekly: %v\n%s", err, out)
	}
}

// TestBlackboxProbe runs the real blackbox_exporter with blackbox.yml
// against a local HTTPS server that the exporter trusts (SSL_CERT_FILE), the
// way Prometheus's tls job asks it to: the probe succeeds and reports every
// metric rules.yml uses, the certificate's expiry among them.
func TestBlackboxProbe(t *testing.T) {
	t.Parallel()
	exporter := requireTool(t, "prometheus-blackbox-exporter", "TEST_BLACKBOX_REQUIRED", "apt-get install prometheus-blackbox-exporter")
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer site.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: site.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &syncBuffer{}
	cmd := exec.Command(exporter, "--config.file=blackbox/blackbox.yml", "--web.listen-address="+addr)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+ca)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	probe := "http://" + addr + "/probe?module=https_healthz&target=" + url.QueryEscape(site.URL+"/healthz")
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(probe)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("blackbox_exporter did not answer /probe: %v %s\n%s", err, body, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, "\nprobe_success 1\n") {
		t.Errorf("probe of a healthy HTTPS site failed:\n%s", body)
	}
	for _, m := range blackboxMetrics {
		if !regexp.MustCompile(`(?m)^` + m + `[{ ]`).MatchString(body) {
			t.Errorf("blackbox_exporter reported no %s:\n%s", m, body)
		}
	}
}
