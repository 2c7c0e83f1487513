package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/live"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/schema"
)

// world is an API on a test database with a development issuer, users of
// every role and an outsider.
type world struct {
	pool   *pgxpool.Pool
	app    *fiber.App
	router *api.Router
	dev    *auth.DevIssuer
	users  map[string]auth.User // role name or "outsider" -> user
	tokens map[string]string
	store  *schema.Store
	unsub  *notify.Unsubscriber
	notify *notify.Service
	t      *testing.T
}

var quiet = slog.New(slog.DiscardHandler)

// newWorld builds the world; with a billing service (withBilling), the
// billing routes and the sensor limits are mounted too.
func newWorld(t *testing.T, opts ...func(*world) *billing.Service) *world {
	t.Helper()
	pool := pgtest.NewDB(t)
	w := &world{pool: pool, users: map[string]auth.User{}, tokens: map[string]string{}, t: t}
	jwks := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = rw.Write(w.dev.JWKS())
	}))
	t.Cleanup(jwks.Close)
	var err error
	w.dev, err = auth.LoadDevIssuer(t.TempDir()+"/key.pem", "http://127.0.0.1:1/dev-oidc")
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.NewUserVerifier(auth.OIDCConfig{Issuer: w.dev.Issuer(), Audience: auth.DevAudience, JWKSURL: jwks.URL}, pool)
	if err != nil {
		t.Fatal(err)
	}
	if w.store, err = schema.OpenStore(context.Background(), pool, quiet); err != nil {
		t.Fatal(err)
	}
	w.app = api.New(api.Config{Pool: pool, Logger: quiet})
	// Streams end as soon as they opened (a reset asking to reconnect), so
	// that the matrix reads the events route's whole answer.
	hub := live.NewHub(live.HubConfig{MaxAge: time.Nanosecond})
	t.Cleanup(hub.Close)
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if w.unsub, err = notify.NewUnsubscriber([]byte("route-matrix-unsubscribe-key-0123456789"), "https://freshtrack.example"); err != nil {
		t.Fatal(err)
	}
	w.notify = &notify.Service{DB: pool, Jobs: jobs, Unsubscribe: w.unsub}
	deps := api.Deps{Pool: pool, Users: users, Logger: quiet, Live: hub, Notify: w.notify}
	for _, o := range opts {
		deps.Billing = o(w)
	}
	w.router = api.NewRouter(w.app, deps)
	api.RegisterV1(w.router)
	w.router.ServeOpenAPI("test", api.OperationalRoutes()...)
	api.NotFound(w.app)
	for _, who := range []string{"viewer", "staff", "manager", "admin", "owner", "outsider", "target", "newcomer", "stranger"} {
		email := who + "@example.com"
		u, err := auth.UpsertUser(context.Background(), pool, w.dev.Issuer(), "sub-"+who, email, who)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := w.dev.Mint("sub-"+who, email, who, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.users[who], w.tokens[who] = u, tok
	}
	return w
}

// fixture makes an organisation where every role user is a member, with one
// of each resource; it returns the ids, keyed as the routes' examples expect.
func (w *world) fixture(t *testing.T) map[string]string { return w.fixtureFor(t, true) }

// foreign makes an organisation none of the test users belongs to.
func (w *world) foreign(t *testing.T) map[string]string { return w.fixtureFor(t, false) }

func (w *world) fixtureFor(t *testing.T, members bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	ids := map[string]string{"nonce": hex.EncodeToString(nonce), "newcomer_email": "newcomer@example.com"}
	q := func(key, sql string, args ...any) {
		t.Helper()
		var id string
		if err := w.pool.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			t.Fatalf("fixture %s: %v", key, err)
		}
		ids[key] = id
	}
	q("org", `INSERT INTO organizations (name) VALUES ('Org ' || $1) RETURNING id`, ids["nonce"])
	if members {
		for _, role := range []string{"viewer", "staff", "manager", "admin", "owner"} {
			if _, err := w.pool.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)`, ids["org"], w.users[role].ID, role); err != nil {
				t.Fatal(err)
			}
			if _, err := w.pool.Exec(ctx, `INSERT INTO digest_subscriptions (org_id, user_id, frequency, timezone, email) VALUES ($1, $2, 'daily', 'UTC', $3)`,
				ids["org"], w.users[role].ID, role+"@example.com"); err != nil {
				t.Fatal(err)
			}
		}
	}
	target := "target"
	if !members {
		target = "stranger"
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'staff')`, ids["org"], w.users[target].ID); err != nil {
		t.Fatal(err)
	}
	ids["member"] = w.users[target].ID
	q("site", `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Main', 'Europe/Berlin') RETURNING id`, ids["org"])
	q("bare_site", `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Empty', 'UTC') RETURNING id`, ids["org"])
	q("area", `INSERT INTO areas (org_id, site_id, name) VALUES ($1, $2, 'Kitchen') RETURNING id`, ids["org"], ids["site"])
	q("unit", `INSERT INTO units (org_id, site_id, area_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, 'Fridge', 'fridge', 0, 5) RETURNING id`, ids["org"], ids["site"], ids["area"])
	q("bare_unit", `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Spare', 'freezer', -30, -15) RETURNING id`, ids["org"], ids["site"])
	q("bare_rule", `INSERT INTO alert_rules (org_id, unit_id, kind, threshold) VALUES ($1, $2, 'temp_high', -15) RETURNING id`, ids["org"], ids["bare_unit"])
	q("sensor", `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, 'S-' || $2, $3) RETURNING public_id`, ids["org"], ids["nonce"], ids["unit"])
	// A blast chiller free to start a cooling cycle, and another running one.
	q("chiller", `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Chiller', 'blast_chiller', -40, 5) RETURNING id`, ids["org"], ids["site"])
	q("cooling_unit", `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Pass', 'hot_holding', 63, 90) RETURNING id`, ids["org"], ids["site"])
	q("cooling_log", `INSERT INTO cooling_logs (org_id, unit_id, source, started_at, stage1_deadline, stage2_deadline)
		VALUES ($1, $2, 'manual', now() - interval '10 minutes', now() + interval '110 minutes', now() + interval '350 minutes') RETURNING id`, ids["org"], ids["cooling_unit"])
	w.probeReadings(t, ids)
	q("rule", `INSERT INTO alert_rules (org_id, unit_id, kind, threshold) VALUES ($1, $2, 'temp_high', 5) RETURNING id`, ids["org"], ids["unit"])
	q("alert", `INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at) VALUES ($1, $2, $3, 'temp_high', 'critical', now() - interval '20 minutes') RETURNING id`, ids["org"], ids["unit"], ids["rule"])
	q("corrective_action", `INSERT INTO corrective_actions (org_id, unit_id, alert_id, action, disposition, taken_by)
		VALUES ($1, $2, $3, 'moved stock to the walk-in', 'moved', $4) RETURNING id`, ids["org"], ids["unit"], ids["alert"], w.users["staff"].ID)
	q("policy", `INSERT INTO escalation_policies (org_id, name, steps) VALUES ($1, 'Default', '[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]') RETURNING id`, ids["org"])
	q("contact", `INSERT INTO contacts (org_id, name, phone) VALUES ($1, 'Pat', '+15550001111') RETURNING id`, ids["org"])
	q("npolicy", `INSERT INTO notification_policies (org_id, name, steps) VALUES ($1, 'Everything', '[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]') RETURNING id`, ids["org"])
	// Everyone has a phone code pending, so that POST /v1/me/phone/confirm
	// with the example code succeeds for whoever calls it.
	for _, u := range w.users {
		const phone = "+15550009999"
		// Sent a while ago, so that a test asking for a new code is not
		// held back by the resend spacing.
		if _, err := w.pool.Exec(ctx, `INSERT INTO phone_verifications (user_id, phone, code_hash, sent_at, expires_at)
VALUES ($1, $2, $3, now() - interval '2 minutes', now() + interval '8 minutes')
ON CONFLICT (user_id) DO UPDATE SET phone = EXCLUDED.phone, code_hash = EXCLUDED.code_hash, attempts = 0, sent_at = EXCLUDED.sent_at, expires_at = EXCLUDED.expires_at`,
			u.ID, phone, notify.PhoneCodeHash(w.unsub, u.ID, phone, api.TestPhoneCode)); err != nil {
			t.Fatal(err)
		}
	}
	k, err := auth.CreateAPIKey(ctx, w.pool, auth.CreateAPIKeyParams{OrgID: ids["org"], Name: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	ids["key"] = k.APIKey.ID
	if ids["legacy_secret"], err = auth.CreateLegacySecret(ctx, w.pool, ids["org"], "seed-secret-"+ids["nonce"]+ids["org"][:8], auth.LegacySourceWebhookSecret); err != nil {
		t.Fatal(err)
	}
	// An inspector link for the site (inspect_test.go's matrix uses its
	// secret).
	link, err := auth.CreateInspectorLink(ctx, w.pool, auth.CreateInspectorLinkParams{OrgID: ids["org"], Name: "EHO " + ids["nonce"],
		SiteIDs: []string{ids["site"]}, ExpiresAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ids["inspector_link"], ids["inspector_token"] = link.ID, link.Token
	return ids
}

// probeReadings gives the fixture's bare unit a probe with three readings
// of the last hours, one out of its range, and its latest value, so that
// the series, latest and report answers have something in them.
func (w *world) probeReadings(t *testing.T, ids map[string]string) {
	t.Helper()
	ctx := context.Background()
	var sensor int64
	if err := w.pool.QueryRow(ctx, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, 'P-' || $2, $3) RETURNING id`,
		ids["org"], ids["nonce"], ids["bare_unit"]).Scan(&sensor); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	times := []time.Time{now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Hour)}
	if err := w.store.EnsurePartitions(ctx, times...); err != nil {
		t.Fatal(err)
	}
	for i, temp := range []float64{-18.25, -12.5, -18.125} {
		if _, err := w.pool.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c, humidity, battery) VALUES ($1, $2, $3, 61.5, 88)`, times[i], sensor, temp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO sensor_latest (sensor_id, time, temp_c, battery) VALUES ($1, $2, -18.125, 88)`, sensor, times[2]); err != nil {
		t.Fatal(err)
	}
}

func (w *world) do(t *testing.T, method, path, who string, body any, headers ...string) (int, string) {
	t.Helper()
	code, _, out := w.doHeader(t, method, path, who, body, headers...)
	return code, out
}

// doHeader is do that also returns the answer's headers.
func (w *world) doHeader(t *testing.T, method, path, who string, body any, headers ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		// A token minted now: its auth_time is recent, as signing a
		// record needs (auth.FreshAuth), however long the suite runs.
		tok, err := w.dev.Mint("sub-"+who, who+"@example.com", who, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := w.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRouteRoleMatrix calls every registered route as every role, in the
// caller's own organisation, in another organisation, and with another
// organisation's resource id, and checks the status the permission matrix
// prescribes.
func TestRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withBilling(10))
	roles := []string{"viewer", "staff", "manager", "admin", "owner", "outsider"}
	routes := w.router.Routes()
	var cases atomic.Int64
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			t.Parallel()
			for _, who := range roles {
				own := w.fixture(t)
				other := w.foreign(t)
				var body any
				if rt.Example != nil {
					body = rt.Example(own)
				}
				ifMatch := []string{"If-Match", `"1"`}
				want := rt.Success
				role := auth.Role(who)
				orgScoped := strings.HasPrefix(rt.Path, "/v1/orgs/:org")
				switch {
				case rt.Public:
				case orgScoped && who == "outsider":
					want = 404
				case orgScoped && !role.Can(rt.Perm):
					want = 403
				}
				code, header, out := w.doHeader(t, rt.Method, withQuery(rt, concrete(rt.Path, own, own["org"]), own), who, body, ifMatch...)
				if code != want {
					t.Errorf("%s as %s in own org: %d %s, want %d", rt.Method, who, code, out, want)
				}
				if code == rt.Success {
					checkAnswer(t, rt, header, out)
				}
				cases.Add(1)
				if !orgScoped {
					continue
				}
				// Another organisation: not a member, so it does not exist.
				var otherBody any
				if rt.Example != nil {
					otherBody = rt.Example(other)
				}
				code, out = w.do(t, rt.Method, withQuery(rt, concrete(rt.Path, other, other["org"]), other), who, otherBody, ifMatch...)
				if code != 404 {
					t.Errorf("%s as %s in another org: %d %s, want 404", rt.Method, who, code, out)
				}
				cases.Add(1)
				// Own organisation's path, another organisation's resource.
				if strings.Contains(rt.Path, ":id") && who != "outsider" {
					wantForeign := 404
					if !role.Can(rt.Perm) {
						wantForeign = 403
					}
					foreign := parentParams(strings.Replace(strings.Replace(rt.Path, ":org", own["org"], 1), ":id", idFor(rt.Path, other), 1), own)
					code, out = w.do(t, rt.Method, withQuery(rt, foreign, other), who, body, ifMatch...)
					if code != wantForeign {
						t.Errorf("%s as %s with another org's id: %d %s, want %d", rt.Method, who, code, out, wantForeign)
					}
					cases.Add(1)
				}
			}
		})
	}
	t.Cleanup(func() { t.Logf("route × role matrix: %d routes, %d cases", len(routes), cases.Load()) })
}

// checkAnswer checks a route's successful answer: JSON is compact and
// conforms to the route's documented schema.
func checkAnswer(t *testing.T, rt api.Route, header http.Header, body string) {
	t.Helper()
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(body)); err != nil || compact.String() != strings.TrimSuffix(body, "\n") {
		t.Errorf("%s %s answers JSON that is not compact (%v): %.200s", rt.Method, rt.Path, err, body)
	}
	var schema map[string]any
	b, _ := json.Marshal(rt.Response)
	_ = json.Unmarshal(b, &schema)
	var v any
	_ = json.Unmarshal([]byte(body), &v)
	if schema == nil {
		t.Errorf("%s %s answers JSON but documents no schema", rt.Method, rt.Path)
	}
	for _, d := range conform(schema, v, "answer") {
		t.Errorf("%s %s: %s", rt.Method, rt.Path, d)
	}
}

// TestEveryRouteIsDocumentedAndInTheMatrix fails when a route is registered
// on the app without going through the router (so without the matrix test
// and the OpenAPI document).
func TestEveryRouteIsDocumentedAndInTheMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, out := w.do(t, "GET", "/v1/openapi.json", "", nil)
	if code != 200 {
		t.Fatalf("openapi.json = %d", code)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi document: %v %s", err, out[:min(len(out), 200)])
	}
	documented := func(method, path string) bool {
		ops, ok := doc.Paths[api.OpenAPIPath(path)]
		if !ok {
			return false
		}
		_, ok = ops[strings.ToLower(method)]
		return ok
	}
	for _, r := range w.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/" {
			continue
		}
		if !documented(r.Method, r.Path) {
			t.Errorf("route %s %s is missing from /v1/openapi.json", r.Method, r.Path)
		}
	}
	for _, rt := range w.router.Routes() {
		if !documented(rt.Method, rt.Path) {
			t.Errorf("router route %s %s is missing from the document", rt.Method, rt.Path)
		}
	}
}

// TestValidationNamesTheFieldAndWritesNothing sends every create and update
// of the generic resources with each kind of invalid field.
func TestValidationNamesTheFieldAndWritesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	other := w.foreign(t)
	bad := map[string][]any{
		"name":                       {"", strings.Repeat("x", 201), 42, nil},
		"timezone":                   {"Mars/Olympus", "", 3},
		"address":                    {strings.Repeat("y", 501), false},
		"manual_log_cadence_minutes": {14, 10081, 60.5, "hourly"},
		"site_id":                    {"not-a-uuid", other["site"], 7},
		"area_id":                    {"nope", other["area"]},
		"unit_id":                    {"xyz", other["unit"]},
		"kind":                       {"oven", 1, nil},
		"safe_min_c":                 {"cold", -1000, nil},
		"safe_max_c":                 {"hot", 1000},
		"external_id":                {"", strings.Repeat("e", 129)},
		"model":                      {true},
		"threshold":                  {"five", 99999},
		"confirm_seconds":            {1.5, -1, 100000},
		"hysteresis":                 {-1, "x"},
		"severity":                   {"panic"},
		"auto_resolve":               {"yes"},
		"enabled":                    {1},
		"unit_kind":                  {"sauna"},
		"steps":                      {"soon", []any{}, []any{map[string]any{"after_minutes": -1, "channels": []string{"sms"}, "roles": []string{"staff"}}}, []any{map[string]any{"after_minutes": 0, "channels": []string{"pigeon"}, "roles": []string{"staff"}}}},
		"phone":                      {"0151 123", "+0123", 49151},
		"email":                      {"chef-at-example", "a@b@c"},
		"role":                       {"chef"},
		"on_shift":                   {"sometimes"},
		"last_seen_at":               {"2026-01-01T00:00:00Z"},
		"battery":                    {50},
		"surprise":                   {1},
		"quiet_start":                {"25:00", "7pm"},
		"reminder_minutes":           {3, -1},
		"initial_channels":           {"sms", []string{"pigeon"}, []string{"sms", "sms"}},
		"alert_kind":                 {"sauna"},
		"ack_deadline_minutes":       {-1, 99999},
		"min_severity":               {"panic"},
	}
	tables := map[string]string{"sites": "sites", "areas": "areas", "units": "units", "sensors": "sensors", "alert-rules": "alert_rules",
		"escalation-policies": "escalation_policies", "contacts": "contacts", "notification-policies": "notification_policies"}
	count := func(table string) int {
		var n int
		if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := 0
	for _, rt := range w.router.Routes() {
		if rt.Example == nil || (rt.Method != "POST" && rt.Method != "PATCH") {
			continue
		}
		seg := strings.TrimPrefix(rt.Path, "/v1/orgs/:org/")
		seg = strings.TrimSuffix(seg, "/:id")
		table, ok := tables[seg]
		if !ok {
			continue
		}
		props := rt.Request["properties"].(map[string]any)
		for fieldName, values := range bad {
			if _, ok := props[fieldName]; !ok && fieldName != "surprise" && fieldName != "last_seen_at" && fieldName != "battery" {
				continue
			}
			if (fieldName == "last_seen_at" || fieldName == "battery") && seg != "sensors" {
				continue
			}
			for _, v := range values {
				if v == nil && nullable(props[fieldName]) {
					continue
				}
				nonce := make([]byte, 4)
				_, _ = rand.Read(nonce)
				ids["nonce"] = hex.EncodeToString(nonce)
				body := rt.Example(ids)
				body[fieldName] = v
				before := count(table)
				code, out := w.do(t, rt.Method, concrete(rt.Path, ids, ids["org"]), "owner", body, "If-Match", `"1"`)
				cases++
				var p struct {
					Errors []struct{ Field string } `json:"errors"`
				}
				_ = json.Unmarshal([]byte(out), &p)
				fields := []string{}
				for _, e := range p.Errors {
					fields = append(fields, e.Field)
				}
				if code != 400 || !slices.Contains(fields, fieldName) {
					t.Errorf("%s %s with %s=%v: %d %s, want 400 naming %s", rt.Method, seg, fieldName, v, code, out, fieldName)
				}
				if after := count(table); after != before {
					t.Errorf("%s %s with %s=%v wrote a row", rt.Method, seg, fieldName, v)
				}
			}
		}
	}
	t.Logf("%d invalid-field cases", cases)
	if cases < 100 {
		t.Fatalf("only %d cases ran; the table lost its routes", cases)
	}
}

func TestConcurrentEditsDoNotOverwrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	path := fmt.Sprintf("/v1/orgs/%s/units/%s", ids["org"], ids["unit"])
	code, out := w.do(t, "PATCH", path, "manager", map[string]any{"name": "No precondition"})
	if code != 428 {
		t.Fatalf("PATCH without If-Match = %d %s, want 428", code, out)
	}
	code, out = w.do(t, "PATCH", path, "manager", map[string]any{"name": "First"}, "If-Match", `"1"`)
	if code != 200 || !strings.Contains(out, `"version": 2`) && !strings.Contains(out, `"version":2`) {
		t.Fatalf("first edit = %d %s", code, out)
	}
	code, out = w.do(t, "PATCH", path, "manager", map[string]any{"name": "Second, from a stale read"}, "If-Match", `"1"`)
	if code != 412 {
		t.Fatalf("stale edit = %d %s, want 412", code, out)
	}
	code, out = w.do(t, "GET", path, "viewer", nil)
	if code != 200 || !strings.Contains(out, "First") {
		t.Fatalf("unit after the refused edit = %d %s", code, out)
	}
	// The audit trail recorded the change, and the chain verifies.
	n, _, err := auth.VerifyAudit(context.Background(), w.pool, ids["org"])
	if err != nil || n == 0 {
		t.Fatalf("audit: %d rows, %v", n, err)
	}
}

func TestSignInIsRequired(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	for _, tok := range []string{"", "garbage", w.tokens["owner"][:len(w.tokens["owner"])-4] + "AAAA"} {
		req := httptest.NewRequest("GET", "/v1/orgs/"+ids["org"]+"/units", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := w.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("token %q: %d %s", tok, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// The Stack Auth header works like Authorization.
	req := httptest.NewRequest("GET", "/v1/orgs/"+ids["org"]+"/units", nil)
	req.Header.Set("x-stack-access-token", w.tokens["viewer"])
	resp, err := w.app.Test(req, -1)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("x-stack-access-token: %v %v", resp.StatusCode, err)
	}
}

// nullable reports whether a JSON Schema allows null.
func nullable(schema any) bool {
	m, _ := schema.(map[string]any)
	types, _ := m["type"].([]string)
	return slices.Contains(types, "null")
}

// TestQueryErrorsNameTheParameter sends each query parameter a bad value:
// the validation problem names the parameter as the request spelt it, and
// the route documents a parameter of that name.
func TestQueryErrorsNameTheParameter(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	params := map[string][]string{} // "METHOD path" -> documented query parameters
	for _, rt := range w.router.Routes() {
		for _, p := range rt.Params {
			params[rt.Method+" "+rt.Path] = append(params[rt.Method+" "+rt.Path], p.Name)
		}
	}
	day := time.Now().UTC().Format(time.DateOnly)
	haccp := "site=" + ids["site"] + "&from=" + day + "&to=" + day
	for _, c := range []struct{ route, query, field string }{
		{"/v1/orgs/:org/alerts", "unit=fridge-1", "unit"},
		{"/v1/orgs/:org/alerts", "status=burning", "status"},
		{"/v1/orgs/:org/alerts", "from=yesterday", "from"},
		{"/v1/orgs/:org/alerts", "limit=0", "limit"},
		{"/v1/orgs/:org/alerts", "cursor=!!", "cursor"},
		{"/v1/orgs/:org/reports/haccp", haccp + "&units=K", "units"},
		{"/v1/orgs/:org/reports/haccp", haccp + "&format=xls", "format"},
		{"/v1/orgs/:org/reports/haccp", "site=" + ids["site"] + "&from=" + day + "&to=soon", "to"},
		{"/v1/orgs/:org/reports/haccp", "from=" + day + "&to=" + day, "site"},
		{"/v1/orgs/:org/units/:id/readings", "resolution=2m", "resolution"},
		{"/v1/orgs/:org/units/:id/readings", "from=noon", "from"},
		{"/v1/orgs/:org/notifications", "alert=7", "alert"},
		{"/v1/orgs/:org/units", "site_id=main", "site_id"},
		{"/v1/orgs/:org/units", "limit=500", "limit"},
		{"/v1/orgs/:org/sensors", "cursor=nope", "cursor"},
		{"/v1/orgs/:org/units/:id/cooling", "to=later", "to"},
		{"/v1/orgs/:org/units/:id/cooling", "cursor=nope", "cursor"},
		{"/v1/orgs/:org/units/:id/events", "kind=party", "kind"},
		{"/v1/orgs/:org/units/:id/events", "limit=201", "limit"},
		{"/v1/orgs/:org/units/:id/events", "from=dawn", "from"},
	} {
		code, out := w.do(t, "GET", concrete(c.route, ids, ids["org"])+"?"+c.query, "owner", nil)
		code, fields := fieldErrors(t, code, out)
		if _, ok := fields[c.field]; code != 400 || !ok || len(fields) != 1 {
			t.Errorf("GET %s?%s: %d naming %v, want 400 naming only %s", c.route, c.query, code, fields, c.field)
		}
		if !slices.Contains(params["GET "+c.route], c.field) {
			t.Errorf("GET %s documents the parameters %v, not %s", c.route, params["GET "+c.route], c.field)
		}
	}
}

func TestOrganisationTemperatureUnitIsCOrF(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	path := "/v1/orgs/" + ids["org"]
	for _, bad := range []any{"K", "f", 1} {
		code, body := w.do(t, "PATCH", path, "admin", map[string]any{"version": 1, "settings": map[string]any{"temperature_unit": bad}})
		if code != 400 || !strings.Contains(body, "temperature_unit") {
			t.Errorf("temperature_unit %v: %d %s", bad, code, body)
		}
	}
	code, body := w.do(t, "PATCH", path, "admin", map[string]any{"version": 1, "settings": map[string]any{"temperature_unit": "F", "auto_register_sensors": true}})
	if code != 200 || !strings.Contains(body, `"temperature_unit":"F"`) {
		t.Fatalf("set °F: %d %s", code, body)
	}
	if code, body := w.do(t, "GET", path, "viewer", nil); code != 200 || !strings.Contains(body, `"temperature_unit":"F"`) {
		t.Errorf("read back: %d %s", code, body)
	}
}
