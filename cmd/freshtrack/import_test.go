package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

const importIssuer = "https://api.stack-auth.com/api/v1/projects/cmd-test"

// cmdSeed is a small fresh-staged seed: one organisation, one person,
// three fridges with a probe each reporting every `every` for `days`.
func cmdSeed(t *testing.T, days int, every time.Duration) (string, *pgxpool.Pool) {
	t.Helper()
	url, pool := pgtest.EmptyDB(t, pgtest.WithMode(schema.Postgres))
	ddl, err := os.ReadFile("../../seedimport/testdata/seed_freshstaged.sql")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Add(-time.Minute).Truncate(time.Minute)
	for _, q := range []string{string(ddl),
		`INSERT INTO organizations (id, name, slug) VALUES ('00000000-0000-4000-8000-00000000000a', 'Cmd Org', 'cmd')`,
		`INSERT INTO profiles (user_id, organization_id, email, full_name) VALUES ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-00000000000a', 'pat@cmd.example', 'Pat')`,
		`INSERT INTO user_roles (user_id, organization_id, role) VALUES ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-00000000000a', 'owner')`,
		`INSERT INTO sites (id, organization_id, name) VALUES ('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000000a', 'Site')`,
		`INSERT INTO areas (id, site_id, name) VALUES ('00000000-0000-4000-8000-00000000000c', '00000000-0000-4000-8000-00000000000b', 'Area')`,
		`INSERT INTO units (area_id, name, unit_type, temp_min, temp_max, temp_unit) SELECT '00000000-0000-4000-8000-00000000000c', 'fridge ' || g, 'fridge', 33, 41, 'F' FROM generate_series(1, 3) g`,
		`INSERT INTO devices (unit_id, device_eui, name) SELECT id, upper(substr(md5(id::text), 1, 16)), name FROM units`,
		fmt.Sprintf(`INSERT INTO sensor_readings (unit_id, device_id, temperature, recorded_at, received_at)
		  SELECT d.unit_id, d.id, round((3 + sin(extract(epoch FROM t) / 900))::numeric, 2), t, t + interval '1 second'
		    FROM devices d, generate_series(timestamptz '%s' - interval '%d hours', timestamptz '%[1]s', interval '%[3]d seconds') t`,
			end.Format(time.RFC3339), days*24, int(every.Seconds())),
	} {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	return url, pool
}

func importVars(target string) map[string]string {
	return map[string]string{"DATABASE_URL": target, "FRESHTRACK_OIDC_ISSUER": importIssuer, "FRESHTRACK_OIDC_AUDIENCE": "cmd-test"}
}

func TestImportRefusesAnotherIssuer(t *testing.T) {
	t.Parallel()
	seed, _ := cmdSeed(t, 1, time.Hour)
	target, pool := pgtest.NewDBURL(t)
	for _, c := range []struct {
		issuer string
		vars   map[string]string
		want   string
	}{
		{importIssuer + "/", importVars(target), "trailing slash"},
		{"https://api.stack-auth.com/api/v1/projects/other", importVars(target), "is not FRESHTRACK_OIDC_ISSUER"},
		{importIssuer, map[string]string{"DATABASE_URL": target}, "FRESHTRACK_OIDC_ISSUER is not set"},
	} {
		e, _, _ := testEnv(c.vars)
		err := run(context.Background(), []string{"import", "seed", "--from", seed, "--oidc-issuer", c.issuer}, e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("import with --oidc-issuer %s = %v, want a refusal saying %q", c.issuer, err, c.want)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM import_runs) + (SELECT count(*) FROM users)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a refused import wrote %d rows (%v)", n, err)
	}
	e, _, _ := testEnv(importVars(target))
	if err := run(context.Background(), []string{"import", "seed", "--from", seed}, e); err == nil || !strings.Contains(err.Error(), "oidc-issuer") {
		t.Fatalf("import without --oidc-issuer = %v", err)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	seed, _ := cmdSeed(t, 1, 10*time.Minute)
	target, pool := pgtest.NewDBURL(t)
	count := func() string {
		var s string
		if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM organizations) || '/' || (SELECT count(*) FROM readings) || '/' ||
		    (SELECT count(*) FROM import_runs) || '/' || (SELECT count(*) FROM audit_log)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := count()
	e, out, _ := testEnv(importVars(target))
	if err := run(context.Background(), []string{"import", "seed", "--from", seed, "--oidc-issuer", importIssuer, "--dry-run", "--json"}, e); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Kind   string
		Tables []struct {
			Target        string
			Read, Written int64
		}
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	var readings int64
	for _, tb := range rep.Tables {
		if tb.Target == "readings" {
			readings = tb.Written
		}
	}
	if !strings.HasPrefix(rep.Kind, "dry-run") || readings != 3*(24*6+1) {
		t.Fatalf("dry run report: kind %q, readings %d", rep.Kind, readings)
	}
	if after := count(); after != before {
		t.Fatalf("the dry run wrote: %s → %s", before, after)
	}
}

// The freeze-and-backfill runbook through the command: import, verify
// (text and --json), a --since delta, verify again; a tampered reading
// fails verify with a non-zero exit.
func TestImportRunbook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seed, seedPool := cmdSeed(t, 1, 10*time.Minute)
	target, pool := pgtest.NewDBURL(t)
	vars := importVars(target)
	importSeed := func(args ...string) string {
		t.Helper()
		e, out, errOut := testEnv(vars)
		if err := run(ctx, append([]string{"import", "seed", "--from", seed, "--oidc-issuer", importIssuer}, args...), e); err != nil {
			t.Fatalf("import seed %v: %v\n%s\n%s", args, err, out, errOut)
		}
		return out.String()
	}
	if out := importSeed(); !strings.Contains(out, "readings") || !strings.Contains(out, "took") {
		t.Fatalf("import printed:\n%s", out)
	}
	if out := importSeed("--verify"); !strings.Contains(out, "PASS  readings") || strings.Contains(out, "FAIL") {
		t.Fatalf("verify printed:\n%s", out)
	}
	if _, err := seedPool.Exec(ctx, `INSERT INTO sensor_readings (unit_id, device_id, temperature, recorded_at)
	     SELECT unit_id, id, 3.3, now() FROM devices`); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Tables []struct {
			Target  string
			Written int64
		}
	}
	if err := json.Unmarshal([]byte(importSeed("--since", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	for _, tb := range rep.Tables {
		if tb.Target == "readings" && tb.Written != 3 {
			t.Fatalf("--since wrote %d readings, want 3", tb.Written)
		}
	}
	var res struct {
		Result   string
		Readings []struct{ Result string }
	}
	if err := json.Unmarshal([]byte(importSeed("--verify", "--json")), &res); err != nil || res.Result != "PASS" || len(res.Readings) == 0 {
		t.Fatalf("verify --json: %+v %v", res, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE readings SET temp_c = temp_c + 1 WHERE time = (SELECT max(time) FROM readings)`); err != nil {
		t.Fatal(err)
	}
	e, out, _ := testEnv(vars)
	err := run(ctx, []string{"import", "seed", "--from", seed, "--oidc-issuer", importIssuer, "--verify"}, e)
	if err == nil || !strings.Contains(err.Error(), "FAIL") || !strings.Contains(out.String(), "FAIL  readings") {
		t.Fatalf("verify of a tampered import = %v\n%s", err, out)
	}
}

// The binary killed with SIGKILL while a chunk's transaction is open (its
// readings copied, its import_chunks row not yet written): the rerun
// continues and ends as an uninterrupted import does, and verify passes.
func TestImportSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seed, _ := cmdSeed(t, 2, 2*time.Minute)
	target, pool := pgtest.NewDBURL(t)
	bin := freshtrackBinary(t)
	args := []string{"import", "seed", "--from", seed, "--oidc-issuer", importIssuer, "--chunk", "1h", "--workers", "1"}
	envv := append(os.Environ(), "DATABASE_URL="+target, "FRESHTRACK_OIDC_ISSUER="+importIssuer, "FRESHTRACK_OIDC_AUDIENCE=cmd-test", "FRESHTRACK_LOG_LEVEL=warn")
	cmd := exec.Command(bin, args...)
	cmd.Env = envv
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Once a few chunks are in, hold import_chunks so the next chunk's
	// commit waits with its readings copied, and kill the process there.
	deadline := time.Now().Add(2 * time.Minute)
	var committed int
	for committed < 3 {
		select {
		case err := <-done:
			t.Fatalf("the import ended (%v) before it could be killed:\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no chunk committed in 2 minutes:\n%s", logs)
		}
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM import_chunks`).Scan(&committed)
		time.Sleep(2 * time.Millisecond)
	}
	lock, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Rollback(context.Background()) })
	if _, err := lock.Exec(ctx, `LOCK TABLE import_chunks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	for waiting := false; !waiting; {
		if time.Now().After(deadline) {
			t.Fatal("the import never waited on import_chunks")
		}
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
		     AND wait_event_type = 'Lock' AND query ~ '^\s*INSERT INTO import_chunks')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var copied int64
	if err := lock.QueryRow(ctx, `SELECT count(*) FROM import_chunks`).Scan(&copied); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	_ = lock.Rollback(ctx)

	var chunks, runsOpen int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM import_chunks), (SELECT count(*) FROM import_runs WHERE finished_at IS NULL)`).Scan(&chunks, &runsOpen); err != nil {
		t.Fatal(err)
	}
	if int64(chunks) != copied || runsOpen != 1 {
		t.Fatalf("after the kill: %d chunks (held %d), %d open runs", chunks, copied, runsOpen)
	}
	e, out, errOut := testEnv(importVars(target))
	if err := run(ctx, append(args[:6:6], "--chunk", "1h"), e); err != nil {
		t.Fatalf("rerun: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out.String(), "(resumed)") {
		t.Fatalf("the rerun did not continue the killed run:\n%s", out)
	}
	clean, cleanPool := pgtest.NewDBURL(t)
	e, _, _ = testEnv(importVars(clean))
	if err := run(ctx, append(args[:6:6], "--chunk", "1h"), e); err != nil {
		t.Fatal(err)
	}
	fp := func(p *pgxpool.Pool) string {
		var s string
		if err := p.QueryRow(ctx, `SELECT count(*) || '/' || sum(hashtextextended(s.public_id::text || r.time::text || r.temp_c::text, 0))
		     FROM readings r JOIN sensors s ON s.id = r.sensor_id`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := fp(pool), fp(cleanPool); a != b {
		t.Fatalf("killed and rerun: readings %s; uninterrupted: %s", a, b)
	}
	e, out, _ = testEnv(importVars(target))
	if err := run(ctx, []string{"import", "seed", "--from", seed, "--oidc-issuer", importIssuer, "--verify"}, e); err != nil {
		t.Fatalf("verify after the kill and rerun: %v\n%s", err, out)
	}
}

// After `import seed`, the seed's own devices and TTN application deliver
// to FreshTrack unchanged: a device posting the seed body with the seed's
// webhook secret, and a TTN uplink to the URL the seed provisioned.
func TestImportedSeedDevicesKeepDelivering(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()
	seed, seedPool := cmdSeed(t, 1, time.Hour)
	const secret = "seed-webhook-secret-0123456789"
	const org = "00000000-0000-4000-8000-00000000000a"
	// The secret the seed provisioned on the TTN webhook, kept obfuscated
	// ("v2:", XOR with its default salt) as the seed kept it.
	const provisioned = "ttn-provisioned-9f8e7d6c5b4a"
	salt := []byte("default-salt")
	xored := []byte(provisioned)
	for i := range xored {
		xored[i] ^= salt[i%len(salt)]
	}
	if _, err := seedPool.Exec(ctx, `INSERT INTO ttn_connections (organization_id, application_id, webhook_secret, ttn_webhook_secret_encrypted) VALUES ($1, 'kitchen', $2, $3)`,
		org, secret, "v2:"+base64.StdEncoding.EncodeToString(xored)); err != nil {
		t.Fatal(err)
	}
	var unit, device, eui string
	if err := seedPool.QueryRow(ctx, `SELECT unit_id, id, device_eui FROM devices ORDER BY device_eui LIMIT 1`).Scan(&unit, &device, &eui); err != nil {
		t.Fatal(err)
	}
	target, pool := pgtest.NewDBURL(t)
	e, out, errOut := testEnv(importVars(target))
	if err := run(ctx, []string{"import", "seed", "--from", seed, "--oidc-issuer", importIssuer}, e); err != nil {
		t.Fatalf("import seed: %v\n%s\n%s", err, out, errOut)
	}
	p := startServe(t, "imported", target, []string{"FRESHTRACK_OIDC_ISSUER=" + importIssuer, "FRESHTRACK_OIDC_AUDIENCE=cmd-test"})
	logOnFailure(t, p)

	at := time.Now().UTC().Truncate(time.Millisecond)
	status, body := legacyPost(t, p.base()+"/api/ingest/readings", "X-API-Key", secret,
		fmt.Sprintf(`{"readings":[{"unitId":%q,"deviceId":%q,"temperature":3.9,"recordedAt":%q}]}`, unit, device, at.Format("2006-01-02T15:04:05.000Z")))
	if status != 200 || !strings.Contains(body, `"success":true,"insertedCount":1`) {
		t.Fatalf("a seed device's post: %d %s", status, body)
	}
	status, body = legacyPost(t, p.base()+"/api/webhooks/ttn/"+org+"/uplink", "Authorization", provisioned,
		fmt.Sprintf(`{"end_device_ids":{"device_id":"d1","application_ids":{"application_id":"kitchen"},"dev_eui":%q},"received_at":%q,
			"uplink_message":{"f_port":2,"received_at":%q,"decoded_payload":{"temperature":4.1}}}`,
			strings.ToLower(eui), at.Add(time.Second).Format(time.RFC3339Nano), at.Add(time.Second).Format(time.RFC3339Nano)))
	if status != 200 || !strings.Contains(body, `"success":true`) {
		t.Fatalf("the seed TTN application's uplink: %d %s", status, body)
	}
	// Both landed on the imported device's sensor, next to its history.
	rows, err := pool.Query(ctx, `SELECT r.temp_c FROM readings r JOIN sensors s ON s.id = r.sensor_id
		WHERE s.public_id = $1 AND r.time >= $2 ORDER BY r.time`, device, at)
	if err != nil {
		t.Fatal(err)
	}
	temps, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil || len(temps) != 2 || temps[0] != 3.9 || temps[1] != 4.1 {
		t.Fatalf("new readings on the imported device: %v (%v)", temps, err)
	}
}
