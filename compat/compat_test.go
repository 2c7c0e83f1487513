package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/compat"
	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// seedSecret is a FreshTrack Pro ttn_connections.webhook_secret, as its
// settings page generated them.
const seedSecret = "ftp_whsec_9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"

// world is the legacy routes on a test database: an organisation with a
// site, units with and without sensors, its FreshTrack Pro secret and a
// FreshTrack API key, and another organisation with a unit.
type world struct {
	pool    *pgxpool.Pool
	app     *fiber.App
	org     string
	key     string // ftk_ with ingest
	readKey string // ftk_ with read only
	secret  string // the legacy secret's id
	// units: "probe" has one sensor (public id device, external id EUI),
	// "bare" none, "pair" two; "foreign" is the other organisation's.
	units  map[string]string
	device string
	sensor int64
}

const sensorEUI = "70B3D57ED005A1B2"

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	store, err := schema.OpenStore(ctx, pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{pool: pool, units: map[string]string{}}
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Harbour Kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	w.org = org.ID
	q := func(sql string, args ...any) string {
		t.Helper()
		var v string
		if err := pool.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return v
	}
	site := q(`INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Main', 'UTC') RETURNING id`, org.ID)
	for _, name := range []string{"probe", "bare", "pair"} {
		w.units[name] = q(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, 'fridge', 0, 5) RETURNING id`, org.ID, site, name)
	}
	otherSite := q(`INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Depot', 'UTC') RETURNING id`, other.ID)
	w.units["foreign"] = q(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'theirs', 'fridge', 0, 5) RETURNING id`, other.ID, otherSite)
	w.device = q(`INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3) RETURNING public_id`, org.ID, sensorEUI, w.units["probe"])
	if err := pool.QueryRow(ctx, `SELECT id FROM sensors WHERE public_id = $1`, w.device).Scan(&w.sensor); err != nil {
		t.Fatal(err)
	}
	q(`INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, 'pair-a', $2), ($1, 'pair-b', $2) RETURNING 'x'`, org.ID, w.units["pair"])
	if w.secret, err = auth.CreateLegacySecret(ctx, pool, org.ID, seedSecret, auth.LegacySourceWebhookSecret); err != nil {
		t.Fatal(err)
	}
	for _, scopes := range [][]string{{auth.ScopeIngest}, {auth.ScopeRead}} {
		k, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gateway", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		if scopes[0] == auth.ScopeIngest {
			w.key = k.Key
		} else {
			w.readKey = k.Key
		}
	}

	opts := auth.KeyVerifierOptions{TTL: 200 * time.Millisecond, NegativeTTL: 10 * time.Millisecond, Logger: quiet}
	keys, secrets := auth.NewKeyVerifier(pool, opts), auth.NewLegacySecretVerifier(pool, opts)
	t.Cleanup(keys.Close)
	t.Cleanup(secrets.Close)
	svc, err := ingest.NewService(ctx, pool, store, keys, ingest.Config{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	legacy, err := compat.New(compat.Config{Pool: pool, Ingest: svc, Keys: keys, Secrets: secrets, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w.app = api.New(api.Config{Pool: pool, Logger: quiet})
	legacy.Register(w.app)
	compat.RegisterHealth(w.app, compat.HealthConfig{Pool: pool, Version: "test", Environment: "test", Logger: quiet})
	api.NotFound(w.app)
	return w
}

// answer is a legacy answer, success or error.
type answer struct {
	status int
	header map[string]string
	raw    string
	// Success answers.
	Success         *bool              `json:"success"`
	InsertedCount   *int               `json:"insertedCount"`
	ReadingIDs      []string           `json:"readingIds"`
	AlertsTriggered *int               `json:"alertsTriggered"`
	Duplicates      int                `json:"duplicates"`
	Rejected        []ingest.Rejection `json:"rejected"`
	Message         string             `json:"message"`
	// Errors.
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// post sends body (a string, or JSON-encoded) to path with the headers
// given as name, value pairs.
func (w *world) post(t *testing.T, path string, body any, headers ...string) answer {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	return w.do(t, req)
}

func (w *world) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := w.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(b), header: map[string]string{}}
	for k := range resp.Header {
		a.header[k] = resp.Header.Get(k)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: answer %d %q is not JSON: %v", req.Method, req.URL, resp.StatusCode, b, err)
	}
	if ct := a.header["Content-Type"]; ct != compat.ContentType {
		t.Fatalf("%s %s: Content-Type %q, want %q", req.Method, req.URL, ct, compat.ContentType)
	}
	return a
}

// wantError checks a FreshTrack Pro error answer.
func wantError(t *testing.T, what string, a answer, status int, code, message string) {
	t.Helper()
	if a.status != status || a.Error == nil || a.Error.Code != code || !strings.Contains(a.Error.Message, message) {
		t.Fatalf("%s: %d %s, want %d {\"error\":{\"code\":%q,\"message\":...%q...}}", what, a.status, a.raw, status, code, message)
	}
}

// wantStored checks a successful ingest answer.
func wantStored(t *testing.T, what string, a answer, inserted int) {
	t.Helper()
	if a.status != 200 || a.Success == nil || !*a.Success || a.InsertedCount == nil || *a.InsertedCount != inserted ||
		a.ReadingIDs == nil || len(a.ReadingIDs) != 0 || a.AlertsTriggered == nil || *a.AlertsTriggered != 0 {
		t.Fatalf("%s: %d %s, want 200 with insertedCount %d", what, a.status, a.raw, inserted)
	}
}

// seedReading is a reading as FreshTrack Pro's devices post it.
func seedReading(unit string, at time.Time, temp float64, extra ...any) map[string]any {
	r := map[string]any{"unitId": unit, "temperature": temp, "recordedAt": at.UTC().Format("2006-01-02T15:04:05.000Z")}
	for i := 0; i+1 < len(extra); i += 2 {
		r[extra[i].(string)] = extra[i+1]
	}
	return r
}

func body(readings ...map[string]any) map[string]any { return map[string]any{"readings": readings} }

// stored lists the readings of the organisation as external_id@unix=temp.
func (w *world) stored(t *testing.T) []string {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), `
		SELECT s.external_id || '@' || extract(epoch FROM r.time)::bigint || '=' || r.temp_c
		  FROM readings r JOIN sensors s ON s.id = r.sensor_id ORDER BY r.time, s.external_id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var base = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

func TestReadingsAcceptEveryHeader(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	variants := [][]string{
		{"X-API-Key", seedSecret},
		{"X-Webhook-Secret", seedSecret},
		{"X-Downlink-Apikey", seedSecret},
		{"Authorization", seedSecret},
		{"Authorization", "Bearer " + seedSecret},
		{"Authorization", "bearer  " + seedSecret},
		{"X-API-Key", w.key},
		{"Authorization", "Bearer " + w.key},
		{"X-Webhook-Secret", w.key},
	}
	var want []string
	for i, h := range variants {
		a := w.post(t, "/api/ingest/readings", body(seedReading(w.units["probe"], at(i), 3.5)), h...)
		wantStored(t, fmt.Sprintf("%s: %.12s…", h[0], h[1]), a, 1)
		want = append(want, fmt.Sprintf("%s@%d=3.5", sensorEUI, at(i).Unix()))
	}
	if got := w.stored(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored %v\nwant   %v", got, want)
	}
	// The first header present wins: a wrong X-API-Key is not saved by a
	// right Authorization.
	a := w.post(t, "/api/ingest/readings", body(seedReading(w.units["probe"], at(20), 3)), "X-API-Key", "not-the-secret", "Authorization", seedSecret)
	wantError(t, "wrong X-API-Key, right Authorization", a, 401, "UNAUTHORIZED", "Invalid API key")
}

func TestReadingsRefuseBadCredentials(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := body(seedReading(w.units["probe"], at(0), 3.5))
	wantError(t, "no credential", w.post(t, "/api/ingest/readings", b), 401, "UNAUTHORIZED", "Missing API key")
	wantError(t, "blank credential", w.post(t, "/api/ingest/readings", b, "X-API-Key", "   "), 401, "UNAUTHORIZED", "Missing API key")
	for _, bad := range []string{"wrong-secret-123", "ftk_aaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", "Basic dXNlcjpwYXNz"} {
		wantError(t, "credential "+bad, w.post(t, "/api/ingest/readings", b, "Authorization", bad), 401, "UNAUTHORIZED", "Invalid API key")
	}
	wantError(t, "read-only key", w.post(t, "/api/ingest/readings", b, "X-API-Key", w.readKey), 403, "FORBIDDEN", "ingest scope")
	for _, path := range []string{"/api/webhooks/ttn", "/api/webhooks/ttn/" + w.org + "/uplink", "/api/webhooks/ttn/" + w.org + "/join"} {
		wantError(t, path, w.post(t, path, uplink("70B3D57ED005A1B2", at(0), `{"temperature":3}`)), 401, "UNAUTHORIZED", "Missing API key")
	}
	if got := w.stored(t); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
}

// TestRevokedSecretIsRefusedWithinTheTTL: a revoked legacy secret stops
// working within the verifier's TTL (200ms here).
func TestRevokedSecretIsRefusedWithinTheTTL(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	wantStored(t, "before", w.post(t, "/api/ingest/readings", body(seedReading(w.units["probe"], at(0), 3)), "X-Webhook-Secret", seedSecret), 1)
	if err := auth.RevokeLegacySecret(context.Background(), w.pool, w.org, w.secret, "cli"); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for i := 1; ; i++ {
		a := w.post(t, "/api/ingest/readings", body(seedReading(w.units["probe"], at(i), 3)), "X-Webhook-Secret", seedSecret)
		if a.status == 401 {
			wantError(t, "revoked", a, 401, "UNAUTHORIZED", "Invalid API key")
			break
		}
		wantStored(t, "within the TTL", a, 1)
		if time.Since(revoked) > 200*time.Millisecond+time.Second {
			t.Fatalf("the revoked secret still works %v after revocation; the TTL is 200ms", time.Since(revoked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	a := w.post(t, "/api/webhooks/ttn", uplink(sensorEUI, at(0), `{"temperature":3}`), "X-API-Key", seedSecret)
	wantError(t, "revoked on the TTN route", a, 401, "UNAUTHORIZED", "Invalid API key")
}

func TestReadingsFindTheirSensor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	h := []string{"X-API-Key", seedSecret}
	a := w.post(t, "/api/ingest/readings", body(
		// The unit's only sensor; the FreshTrack Pro extras are dropped.
		seedReading(w.units["probe"], at(0), 4.25, "humidity", 61.5, "battery", 88, "signalStrength", -71, "source", "ttn", "rawPayload", "y7wB"),
		// By device (public_id), on its unit.
		seedReading(w.units["probe"], at(1), 4.5, "deviceId", strings.ToUpper(w.device)),
		// A unit without a sensor, and one with two: their synthetic sensors.
		seedReading(w.units["bare"], at(2), 2),
		seedReading(w.units["pair"], at(3), 3),
		// A device that is no sensor: the unit decides.
		seedReading(w.units["bare"], at(4), 2.5, "deviceId", "6f1c0b52-8f0e-4c57-9a53-000000000001"),
		// A device of another unit: the unit decides.
		seedReading(w.units["pair"], at(5), 3.5, "deviceId", w.device),
	), h...)
	wantStored(t, "by unit", a, 6)
	bare, pair := "unit:"+w.units["bare"], "unit:"+w.units["pair"]
	want := []string{
		fmt.Sprintf("%s@%d=4.25", sensorEUI, at(0).Unix()), fmt.Sprintf("%s@%d=4.5", sensorEUI, at(1).Unix()),
		fmt.Sprintf("%s@%d=2", bare, at(2).Unix()), fmt.Sprintf("%s@%d=3", pair, at(3).Unix()),
		fmt.Sprintf("%s@%d=2.5", bare, at(4).Unix()), fmt.Sprintf("%s@%d=3.5", pair, at(5).Unix()),
	}
	if got := w.stored(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored %v\nwant   %v", got, want)
	}
	var hum, bat float64
	if err := w.pool.QueryRow(ctx, `SELECT humidity, battery FROM readings WHERE sensor_id = $1 AND time = $2`, w.sensor, at(0)).Scan(&hum, &bat); err != nil || hum != 61.5 || bat != 88 {
		t.Fatalf("humidity %v battery %v (%v), want 61.5 and 88", hum, bat, err)
	}
	// The synthetic sensors are on their units, named, and made once.
	var n int
	var name string
	if err := w.pool.QueryRow(ctx, `SELECT count(*), min(name) FROM sensors WHERE external_id = $1 AND unit_id = $2`, bare, w.units["bare"]).Scan(&n, &name); err != nil || n != 1 || name != compat.SyntheticSensorName {
		t.Fatalf("synthetic sensor of the bare unit: %d named %q (%v)", n, name, err)
	}
	wantStored(t, "again", w.post(t, "/api/ingest/readings", body(seedReading(w.units["bare"], at(6), 1)), h...), 1)
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM sensors WHERE org_id = $1`, w.org).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d sensors, want 5 (3 + 2 synthetic)", n)
	}
	// Once the bare unit's synthetic sensor is its only one, it is "the
	// unit's only sensor"; a retired synthetic sensor of a unit with two
	// others leaves the reading nowhere to go, and the answer says so.
	if _, err := w.pool.Exec(ctx, `UPDATE sensors SET retired_at = now() WHERE external_id = $1`, pair); err != nil {
		t.Fatal(err)
	}
	a = w.post(t, "/api/ingest/readings", body(seedReading(w.units["pair"], at(7), 3), seedReading(w.units["bare"], at(7), 1)), h...)
	wantStored(t, "one of two", a, 1)
	if len(a.Rejected) != 1 || a.Rejected[0].Index != 0 || !strings.Contains(a.Rejected[0].Reason, "retired") {
		t.Fatalf("rejected %+v, want reading 0 with the retired synthetic sensor", a.Rejected)
	}
}

func TestReadingsOfForeignUnits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := []string{"X-API-Key", seedSecret}
	a := w.post(t, "/api/ingest/readings", body(seedReading(w.units["foreign"], at(0), 3), seedReading("6f1c0b52-8f0e-4c57-9a53-000000000002", at(1), 3)), h...)
	wantError(t, "foreign units only", a, 403, "FORBIDDEN", "Units do not belong to organization")
	if a.raw != `{"error":{"code":"FORBIDDEN","message":"Units do not belong to organization"}}` {
		t.Fatalf("403 body %s is not FreshTrack Pro's", a.raw)
	}
	a = w.post(t, "/api/ingest/readings", body(
		seedReading(w.units["foreign"], at(0), 3),
		seedReading(w.units["probe"], at(1), 3.25),
		seedReading(w.units["foreign"], at(2), 3),
		seedReading(w.units["probe"], at(3), 3.75),
	), h...)
	wantStored(t, "own and foreign", a, 2)
	if len(a.Rejected) != 2 || a.Rejected[0].Index != 0 || a.Rejected[1].Index != 2 || !strings.Contains(a.Rejected[0].Reason, "does not belong") {
		t.Fatalf("rejected %+v, want readings 0 and 2 as foreign", a.Rejected)
	}
	want := fmt.Sprintf("%s@%d=3.25 %s@%d=3.75", sensorEUI, at(1).Unix(), sensorEUI, at(3).Unix())
	if got := w.stored(t); strings.Join(got, " ") != want {
		t.Fatalf("stored %v, want %s", got, want)
	}
	// The other organisation's unit got no sensor either.
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM sensors WHERE unit_id = $1`, w.units["foreign"]).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the foreign unit has %d sensors (%v)", n, err)
	}
}

func TestReadingsValidation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := []string{"X-API-Key", seedSecret}
	unit := w.units["probe"]
	ok := func(extra ...any) map[string]any { return seedReading(unit, at(0), 3, extra...) }
	f := func(name string, b any, field, message string) {
		t.Helper()
		a := w.post(t, "/api/ingest/readings", b, h...)
		wantError(t, name, a, 400, "BAD_REQUEST", message)
		if len(a.Error.Details) == 0 || a.Error.Details[0].Field != field || !strings.Contains(a.Error.Details[0].Message, message) {
			t.Fatalf("%s: details %+v, want %s: %s", name, a.Error.Details, field, message)
		}
	}
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = seedReading(unit, at(i), 3)
	}
	f("no readings", map[string]any{"reading": []any{}}, "readings", "Required")
	f("readings not an array", map[string]any{"readings": map[string]any{}}, "readings", "Expected array, received object")
	f("empty batch", map[string]any{"readings": []any{}}, "readings", "at least 1")
	f("1001 readings", body(many...), "readings", "at most 1000")
	f("not an object", `[1]`, "", "Expected object, received array")
	f("reading not an object", `{"readings":[3]}`, "readings.0", "Expected object, received number")
	f("unitId missing", body(map[string]any{"temperature": 3, "recordedAt": at(0).Format(time.RFC3339)}), "readings.0.unitId", "Required")
	f("unitId not a uuid", body(seedReading("unit-7", at(0), 3)), "readings.0.unitId", "Invalid uuid")
	f("deviceId not a uuid", body(ok("deviceId", "test-device-1700000000")), "readings.0.deviceId", "Invalid uuid")
	f("temperature a string", body(ok("temperature", "3.5")), "readings.0.temperature", "Expected number, received string")
	f("temperature missing", body(map[string]any{"unitId": unit, "recordedAt": at(0).Format(time.RFC3339)}), "readings.0.temperature", "Required")
	f("humidity null", body(ok("humidity", nil)), "readings.0.humidity", "Expected number, received null")
	f("battery over 100", body(ok("battery", 101)), "readings.0.battery", "less than or equal to 100")
	f("battery a fraction", body(ok("battery", 50.5)), "readings.0.battery", "Expected integer")
	f("signalStrength a fraction", body(ok("signalStrength", -70.5)), "readings.0.signalStrength", "Expected integer")
	f("source unknown", body(ok("source", "lorawan")), "readings.0.source", "Invalid enum value")
	f("rawPayload not a string", body(ok("rawPayload", 12)), "readings.0.rawPayload", "Expected string")
	for _, ts := range []string{"2026-01-20T10:00:00+01:00", "2026-01-20T10:00:00z", "2026-01-20 10:00:00Z", "2026-01-20T10:00Z", "2026-02-30T10:00:00Z", "2026-01-20T10:00:00.Z", "1768903200000", ""} {
		f("recordedAt "+ts, body(ok("recordedAt", ts)), "readings.0.recordedAt", "Invalid datetime")
	}
	// The whole batch is refused for one bad reading, and every bad field is named.
	a := w.post(t, "/api/ingest/readings", body(seedReading(unit, at(1), 3), ok("battery", -1, "humidity", "wet")), h...)
	wantError(t, "one bad reading", a, 400, "BAD_REQUEST", "(and 1 more)")
	if len(a.Error.Details) != 2 {
		t.Fatalf("details %+v, want battery and humidity", a.Error.Details)
	}
	if got := w.stored(t); len(got) != 0 {
		t.Fatalf("a refused batch stored %v", got)
	}
	// What FreshTrack Pro accepted is accepted: a fraction of any length,
	// unknown members, a source it knew.
	a = w.post(t, "/api/ingest/readings", body(
		seedReading(unit, at(2), 3, "recordedAt", at(2).Format("2006-01-02T15:04:05Z")),
		seedReading(unit, at(3), 3, "recordedAt", at(3).Format("2006-01-02T15:04:05")+".123456789123Z", "firmware", "1.8", "source", "import"),
	), h...)
	wantStored(t, "valid variants", a, 2)
	// Not JSON at all, or not sent as JSON.
	wantError(t, "truncated", w.post(t, "/api/ingest/readings", `{"readings":[`, h...), 400, "BAD_REQUEST", "JSON")
	wantError(t, "text/plain", w.post(t, "/api/ingest/readings", `{}`, append(h, "Content-Type", "text/plain")...), 415, "UNSUPPORTED_MEDIA_TYPE", "application/json")
}

// TestReadingsNeverOKWithNothingStored: a batch FreshTrack refuses as a
// whole (implausible values) is 422, not a 200 that stores nothing; a
// resent batch is stored already and says so.
func TestReadingsNeverOKWithNothingStored(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := []string{"X-API-Key", seedSecret}
	unit := w.units["probe"]
	a := w.post(t, "/api/ingest/readings", body(seedReading(unit, at(0), 500), seedReading(unit, time.Now().Add(time.Hour), 3)), h...)
	wantError(t, "implausible", a, 422, "UNPROCESSABLE_ENTITY", "no reading could be stored: reading 0:")
	if len(a.Error.Details) != 2 || a.Error.Details[1].Field != "readings.1" || !strings.Contains(a.Error.Details[1].Message, "future") {
		t.Fatalf("details %+v", a.Error.Details)
	}
	b := body(seedReading(unit, at(1), 3), seedReading(unit, at(2), 500))
	a = w.post(t, "/api/ingest/readings", b, h...)
	wantStored(t, "one plausible", a, 1)
	if len(a.Rejected) != 1 || a.Rejected[0].Index != 1 || !strings.Contains(a.Rejected[0].Reason, "range") {
		t.Fatalf("rejected %+v", a.Rejected)
	}
	a = w.post(t, "/api/ingest/readings", b, h...)
	wantStored(t, "resent", a, 1)
	if a.Duplicates != 1 {
		t.Fatalf("resent: %s, want duplicates 1", a.raw)
	}
	if got := w.stored(t); len(got) != 1 {
		t.Fatalf("stored %v", got)
	}
}
