package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

type env struct {
	pool  *pgxpool.Pool
	app   *fiber.App
	svc   *ingest.Service
	orgID string
	key   string
}

type answer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

func setup(t *testing.T, cfg ingest.Config, sensors ...string) *env {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store, err := schema.OpenStore(ctx, pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{pool: pool}
	e.orgID, e.key = newOrg(t, pool, "Kitchen A", false, sensors...)
	keys := auth.NewKeyVerifier(pool, auth.KeyVerifierOptions{TTL: 100 * time.Millisecond, NegativeTTL: 10 * time.Millisecond, Logger: quiet})
	t.Cleanup(keys.Close)
	e.svc, err = ingest.NewService(ctx, pool, store, keys, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.svc.Close)
	e.app = api.New(api.Config{Pool: pool, Logger: quiet})
	e.svc.Register(e.app)
	api.NotFound(e.app)
	return e
}

func newOrg(t *testing.T, pool *pgxpool.Pool, name string, autoRegister bool, sensors ...string) (string, string) {
	t.Helper()
	ctx := context.Background()
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: name, AutoRegisterSensors: autoRegister})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sensors {
		if _, err := pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id) VALUES ($1, $2)`, org.ID, s); err != nil {
			t.Fatal(err)
		}
	}
	k, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	return org.ID, k.Key
}

func (e *env) post(t *testing.T, path, key, contentType string, body []byte, headers ...string) (int, string, map[string]string) {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, string(b), h
}

func (e *env) readings(t *testing.T, body string) answer {
	t.Helper()
	code, out, _ := e.post(t, "/v1/readings", e.key, "application/json", []byte(body))
	if code != 200 {
		t.Fatalf("POST /v1/readings = %d %s", code, out)
	}
	var a answer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	return a
}

func (e *env) stored(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT s.external_id || '@' || to_char(r.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '=' || r.temp_c
		  FROM readings r JOIN sensors s ON s.id = r.sensor_id ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func batch(base time.Time, items ...string) string {
	return `{"readings":[` + strings.Join(items, ",") + `]}`
}

func item(sensor string, at time.Time, temp float64) string {
	return fmt.Sprintf(`{"sensor":%q,"time":%q,"temp_c":%g,"humidity":55.5,"battery":90}`, sensor, at.Format(time.RFC3339Nano), temp)
}

func TestIngestStoresExactlyTheAcceptedRows(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "fridge-1", "fridge-2")
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	body := batch(base,
		item("fridge-1", base, 3.5),
		item("fridge-2", base, 4.25),
		`{"sensor":"fridge-1","time":`+fmt.Sprint(base.Add(time.Minute).UnixMilli())+`,"temp_c":3.75}`,
		`{"sensor":"ghost","time":"`+base.Format(time.RFC3339)+`","temp_c":1}`,
		`{"sensor":"fridge-1","time":"`+base.Format(time.RFC3339)+`","temp_c":"warm"}`,
		`{"sensor":"fridge-2","time":"`+base.Add(time.Hour).Format(time.RFC3339)+`","temp_c":2}`,
		`{"sensor":"fridge-2","time":"`+base.Format(time.RFC3339)+`","temp_c":999}`,
	)
	a := e.readings(t, body)
	if a.Accepted != 3 || a.Duplicates != 0 || len(a.Rejected) != 4 {
		t.Fatalf("answer = %+v, want 3 accepted and 4 rejected", a)
	}
	for i, want := range []struct {
		index int
		words string
	}{{3, "unknown sensor"}, {4, "temp_c"}, {5, "future"}, {6, "range"}} {
		if a.Rejected[i].Index != want.index || !strings.Contains(a.Rejected[i].Reason, want.words) {
			t.Errorf("rejection %d = %+v, want index %d mentioning %q", i, a.Rejected[i], want.index, want.words)
		}
	}
	want := []string{
		"fridge-1@" + base.Format("2006-01-02T15:04:05") + ".000000=3.5",
		"fridge-1@" + base.Add(time.Minute).Format("2006-01-02T15:04:05") + ".000000=3.75",
		"fridge-2@" + base.Format("2006-01-02T15:04:05") + ".000000=4.25",
	}
	if got := e.stored(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored %v\nwant   %v", got, want)
	}

	// Sending the same batch again stores nothing and reports duplicates.
	a = e.readings(t, body)
	if a.Accepted != 0 || a.Duplicates != 3 || len(a.Rejected) != 4 {
		t.Fatalf("resend = %+v, want 3 duplicates", a)
	}
	// Duplicates inside one batch count once.
	at := base.Add(2 * time.Minute)
	a = e.readings(t, batch(base, item("fridge-1", at, 5), item("fridge-1", at, 6), item("fridge-1", at, 7)))
	if a.Accepted != 1 || a.Duplicates != 2 {
		t.Fatalf("in-batch duplicates = %+v", a)
	}
	if n := len(e.stored(t)); n != 4 {
		t.Fatalf("stored %d rows, want 4", n)
	}
	// The latest value is known without reading the table.
	var sensorID int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM sensors WHERE external_id = 'fridge-1'`).Scan(&sensorID); err != nil {
		t.Fatal(err)
	}
	if v, ok := e.svc.Latest().Get(sensorID); !ok || !v.Time().Equal(at) || v.TempC != 5 {
		t.Fatalf("latest = %+v %v", v, ok)
	}
}

func TestIngestNDJSONAndGzip(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "s1")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	nd := item("s1", base, 1) + "\r\n" + item("s1", base.Add(time.Second), 2) + "\n\n{broken\n" + item("s1", base.Add(2*time.Second), 3) + "\n"
	code, out, _ := e.post(t, "/v1/readings", e.key, "application/x-ndjson", []byte(nd))
	if code != 200 || !strings.Contains(out, `"accepted":3`) || !strings.Contains(out, `"index":2`) {
		t.Fatalf("ndjson = %d %s", code, out)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(batch(base, item("s1", base.Add(10*time.Second), 4), item("s1", base.Add(11*time.Second), 5))))
	_ = zw.Close()
	code, out, _ = e.post(t, "/v1/readings", e.key, "application/json", zipped.Bytes(), "Content-Encoding", "gzip")
	if code != 200 || !strings.Contains(out, `"accepted":2`) {
		t.Fatalf("gzip = %d %s", code, out)
	}
	code, out, _ = e.post(t, "/v1/readings", e.key, "application/json", []byte("not gzip"), "Content-Encoding", "gzip")
	if code != 400 || !strings.Contains(out, "gzip") {
		t.Fatalf("bad gzip = %d %s", code, out)
	}
	if n := len(e.stored(t)); n != 5 {
		t.Fatalf("stored %d, want 5", n)
	}
}

func TestIngestRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{MaxBodyBytes: 64 << 10, MaxReadings: 100}, "s1")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	good := []byte(batch(base, item("s1", base, 1)))
	f := func(name string, code int, key, ct string, body []byte, wantType string, headers ...string) {
		t.Helper()
		got, out, h := e.post(t, "/v1/readings", key, ct, body, headers...)
		if got != code || h["Content-Type"] != "application/problem+json" || !strings.Contains(out, wantType) {
			t.Errorf("%s: %d %s %s, want %d problem+json %s", name, got, h["Content-Type"], out, code, wantType)
		}
	}
	f("no key", 401, "", "application/json", good, "unauthorized")
	f("unknown key", 401, "ftk_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "application/json", good, "unauthorized")
	f("garbage key", 401, "hunter2", "application/json", good, "unauthorized")
	f("malformed JSON", 400, e.key, "application/json", []byte(`{"readings":[{"sensor":`), "bad-request")
	f("not an object", 400, e.key, "application/json", []byte(`[1,2,3]`), "bad-request")
	f("body too large", 413, e.key, "application/json", bytes.Repeat([]byte(" "), 65<<10), "too-large")
	var many []string
	for i := range 101 {
		many = append(many, item("s1", base.Add(time.Duration(i)*time.Second), 1))
	}
	f("too many readings", 413, e.key, "application/json", []byte(batch(base, many...)), "too-many-readings")
	// A gzip bomb is stopped at the decoded limit.
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 10<<20))
	_ = zw.Close()
	f("gzip bomb", 413, e.key, "application/json", zipped.Bytes(), "too-large", "Content-Encoding", "gzip")
	f("unknown encoding", 415, e.key, "application/json", good, "unsupported-encoding", "Content-Encoding", "br")
	f("wrong content type", 415, e.key, "text/plain", good, "unsupported-media-type")
	f("form encoded", 415, e.key, "application/x-www-form-urlencoded", good, "unsupported-media-type")
	// Invalid UTF-8 anywhere, even in a member ingest ignores, fails the
	// request and names the field.
	bad := []byte(`{"readings":[{"sensor":"s1","time":"` + base.Format(time.RFC3339) + `","temp_c":1,"note":"caf` + "\xe9" + `"}]}`)
	f("invalid UTF-8", 400, e.key, "application/json", bad, "readings[0].note")
	if n := len(e.stored(t)); n != 0 {
		t.Fatalf("refused requests stored %d rows", n)
	}
	// X-API-Key works as well as Authorization.
	code, out, _ := e.post(t, "/v1/readings", "", "application/json", good, "X-API-Key", e.key)
	if code != 200 || !strings.Contains(out, `"accepted":1`) {
		t.Fatalf("X-API-Key = %d %s", code, out)
	}
}

func TestIngestRevokedKeyStopsWorking(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "s1")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if a := e.readings(t, batch(base, item("s1", base, 1))); a.Accepted != 1 {
		t.Fatalf("before revocation: %+v", a)
	}
	keys, err := auth.ListAPIKeys(context.Background(), e.pool, e.orgID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %v %v", keys, err)
	}
	if err := auth.RevokeAPIKey(context.Background(), e.pool, e.orgID, keys[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; ; i++ {
		code, _, _ := e.post(t, "/v1/readings", e.key, "application/json", []byte(batch(base, item("s1", base.Add(time.Duration(i)*time.Second), 1))))
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a revoked key still works after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIngestOtherOrganisationsSensorsAreRejected(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "mine")
	newOrg(t, e.pool, "Kitchen B", false, "theirs")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	a := e.readings(t, batch(base, item("mine", base, 1), item("theirs", base, 2)))
	if a.Accepted != 1 || len(a.Rejected) != 1 || a.Rejected[0].Index != 1 || !strings.Contains(a.Rejected[0].Reason, "unknown sensor") {
		t.Fatalf("answer = %+v", a)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.external_id = 'theirs'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("another organisation's sensor got %d readings (%v)", n, err)
	}
}

func TestIngestAutoRegistersWhenAllowed(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{})
	orgID, key := newOrg(t, e.pool, "Open Kitchen", true)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	code, out, _ := e.post(t, "/v1/readings", key, "", []byte(batch(base, item("new-1", base, 1), item("new-2", base, 2), item("new-1", base.Add(time.Minute), 3))))
	if code != 200 || !strings.Contains(out, `"accepted":3`) {
		t.Fatalf("auto-register = %d %s", code, out)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM sensors WHERE org_id = $1 AND unit_id IS NULL`, orgID).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d unassigned sensors registered (%v), want 2", n, err)
	}
}

func TestIngestTTNUplinks(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "70B3D57ED005A1B2")
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	uplink := fmt.Sprintf(`{
	  "end_device_ids": {"device_id": "fridge-3", "application_ids": {"application_id": "bistro"}, "dev_eui": "70b3d57ed005a1b2"},
	  "correlation_ids": ["as:up:01H0"], "received_at": %q,
	  "uplink_message": {"f_port": 2, "f_cnt": "42", "frm_payload": "AQID",
	    "decoded_payload": {"TempC_SHT": "4.56", "Hum_SHT": 61.2, "Battery Status": "Good"},
	    "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-1"}, "rssi": -87, "snr": 9.5, "time": %q}],
	    "settings": {"frequency": "867500000"}, "received_at": %q}}`,
		at.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
	for i, want := range []string{`"accepted":1`, `"duplicates":1`} {
		code, out, _ := e.post(t, "/v1/ingest/ttn", "", "application/json", []byte(uplink), "X-API-Key", e.key)
		if code != 200 || !strings.Contains(out, want) {
			t.Fatalf("uplink %d = %d %s, want %s", i, code, out, want)
		}
	}
	var temp float64
	var hum float32
	if err := e.pool.QueryRow(context.Background(), `SELECT temp_c, humidity FROM readings`).Scan(&temp, &hum); err != nil || temp != 4.56 || hum != 61.2 {
		t.Fatalf("stored %v %v (%v)", temp, hum, err)
	}
	code, out, _ := e.post(t, "/v1/ingest/ttn", e.key, "application/json", []byte(`{"end_device_ids":`))
	if code != 400 {
		t.Fatalf("broken uplink = %d %s", code, out)
	}
}

func TestIngestOverloadAnswers503AndLosesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{MaxReadings: 10, Writer: ingest.WriterConfig{QueueRows: 20, Writers: 1, MaxBatchRows: 10}}, "s1", "s2", "s3")
	ctx := context.Background()
	blocker, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(ctx, `LOCK TABLE readings IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	type result struct {
		code       int
		body       string
		retryAfter string
	}
	results := make(chan result, 12)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var items []string
			for j := range 10 {
				items = append(items, item(fmt.Sprintf("s%d", i%3+1), base.Add(time.Duration(i*10+j)*time.Second), 1))
			}
			code, out, h := e.post(t, "/v1/readings", e.key, "application/json", []byte(batch(base, items...)))
			results <- result{code, out, h["Retry-After"]}
		}()
	}
	// While the table is locked, at most two requests fit the queue; the
	// others are refused at once.
	refused := 0
	for refused < 10 {
		select {
		case r := <-results:
			if r.code != 503 || r.retryAfter == "" {
				t.Fatalf("while blocked: %d %s (Retry-After %q), want 503 with Retry-After", r.code, r.body, r.retryAfter)
			}
			refused++
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 10 overflowing requests were refused", refused)
		}
	}
	_ = blocker.Rollback(ctx)
	wg.Wait()
	close(results)
	accepted := 0
	for r := range results {
		var a answer
		if r.code != 200 || json.Unmarshal([]byte(r.body), &a) != nil {
			t.Fatalf("queued request: %d %s", r.code, r.body)
		}
		accepted += a.Accepted
	}
	if n := len(e.stored(t)); accepted != 20 || n != 20 {
		t.Fatalf("accepted %d, stored %d; want 20 and 20", accepted, n)
	}
}

// A probe's error code (a disconnected LHT65 probe's 327.67 °C) is accepted
// and stored as a sensor fault, never as a temperature; the device is not
// told to retry, and the dashboard's latest value stays the last measurement.
// A resend is harmless.
func TestIngestStoresProbeErrorCodesAsFaults(t *testing.T) {
	t.Parallel()
	e := setup(t, ingest.Config{}, "fridge-1")
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	body := batch(base, item("fridge-1", base, 3.5), item("fridge-1", base.Add(time.Minute), 327.67),
		item("fridge-1", base.Add(2*time.Minute), -327.68), item("fridge-1", base.Add(3*time.Minute), 250))
	a := e.readings(t, body)
	if a.Accepted != 3 || len(a.Rejected) != 1 || a.Rejected[0].Index != 3 {
		t.Fatalf("answer = %+v, want 3 accepted (one reading, two faults) and the implausible 250 rejected", a)
	}
	if got := e.stored(t); len(got) != 1 {
		t.Fatalf("readings %v, want only the measurement", got)
	}
	var faults int
	var codes string
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*), string_agg(code::text, ',' ORDER BY time) FROM sensor_faults`).Scan(&faults, &codes); err != nil {
		t.Fatal(err)
	}
	if faults != 2 || codes != "327.67,-327.68" {
		t.Fatalf("sensor_faults %d (%s), want the two codes", faults, codes)
	}
	var sensorID int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM sensors WHERE external_id = 'fridge-1'`).Scan(&sensorID); err != nil {
		t.Fatal(err)
	}
	if v, ok := e.svc.Latest().Get(sensorID); !ok || v.TempC != 3.5 {
		t.Fatalf("latest = %+v %v, want the 3.5 °C measurement", v, ok)
	}
	if a := e.readings(t, body); a.Duplicates != 1 {
		t.Fatalf("resend = %+v, want the measurement as a duplicate", a)
	}
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM sensor_faults`).Scan(&faults); err != nil || faults != 2 {
		t.Fatalf("sensor_faults after a resend: %d %v", faults, err)
	}
}

// A request gives its admission slot up once its rows are built: with one
// slot, a second large request is admitted while the first still waits for
// its group commit. Holding the slot through the commit would cap ingest
// at slots ÷ commit latency.
func TestIngestWaitsForItsCommitWithoutAnAdmissionSlot(t *testing.T) {
	t.Parallel()
	adm := httpbody.NewAdmission(1, 100*time.Millisecond)
	e := setup(t, ingest.Config{Admission: adm, Writer: ingest.WriterConfig{FlushDelay: 600 * time.Millisecond, MaxBatchRows: 100_000}}, "s1")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	body := func(from int) []byte {
		var items []string
		for i := range 200 { // about 16 KiB: more than is read with the headers
			items = append(items, item("s1", base.Add(time.Duration(from+i)*time.Second), 1))
		}
		return []byte(batch(base, items...))
	}
	first := make(chan string, 1)
	go func() {
		code, out, _ := e.post(t, "/v1/readings", e.key, "application/json", body(0))
		first <- fmt.Sprint(code, " ", out)
	}()
	// The only slot comes free while the first still waits for its flush
	// (600 ms): taken here, it is given back for the second request.
	for deadline := time.Now().Add(10 * time.Second); ; {
		slot, err := adm.Acquire()
		if err == nil {
			slot.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first request held the admission slot for 10 s: %v", err)
		}
	}
	if n := len(e.stored(t)); n != 0 {
		t.Fatalf("the admission slot came free only after the first request's %d readings were committed: it was held through the commit", n)
	}
	code, out, _ := e.post(t, "/v1/readings", e.key, "application/json", body(1000))
	if code != 200 || !strings.Contains(out, `"accepted":200`) {
		t.Fatalf("second request while the first waits for its commit = %d %s, want 200", code, out)
	}
	if got := <-first; got != `200 {"accepted":200,"duplicates":0,"rejected":[]}` {
		t.Fatalf("first request = %s", got)
	}
}
