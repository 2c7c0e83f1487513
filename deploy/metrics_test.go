package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

var (
	promqlString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlBraces = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlGroup  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlToken  = regexp.MustCompile(`[0-9][0-9A-Za-z_.]*|[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlWords  = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "inf": true, "nan": true, "Inf": true, "NaN": true}
)

// promqlMetrics returns the metric names a PromQL expression selects: its
// identifiers less functions (followed by a parenthesis), keywords, label
// matchers, grouping labels, ranges, strings and numbers.
func promqlMetrics(expr string) []string {
	expr = promqlString.ReplaceAllString(expr, `""`)
	expr = promqlBraces.ReplaceAllString(expr, " ")
	expr = promqlGroup.ReplaceAllString(expr, " ")
	var names []string
	for _, loc := range promqlToken.FindAllStringIndex(expr, -1) {
		tok := expr[loc[0]:loc[1]]
		rest := strings.TrimLeft(expr[loc[1]:], " \t\n")
		if tok[0] >= '0' && tok[0] <= '9' || promqlWords[tok] || strings.HasPrefix(rest, "(") {
			continue
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

func TestPromqlMetrics(t *testing.T) {
	t.Parallel()
	f := func(expr string, want ...string) {
		t.Helper()
		if got := promqlMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("promqlMetrics(%q) = %q, want %q", expr, got, want)
		}
	}
	f(`up{job="freshtrack"} == 0`, "up")
	f(`sum(rate(freshtrack_ingest_rows_total{job="freshtrack",result="accepted"}[2m])) == 0`, "freshtrack_ingest_rows_total")
	f(`sum by (instance) (rate(a_sum[5m])) / sum by (instance) (rate(a_count[$__rate_interval])) > 0.25`, "a_sum", "a_count")
	f(`x < 0.5 * sum(rate(x[1h] offset 1h))`, "x")
	f(`time() - max(b{type="full"}) > 8 * 86400`, "b")
	f(`max by (application_name, hypertable) (c) > 0 and on() d unless e`, "c", "d", "e")
	f(`absent(f{job="backup"})`, "f")
	f(`sum by (alertname) (ALERTS{alertstate="firing",x=~"a|b"})`, "ALERTS")
	f(`1e3 + g`, "g")
}

// usedMetrics maps each metric that rules.yml and the dashboards select to
// where it is used.
func usedMetrics(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			}
		}
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/rules.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range promqlMetrics(r.Expr) {
				used[m] = "rules.yml " + r.Alert + r.Record
			}
		}
	}
	dashboards, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(dashboards) < 3 {
		t.Fatalf("want the ingest, alerts and database dashboards, have %q", dashboards)
	}
	for _, d := range dashboards {
		var dash struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal([]byte(readFile(t, d)), &dash); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		for _, p := range dash.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", d, p.Title)
			}
			for _, tg := range p.Targets {
				for _, m := range promqlMetrics(tg.Expr) {
					used[m] = filepath.Base(d) + " " + p.Title
				}
			}
		}
	}
	return used
}

// exporterQueries is postgres-exporter/queries.yaml.
type exporterQueries map[string]struct {
	Query   string                         `yaml:"query"`
	Metrics []map[string]map[string]string `yaml:"metrics"`
}

func loadQueries(t *testing.T) exporterQueries {
	t.Helper()
	var q exporterQueries
	if err := yaml.Unmarshal([]byte(readFile(t, "postgres-exporter/queries.yaml")), &q); err != nil {
		t.Fatal(err)
	}
	return q
}

// exporterMetrics returns the metrics postgres_exporter makes of the
// queries (<query>_<column> for every column that is not a label) and
// pg_up, which it always exports.
func (q exporterQueries) exporterMetrics() []string {
	names := []string{"pg_up"}
	for ns, query := range q {
		for _, m := range query.Metrics {
			for col, opts := range m {
				if u := opts["usage"]; u != "LABEL" && u != "DISCARD" {
					names = append(names, ns+"_"+col)
				}
			}
		}
	}
	return names
}

var backupMetric = regexp.MustCompile(`# TYPE (freshtrack_backup_[a-z_]+) gauge`)

// knownMetrics are those of the other programs the stack runs: what
// postgres_exporter makes of queries.yaml, the metrics backup.sh writes for
// node_exporter, blackbox_exporter's probe results (TestBlackboxProbe runs
// it), and Prometheus's own series.
func knownMetrics(t *testing.T) map[string]string {
	t.Helper()
	known := map[string]string{"up": "Prometheus", "ALERTS": "Prometheus", "ALERTS_FOR_STATE": "Prometheus"}
	for _, m := range loadQueries(t).exporterMetrics() {
		known[m] = "postgres_exporter"
	}
	for _, m := range backupMetric.FindAllStringSubmatch(readFile(t, "backup/backup.sh"), -1) {
		known[m[1]] = "backup.sh"
	}
	for _, m := range blackboxMetrics {
		known[m] = "blackbox_exporter"
	}
	return known
}

// blackboxMetrics are the probe results rules.yml uses from
// blackbox_exporter's http prober.
var blackboxMetrics = []string{"probe_success", "probe_ssl_earliest_cert_expiry", "probe_http_status_code", "probe_duration_seconds"}

// TestRulesAndDashboardsUseExportedMetrics starts the real freshtrack
// binary, posts readings through its API, and reads /metrics: every
// freshtrack_ metric that rules.yml or a dashboard selects must be there
// (histograms appear once they have an observation, so the test waits for
// them), and every other one must come from a program the stack runs.
func TestRulesAndDashboardsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	used := usedMetrics(t)
	known := knownMetrics(t)
	var own []string
	for m, where := range used {
		if _, ok := known[m]; ok {
			continue
		}
		if !strings.HasPrefix(m, "freshtrack_") {
			t.Errorf("%s (%s) is exported by nothing in the stack", m, where)
			continue
		}
		own = append(own, m)
	}
	sort.Strings(own)
	if len(own) < 20 {
		t.Fatalf("only %d FreshTrack metrics used: %q", len(own), own)
	}

	dbURL := newDatabaseURL(t)
	base := startServe(t, dbURL)
	postReadings(t, dbURL, base)

	// A metric created at its first event that this traffic cannot cause
	// is looked for where the source registers it instead.
	for m, file := range eventOnlyMetrics {
		if !strings.Contains(readFile(t, file), "`"+m+"{") {
			t.Errorf("%s is no longer registered in %s", m, file)
		}
		own = slices.DeleteFunc(own, func(s string) bool { return s == m })
	}

	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		exported := scrape(t, base+"/metrics")
		missing = missing[:0]
		for _, m := range own {
			if !exported[m] {
				missing = append(missing, m+" ("+used[m]+")")
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("not in freshtrack's /metrics after 60 s of traffic:\n%s", strings.Join(missing, "\n"))
	}
}

// eventOnlyMetrics appear in /metrics only after an event the test's
// traffic does not cause (a 5xx answer), so their registration is checked in
// the source named here.
var eventOnlyMetrics = map[string]string{
	"freshtrack_http_errors_total": "../api/middleware.go",
}

// startServe runs `freshtrack serve` on a free loopback port and returns
// its base URL once /readyz answers 200.
func startServe(t *testing.T, dbURL string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &syncBuffer{}
	cmd := exec.Command(freshtrackBinary(t), "serve", "--addr", addr)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "FRESHTRACK_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	base := "http://" + addr
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("serve exited before it was ready:\n%s", logs.String())
		default:
		}
		if resp, err := client.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 30 s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postReadings creates a demo organisation with `freshtrack demo` and posts
// readings with its API key: in range, out of the unit's range (an
// excursion to evaluate) and implausible (rejected).
func postReadings(t *testing.T, dbURL, base string) {
	t.Helper()
	cmd := exec.Command(freshtrackBinary(t), "demo", "--json", "--sensors", "2")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "FRESHTRACK_LOG_LEVEL=warn")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("freshtrack demo: %v", err)
	}
	var demo struct {
		APIKey  string   `json:"api_key"`
		Sensors []string `json:"sensors"`
	}
	if err := json.Unmarshal(out, &demo); err != nil || demo.APIKey == "" || len(demo.Sensors) < 2 {
		t.Fatalf("freshtrack demo --json: %v\n%s", err, out)
	}
	now := time.Now().UTC()
	var readings []string
	for i, s := range demo.Sensors {
		for k := 0; k < 3; k++ {
			at := now.Add(-time.Duration(k) * time.Minute).Format(time.RFC3339)
			temp := 3.0
			if i == 1 {
				temp = 12.5
			}
			readings = append(readings, fmt.Sprintf(`{"sensor":%q,"time":%q,"temp_c":%g}`, s, at, temp))
		}
	}
	readings = append(readings, fmt.Sprintf(`{"sensor":%q,"time":%q,"temp_c":900}`, demo.Sensors[0], now.Format(time.RFC3339)))
	req, _ := http.NewRequest("POST", base+"/v1/readings", strings.NewReader(`{"readings":[`+strings.Join(readings, ",")+`]}`))
	req.Header.Set("Authorization", "Bearer "+demo.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"accepted":`) {
		t.Fatalf("POST /v1/readings: %d %s", resp.StatusCode, body)
	}
}

// scrape returns the metric names (with their _sum, _count suffixes as
// exported) on a /metrics page.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// TestExporterQueries runs every query of postgres-exporter/queries.yaml
// on a migrated FreshTrack database, as postgres_exporter would, and
// checks that each column the file describes is in the result. The
// timescaledb_ ones need TimescaleDB; on it, a failing TimescaleDB job
// shows as timescaledb_jobs_failing = 1, the condition /readyz reports.
func TestExporterQueries(t *testing.T) {
	t.Parallel()
	queries := loadQueries(t)
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewDB(t, pgtest.WithMode(mode))
			ctx := context.Background()
			for name, q := range queries {
				if strings.HasPrefix(name, "timescaledb_") && mode != schema.Timescale {
					continue
				}
				labels := map[string]bool{}
				for _, m := range q.Metrics {
					for col, opts := range m {
						labels[col] = opts["usage"] == "LABEL"
					}
				}
				cols := queryColumns(t, ctx, pool, name, q.Query, labels)
				for _, m := range q.Metrics {
					for col := range m {
						if !slices.Contains(cols, col) {
							t.Errorf("%s: queries.yaml describes column %q, the query returns %q", name, col, cols)
						}
					}
				}
			}
			if mode != schema.Timescale {
				return
			}
			job := pgtest.FailTimescaleJob(t, pool, "deploy test: a broken policy")
			var failing float64
			if err := pool.QueryRow(ctx, `SELECT failing FROM (`+queries["timescaledb_jobs"].Query+`) j WHERE application_name = $1`, job).Scan(&failing); err != nil {
				t.Fatalf("timescaledb_jobs for %s: %v", job, err)
			}
			if failing != 1 {
				t.Errorf("timescaledb_jobs: failing = %v for %s, whose last run failed", failing, job)
			}
			var healthy int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM (`+queries["timescaledb_jobs"].Query+`) j WHERE failing = 0`).Scan(&healthy); err != nil || healthy == 0 {
				t.Errorf("timescaledb_jobs: want FreshTrack's own policies reported healthy, got %d (%v)", healthy, err)
			}
		})
	}
}

// queryColumns runs query and returns its column names, failing the test
// when it fails or returns a label that is not text or a metric that is
// not a float8 (postgres_exporter would drop it).
func queryColumns(t *testing.T, ctx context.Context, pool *pgxpool.Pool, name, query string, labels map[string]bool) []string {
	t.Helper()
	rows, err := pool.Query(ctx, query)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	for rows.Next() {
		values, err := rows.Values()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return cols
		}
		for i, v := range values {
			isLabel, described := labels[cols[i]]
			switch {
			case !described:
			case isLabel:
				if _, ok := v.(string); !ok {
					t.Errorf("%s: label %s is %T, not text", name, cols[i], v)
				}
			default:
				if _, ok := v.(float64); !ok {
					t.Errorf("%s: metric %s is %T, not float8", name, cols[i], v)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	return cols
}

// TestPostgresExporter runs the real postgres_exporter (Debian's, the
// version compose.yaml pins) with compose.yaml's flags and queries.yaml on a
// migrated database, and checks that it exports the metric of every query
// that has rows, without a scrape error on TimescaleDB (on plain
// PostgreSQL the timescaledb_ queries fail, as they would).
func TestPostgresExporter(t *testing.T) {
	t.Parallel()
	exporter := requireTool(t, "prometheus-postgres-exporter", "TEST_POSTGRES_EXPORTER_REQUIRED", "apt-get install prometheus-postgres-exporter")
	args := loadCompose(t).Services["postgres-exporter"].Command
	if len(args) == 0 {
		t.Fatal("compose.yaml: postgres-exporter has no command")
	}
	queriesPath, _ := filepath.Abs("postgres-exporter/queries.yaml")
	for i, a := range args {
		args[i] = strings.Replace(a, "/etc/postgres-exporter/queries.yaml", queriesPath, 1)
	}
	queries := loadQueries(t)
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			dbURL, pool := pgtest.NewDBURL(t, pgtest.WithMode(mode))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			logs := &syncBuffer{}
			cmd := exec.Command(exporter, append(slices.Clone(args), "--web.listen-address="+addr)...)
			cmd.Env = append(os.Environ(), "DATA_SOURCE_NAME="+dbURL)
			cmd.Stdout, cmd.Stderr = logs, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

			var want []string
			for name, q := range queries {
				timescaleOnly := strings.HasPrefix(name, "timescaledb_")
				if timescaleOnly && mode != schema.Timescale {
					continue
				}
				var rows int
				if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM (`+q.Query+`) q`).Scan(&rows); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if rows == 0 {
					continue // nothing to export: no replica, no chunk yet
				}
				for _, m := range (exporterQueries{name: q}).exporterMetrics() {
					if !slices.Contains(want, m) {
						want = append(want, m)
					}
				}
			}
			var exported map[string]bool
			var page string
			deadline := time.Now().Add(20 * time.Second)
			for {
				if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					page = string(b)
					exported = scrape(t, "http://"+addr+"/metrics")
					if exported["pg_up"] {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("postgres_exporter did not serve /metrics with pg_up:\n%s", logs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(page, "\npg_up 1\n") {
				t.Errorf("pg_up is not 1:\n%s", logs)
			}
			for _, m := range want {
				if !exported[m] {
					t.Errorf("postgres_exporter does not export %s\n%s", m, logs)
				}
			}
			if mode == schema.Timescale && !strings.Contains(page, "\npg_exporter_last_scrape_error 0\n") {
				t.Errorf("scrape error on TimescaleDB:\n%s", logs)
			}
		})
	}
}
