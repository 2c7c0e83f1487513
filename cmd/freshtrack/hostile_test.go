package main

// A hostile-input suite through the real binary: every route of the OpenAPI
// document serve publishes (so that a new route is covered without touching
// this file) gets a gzip bomb, an oversized body (with Content-Length and
// chunked), invalid UTF-8, truncated JSON and a wrong content type, without
// credentials and with each credential the route takes. Each must be
// answered 4xx within a second in the error shape the route documents
// (problem+json; FreshTrack Pro's {"error":{...}} under application/json on
// its legacy routes), serve's peak RSS must stay under 256 MiB, and no
// stored row may change.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

const (
	hostileAnswerWithin = time.Second
	hostileRSSLimit     = 256 << 20
	// hostileWorkers probes in parallel: enough to finish in well under a
	// minute, few enough that serve's peak RSS measures the limits of its
	// body handling rather than of the machine.
	hostileWorkers = 4
	// hostileBombBytes decoded, about 1 MiB on the wire.
	hostileBombBytes = 1 << 30
	// hostileBigBytes is over every body limit serve has: 1 MiB for JSON
	// routes, 8 MiB for ingest, and the 17 MiB it reads at most.
	hostileBigBytes = 17 << 20
	// hostileMarker stands where a probe puts its invalid bytes, inside the
	// string values of each route's valid body.
	hostileMarker = "@@HOSTILE@@"
	// hostileEUI is the fixture sensor's external id, which a TTN uplink
	// names as its dev_eui.
	hostileEUI = "70B3D57ED005A1B2"
	// hostileStripeSecret signs the Stripe webhook's probes.
	hostileStripeSecret = "whsec_hostile"
	// hostileLegacySecret is the fixture's FreshTrack Pro secret.
	hostileLegacySecret = "hostile-seed-webhook-secret-0123456789"
)

var hostileKinds = []string{"gzip-bomb", "oversized", "oversized-chunked", "invalid-utf8", "truncated-json", "wrong-content-type"}

// hostileVolatile are the tables serve changes by itself while nothing is
// stored through it (seen in both storage modes), each with the reason.
var hostileVolatile = map[string]string{
	"river_job":    "the periodic sweep, rollup and upkeep jobs are inserted and completed",
	"river_leader": "the River leader renews its lease every few seconds",
	"rollup_state": "the rollup job records every run, every 5 s, whether or not there is anything to roll up",
}

// hostileBookkeeping are the columns that authenticating a request writes,
// whatever the request is then refused for.
var hostileBookkeeping = map[string][]string{
	"api_keys":       {"last_used_at"}, // at most once a minute per key in use
	"legacy_secrets": {"last_used_at"}, // likewise
	"users":          {"updated_at"},   // on a token's first use in a process
}

// TestHostileInputOnEveryRoute proves that hostile bodies are refused, on
// every route, cheaply and without effect.
func TestHostileInputOnEveryRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	telnyxPub, telnyxKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	// Billing is on, with a Stripe nobody answers at: every probe must be
	// refused before anything would call it.
	p := startServe(t, "hostile", dbURL, []string{"FRESHTRACK_TELNYX_PUBLIC_KEY=" + base64.StdEncoding.EncodeToString(telnyxPub),
		"FRESHTRACK_STRIPE_SECRET_KEY=sk_test_hostile", "FRESHTRACK_STRIPE_WEBHOOK_SECRET=" + hostileStripeSecret, "FRESHTRACK_STRIPE_API_URL=http://127.0.0.1:1"},
		"--dev-auth", "--dev-auth-key", keyFile)
	fx := newHostileFixture(t, pool, p, keyFile)
	fx.telnyxKey = telnyxKey
	routes := hostileRoutes(t, p, fx)
	legacy := 0
	for _, rt := range routes {
		if rt.errorMedia == "application/json" {
			legacy++
		}
	}
	if legacy < 7 {
		t.Fatalf("%d routes document FreshTrack Pro's error shape, want FreshTrack Pro's 7 legacy routes", legacy)
	}
	pl := newHostilePayloads(t)

	before := tableChecksums(t, pool)
	atRest, err := peakRSS(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var outs []hostileOutcome
	// A server that ignores a body does what the request says; deleting
	// last, and the organisation itself very last, keeps every other probe
	// meaningful against such a server.
	for phase := range 3 {
		var jobs []hostileJob
		for _, rt := range routes {
			if rt.phase() != phase {
				continue
			}
			for _, c := range rt.creds {
				for _, k := range hostileKinds {
					jobs = append(jobs, hostileJob{rt, c, k})
				}
			}
		}
		outs = append(outs, runHostile(p.addr, pl, fx, jobs)...)
	}
	elapsed := time.Since(start)
	after := tableChecksums(t, pool)

	select {
	case <-p.done:
		t.Fatalf("serve exited during the probes: %v\n%s", p.err, p.logTail(40))
	default:
	}
	hwm, err := peakRSS(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d routes, %d probes in %v; serve's peak RSS (VmHWM) %.1f MiB, %.1f MiB before the probes",
		len(routes), len(outs), elapsed.Round(time.Millisecond), float64(hwm)/(1<<20), float64(atRest)/(1<<20))
	t.Log(hostileSummary(outs))

	var failed []string
	for _, o := range outs {
		if o.verdict != "" {
			failed = append(failed, o.String())
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d probes were not refused with 4xx in their documented error shape within %v:\n%s", len(failed), len(outs), hostileAnswerWithin, strings.Join(failed, "\n"))
	}
	if hwm >= hostileRSSLimit {
		t.Errorf("serve's peak RSS is %.1f MiB, want under %d MiB", float64(hwm)/(1<<20), hostileRSSLimit>>20)
	}
	var changed []string
	for _, table := range slices.Sorted(maps.Keys(before)) {
		if after[table] != before[table] {
			changed = append(changed, fmt.Sprintf("%s (%s → %s)", table, before[table], after[table]))
		}
	}
	if len(changed) > 0 {
		t.Errorf("hostile probes changed stored data in %d tables:\n%s", len(changed), strings.Join(changed, "\n"))
	}
}

// hostileFixture is one organisation with a row behind every {id} a route
// can name, and the credentials of each kind.
type hostileFixture struct {
	org       string
	ids       map[string]string // path segment before {id} → that resource's id
	apiKey    string
	roles     []hostileCred // a bearer token per role
	telnyxKey ed25519.PrivateKey
}

type hostileCred struct {
	name   string
	bearer string // Authorization: Bearer, when set
	telnyx bool   // sign the body as Telnyx does
	stripe bool   // sign the body as Stripe does
	// header is a credential header sent as it is ("X-Webhook-Secret: ...").
	header string
}

// newHostileFixture creates the organisation through SQL and the auth
// package before serve sees any probe. Every alert rule kind but temp_high
// is disabled and the alert is acknowledged, so that the alerting sweep has
// no reason to touch the fixture while the probes run; the digest
// subscription is disabled for the same reason.
func newHostileFixture(t *testing.T, pool *pgxpool.Pool, p *serveProc, keyFile string) *hostileFixture {
	t.Helper()
	ctx := context.Background()
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Hostile kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gateway", Scopes: []string{"ingest"}})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := auth.CreateLegacySecret(ctx, pool, org.ID, hostileLegacySecret, auth.LegacySourceWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	fx := &hostileFixture{org: org.ID, apiKey: key.Key, ids: map[string]string{"api-keys": key.APIKey.ID, "legacy-secrets": legacy}}
	for _, role := range []auth.Role{auth.Viewer, auth.Staff, auth.Manager, auth.Admin, auth.Owner} {
		tok, err := mintDevToken(ctx, pool, keyFile, p.addr, org.ID, role, string(role)+"@hostile.test", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		fx.roles = append(fx.roles, hostileCred{name: string(role), bearer: tok})
	}
	// members/{id} names someone other than the callers.
	if _, err := mintDevToken(ctx, pool, keyFile, p.addr, org.ID, auth.Staff, "member@hostile.test", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		// row runs one statement unless one failed; with a segment it
		// stores the id the statement returns as that segment's {id}.
		row := func(segment, sql string, args ...any) {
			if err != nil {
				return
			}
			if segment == "" {
				_, err = tx.Exec(ctx, sql, args...)
				return
			}
			var v string
			err = tx.QueryRow(ctx, sql, args...).Scan(&v)
			fx.ids[segment] = v
		}
		ids := fx.ids
		row("members", `SELECT id FROM users WHERE email = 'member@hostile.test'`)
		row("sites", `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Harbour', 'Europe/Berlin') RETURNING id`, org.ID)
		row("areas", `INSERT INTO areas (org_id, site_id, name) VALUES ($1, $2, 'Cold room') RETURNING id`, org.ID, ids["sites"])
		row("units", `
			INSERT INTO units (org_id, site_id, area_id, name, kind, safe_min_c, safe_max_c)
			VALUES ($1, $2, $3, 'Walk-in', 'walk_in', 0, 5) RETURNING id`, org.ID, ids["sites"], ids["areas"])
		row("sensors", `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3) RETURNING public_id`, org.ID, hostileEUI, ids["units"])
		row("alert-rules", `
			INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, severity)
			VALUES ($1, $2, 'temp_high', 5, 300, 'critical') RETURNING id`, org.ID, ids["units"])
		row("", `
			INSERT INTO alert_rules (org_id, unit_id, kind, threshold, enabled)
			VALUES ($1, $2, 'temp_low', 0, false), ($1, $2, 'sensor_offline', 30, false),
			       ($1, $2, 'battery_low', 15, false), ($1, $2, 'sensor_fault', 0, false)`, org.ID, ids["units"])
		row("inspector-links", `
			INSERT INTO inspector_links (org_id, name, prefix, token_hash, site_ids, expires_at)
			VALUES ($1, 'Inspector', 'hostil', sha256('hostile-inspector'::bytea), ARRAY[$2::uuid], now() + interval '1 day') RETURNING id`, org.ID, ids["sites"])
		row("contacts", `
			INSERT INTO contacts (org_id, site_id, name, phone, role, on_shift)
			VALUES ($1, $2, 'Line cook', '+15550100', 'staff', true) RETURNING id`, org.ID, ids["sites"])
		row("escalation-policies", `
			INSERT INTO escalation_policies (org_id, site_id, name, steps)
			VALUES ($1, $2, 'Day shift', '[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]') RETURNING id`, org.ID, ids["sites"])
		row("notification-policies", `
			INSERT INTO notification_policies (org_id, site_id, name, steps)
			VALUES ($1, $2, 'Harbour', '[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]') RETURNING id`, org.ID, ids["sites"])
		row("alerts", `
			INSERT INTO alerts (org_id, unit_id, rule_id, sensor_id, kind, severity, status, started_at, opened_at, peak_c, acknowledged_at)
			SELECT $1, $2, $3, id, 'temp_high', 'critical', 'acknowledged', now() - interval '1 hour', now() - interval '55 minutes', 7.5,
			       now() - interval '50 minutes'
			  FROM sensors WHERE public_id = $4
			RETURNING id`, org.ID, ids["units"], ids["alert-rules"], ids["sensors"])
		row("corrective-actions", `
			INSERT INTO corrective_actions (org_id, unit_id, alert_id, action, disposition, taken_at)
			VALUES ($1, $2, $3, 'moved stock to the cold store', 'moved', now() - interval '40 minutes') RETURNING id`, org.ID, ids["units"], ids["alerts"])
		// The row a signed Telnyx delivery report would update.
		row("", `
			INSERT INTO notifications (org_id, alert_id, contact_id, channel, recipient, status, provider_id, attempts, dedupe_key, sent_at)
			VALUES ($1, $2, $3, 'sms', '+15550100', 'sent', 'hostile-msg', 1, 'hostile-1', now())`, org.ID, ids["alerts"], ids["contacts"])
		row("", `INSERT INTO manual_checks (org_id, unit_id, checked_at, temp_c, notes) VALUES ($1, $2, now() - interval '2 hours', 3.5, 'probe')`,
			org.ID, ids["units"])
		// Ended, so that no detector has a reason to touch it.
		row("cooling", `
			INSERT INTO cooling_logs (org_id, unit_id, source, started_at, stage1_deadline, stage2_deadline, status, ended_at)
			VALUES ($1, $2, 'detected', now() - interval '8 hours', now() - interval '6 hours', now() - interval '2 hours', 'passed', now() - interval '5 hours')
			RETURNING id`, org.ID, ids["units"])
		row("", `
			INSERT INTO digest_subscriptions (org_id, user_id, frequency, timezone, email, enabled)
			SELECT $1, id, 'daily', 'Europe/Berlin', email, false FROM users WHERE email = 'owner@hostile.test'`, org.ID)
		return err
	})
	if err != nil {
		t.Fatalf("create the fixture: %v", err)
	}
	return fx
}

// hostileRoute is one path × method of the OpenAPI document, parameters
// filled in.
type hostileRoute struct {
	method, pattern, target string
	body                    string // a valid body, hostileMarker inside its free-text values
	creds                   []hostileCred
	// errorMedia is the media type the route documents for its 400:
	// problem+json, or application/json for FreshTrack Pro's shape.
	errorMedia string
}

func (rt hostileRoute) phase() int {
	switch {
	case rt.method != "DELETE":
		return 0
	case strings.HasSuffix(rt.pattern, "{org}"):
		return 2
	}
	return 1
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// hostileRoutes reads the OpenAPI document of the running serve and fills
// in every route's parameters from the fixture. A parameter it cannot fill
// fails the test: a new kind of route needs a row in the fixture.
func hostileRoutes(t *testing.T, p *serveProc, fx *hostileFixture) []hostileRoute {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.base() + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Security   []map[string]any `json:"security"`
			Parameters []struct {
				Name, In, Description string
				Required              bool
			} `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Paths) == 0 {
		t.Fatalf("GET /v1/openapi.json: status %d, %v", resp.StatusCode, err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	var routes []hostileRoute
	for pattern, item := range doc.Paths {
		for method, op := range item {
			rt := hostileRoute{method: strings.ToUpper(method), pattern: pattern}
			var missing []string
			segments := strings.Split(pattern, "/")
			for i, seg := range segments {
				m := pathParam.FindStringSubmatch(seg)
				switch {
				case m == nil:
				case m[1] == "org" || m[1] == "orgId":
					segments[i] = fx.org
				case m[1] == "frequency":
					segments[i] = "daily"
				case m[1] == "unit":
					segments[i] = fx.ids["units"]
				case m[1] == "id" && fx.ids[segments[i-1]] != "":
					segments[i] = fx.ids[segments[i-1]]
				default:
					missing = append(missing, seg)
				}
			}
			var query []string
			for _, q := range op.Parameters {
				if q.In != "query" || !q.Required && !strings.Contains(q.Description, "(required)") {
					continue
				}
				switch {
				case fx.ids[q.Name+"s"] != "":
					query = append(query, q.Name+"="+fx.ids[q.Name+"s"])
				case strings.Contains(q.Description, "day"): // "first day, YYYY-MM-DD", "last day"
					query = append(query, q.Name+"="+today)
				default:
					missing = append(missing, "?"+q.Name)
				}
			}
			if len(missing) > 0 {
				t.Errorf("%s %s: the fixture has no value for %s; give it one", rt.method, pattern, strings.Join(missing, ", "))
				continue
			}
			rt.target = strings.Join(segments, "/")
			if len(query) > 0 {
				rt.target += "?" + strings.Join(query, "&")
			}
			var schema map[string]any
			if op.RequestBody != nil {
				schema = op.RequestBody.Content["application/json"].Schema
			}
			rt.body = hostileBody(pattern, schema, fx.ids)
			rt.errorMedia = "application/problem+json"
			if _, ok := op.Responses["400"].Content["application/json"]; ok {
				rt.errorMedia = "application/json"
			}
			none := hostileCred{name: "none"}
			switch {
			case len(op.Security) == 0:
				rt.creds = []hostileCred{none}
				if pattern == "/v1/webhooks/telnyx" {
					rt.creds = append(rt.creds, hostileCred{name: "telnyx-signed", telnyx: true})
				}
				if pattern == "/v1/webhooks/stripe" {
					rt.creds = append(rt.creds, hostileCred{name: "stripe-signed", stripe: true})
				}
			case op.Security[0]["legacySecret"] != nil:
				rt.creds = []hostileCred{none, {name: "api-key", bearer: fx.apiKey},
					{name: "legacy-secret", header: "X-Webhook-Secret: " + hostileLegacySecret},
					{name: "legacy-raw-auth", header: "Authorization: " + hostileLegacySecret}}
			case op.Security[0]["apiKey"] != nil:
				rt.creds = []hostileCred{none, {name: "api-key", bearer: fx.apiKey}}
			default:
				rt.creds = append([]hostileCred{none}, fx.roles...)
			}
			routes = append(routes, rt)
		}
	}
	slices.SortFunc(routes, func(a, b hostileRoute) int { return strings.Compare(a.pattern+" "+a.method, b.pattern+" "+b.method) })
	return routes
}

// hostileBody is a valid body for the route, so that each probe differs
// from an acceptable request only by its hostile part. The bodies of
// ingest and the Telnyx webhook are spelt out: the document does not
// describe them (or which sensor exists). Others follow the route's
// request schema; a route without one gets a small object, which it must
// refuse too. A body need not pass every check of its route (a PATCH lacks
// its version): the probes decide what is refused, not whether.
func hostileBody(pattern string, schema map[string]any, ids map[string]string) string {
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	switch pattern {
	case "/v1/readings":
		return `{"readings":[{"sensor":"` + hostileEUI + `","time":"` + now + `","temp_c":3,"note":"ok` + hostileMarker + `"}]}`
	case "/v1/ingest/ttn", "/api/webhooks/ttn", "/api/webhooks/ttn/{orgId}/uplink", "/api/webhooks/ttn/{orgId}/join":
		return `{"end_device_ids":{"device_id":"walk-in` + hostileMarker + `","dev_eui":"` + hostileEUI + `"},"received_at":"` + now +
			`","uplink_message":{"decoded_payload":{"temperature":3.1}}}`
	case "/api/ingest/readings":
		return `{"readings":[{"unitId":"` + ids["units"] + `","temperature":3,"recordedAt":"` + now +
			`","rawPayload":"ok` + hostileMarker + `"}]}`
	case "/v1/webhooks/telnyx":
		return `{"data":{"event_type":"message.finalized","id":"ev-1` + hostileMarker + `","occurred_at":"` + now +
			`","payload":{"id":"hostile-msg","to":[{"status":"delivered"}]}}}`
	case "/v1/webhooks/stripe":
		return `{"id":"evt_hostile` + hostileMarker + `","object":"event","type":"invoice.paid","api_version":"2023-10-16","created":` +
			strconv.FormatInt(time.Now().Unix(), 10) + `,"data":{"object":{"id":"in_hostile","customer":"cus_nobody"}}}`
	}
	obj, _ := schemaExample("", schema, ids).(map[string]any)
	body, _ := json.Marshal(obj)
	if !bytes.Contains(body, []byte(hostileMarker)) {
		// No free text: the marker goes into the first string there is.
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if v, ok := obj[k].(string); ok {
				obj[k] = v + hostileMarker
				break
			}
		}
		body, _ = json.Marshal(obj)
	}
	if !bytes.Contains(body, []byte(hostileMarker)) {
		return `{"name":"Walk-in` + hostileMarker + `"}`
	}
	return string(body)
}

// schemaExample is a value of the JSON Schema s: objects with their
// required properties and their strings (a reference x_id holds the
// fixture's x), the first of an enum, the lower bound of a number, free text
// with hostileMarker.
func schemaExample(name string, s map[string]any, ids map[string]string) any {
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	switch typeOf(s) {
	case "object":
		props, _ := s["properties"].(map[string]any)
		required, _ := s["required"].([]any)
		out := map[string]any{}
		for k, v := range props {
			ps, _ := v.(map[string]any)
			free := typeOf(ps) == "string" && ps["enum"] == nil
			if ps["readOnly"] == true || !slices.Contains(required, any(k)) && !free {
				continue
			}
			out[k] = schemaExample(k, ps, ids)
		}
		return out
	case "array":
		if items, ok := s["items"].(map[string]any); ok {
			return []any{schemaExample(name, items, ids)}
		}
		return []any{}
	case "number", "integer":
		if lo, ok := s["minimum"].(float64); ok && lo > 0 {
			return lo
		}
		return 0
	case "boolean":
		return false
	}
	switch {
	case s["format"] == "uuid":
		if id := ids[strings.TrimSuffix(name, "_id")+"s"]; id != "" {
			return id
		}
		return "00000000-0000-4000-8000-000000000000"
	case s["format"] == "email":
		return "cook@hostile.test"
	case s["format"] == "date-time":
		return time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	case s["pattern"] != nil:
		return "+15550100" // the only pattern is a phone number's
	case name == "timezone":
		return "Europe/Berlin"
	case typeOf(s) == "string":
		return "Walk-in" + hostileMarker
	}
	return nil
}

// typeOf is a schema's type; of a list, the first (the document lists
// null last).
func typeOf(s map[string]any) string {
	if l, ok := s["type"].([]any); ok && len(l) > 0 {
		return fmt.Sprint(l[0])
	}
	t, _ := s["type"].(string)
	return t
}

// tableChecksums is the row count and a digest of the rows of every table
// in schema public (partitions through their parent), but hostileVolatile
// and hostileBookkeeping.
func tableChecksums(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, table := range tables {
		if _, ok := hostileVolatile[table]; ok {
			continue
		}
		var n int64
		var sum string
		err := pool.QueryRow(ctx, `
			SELECT count(*), coalesce(md5(string_agg(md5(r), '' ORDER BY md5(r))), '')
			  FROM (SELECT (to_jsonb(t) - coalesce($1::text[], '{}'))::text AS r FROM public.`+pgx.Identifier{table}.Sanitize()+` t) rows`,
			hostileBookkeeping[table]).Scan(&n, &sum)
		if err != nil {
			t.Fatalf("checksum %s: %v", table, err)
		}
		sums[table] = fmt.Sprintf("%d rows %.8s", n, sum)
	}
	return sums
}

// peakRSS is VmHWM of a process, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}
