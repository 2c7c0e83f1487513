package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// Secrets as FreshTrack Pro had them: its settings page's webhook secret,
// and the one it put on the TTN webhooks it provisioned.
const (
	legacyWebhookSecret = "whsec_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"
	legacyTTNSecret     = "ttn-provisioned-6b0d2f4a8c1e3b5d7f9a"
	legacyEUI           = "A84041000181B6F1"
)

// TestLegacyDevicesKeepDelivering is the "done when" through the
// binary: a FreshTrack Pro device's post and a TTN uplink of a webhook
// FreshTrack Pro provisioned land in FreshTrack unchanged, are evaluated
// like native readings (out of range, they open alerts), FreshTrack Pro's
// monitors see /health, and a secret revoked with the CLI stops working
// within the cache TTL.
func TestLegacyDevicesKeepDelivering(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()
	dbURL, pool := pgtest.NewDBURL(t)
	org, units := legacyFixture(t, pool)
	p := startServe(t, "legacy", dbURL, []string{"FRESHTRACK_APIKEY_CACHE_TTL=1s"})

	// A device posts the seed body, addressed by a unit without a sensor.
	recorded := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	status, out := legacyPost(t, p.base()+"/api/ingest/readings", "X-API-Key", legacyWebhookSecret,
		fmt.Sprintf(`{"readings":[{"unitId":%q,"temperature":9.5,"humidity":52,"battery":81,"signalStrength":-80,"recordedAt":%q,"source":"api"}]}`,
			units["walk-in"], recorded.Format("2006-01-02T15:04:05.000Z")))
	if status != 200 || out != `{"success":true,"insertedCount":1,"readingIds":[],"alertsTriggered":0,"duplicates":0,"rejected":[]}` {
		t.Fatalf("seed post: %d %s", status, out)
	}
	// A TTN application FreshTrack Pro provisioned: its URL and header.
	status, out = legacyPost(t, p.base()+"/api/webhooks/ttn/"+org+"/uplink", "Authorization", legacyTTNSecret,
		fmt.Sprintf(`{"end_device_ids":{"device_id":"lht65-1","application_ids":{"application_id":"kitchen"},"dev_eui":"a8:40:41:00:01:81:b6:f1"},
			"received_at":%q,"uplink_message":{"f_port":2,"received_at":%q,"decoded_payload":{"temperature_f":46.4,"BatV":3.3}}}`,
			recorded.Format(time.RFC3339Nano), recorded.Format(time.RFC3339Nano)))
	if status != 200 || out != `{"success":true,"message":"Uplink processed successfully","alertsTriggered":0}` {
		t.Fatalf("TTN uplink: %d %s", status, out)
	}

	// Both are stored on the right sensors, in °C, and both open an alert
	// as a native reading would.
	var synthetic string
	var temp, battery float64
	if err := pool.QueryRow(ctx, `SELECT s.external_id, r.temp_c, r.battery FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.unit_id = $1`,
		units["walk-in"]).Scan(&synthetic, &temp, &battery); err != nil || synthetic != "unit:"+units["walk-in"] || temp != 9.5 || battery != 81 {
		t.Fatalf("the seed post is stored as %q %v °C battery %v (%v)", synthetic, temp, battery, err)
	}
	if err := pool.QueryRow(ctx, `SELECT r.temp_c, r.battery FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.external_id = $1`,
		legacyEUI).Scan(&temp, &battery); err != nil || temp != 8 || battery != 25 {
		t.Fatalf("the uplink is stored as %v °C battery %v (%v), want 8 °C and 25 %%", temp, battery, err)
	}
	for _, name := range []string{"walk-in", "fridge"} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM alerts WHERE unit_id = $1 AND kind = 'temp_high' AND status <> 'resolved'`, units[name]).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no temp_high alert on the %s 15s after its reading\n%s", name, p.logTail(30))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// FreshTrack Pro's monitors.
	resp, err := http.Get(p.base() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || health.Status != "healthy" || health.Checks["database"].Status != "pass" {
		t.Fatalf("/health: %d %+v %v", resp.StatusCode, health, err)
	}

	// The CLI lists the secrets (never their values) and revokes one.
	e, stdout, _ := testEnv(map[string]string{"DATABASE_URL": dbURL})
	if err := run(ctx, []string{"legacy-secret", "list", "--org", org, "--json"}, e); err != nil {
		t.Fatal(err)
	}
	var listed []auth.LegacySecretView
	if err := json.Unmarshal([]byte(stdout.String()), &listed); err != nil || len(listed) != 2 || listed[0].LastUsedAt == nil && listed[1].LastUsedAt == nil {
		t.Fatalf("legacy-secret list --json: %s (%v)", stdout, err)
	}
	if strings.Contains(stdout.String(), legacyWebhookSecret) || strings.Contains(stdout.String(), legacyTTNSecret) {
		t.Fatalf("legacy-secret list prints a secret: %s", stdout)
	}
	var webhook string
	for _, s := range listed {
		if s.Source == auth.LegacySourceWebhookSecret {
			webhook = s.ID
		}
	}
	e, stdout, _ = testEnv(map[string]string{"DATABASE_URL": dbURL})
	if err := run(ctx, []string{"legacy-secret", "revoke", "--org", org, webhook}, e); err != nil || !strings.Contains(stdout.String(), "revoked") {
		t.Fatalf("legacy-secret revoke: %v %s", err, stdout)
	}
	revoked := time.Now()
	for i := 1; ; i++ {
		body := fmt.Sprintf(`{"readings":[{"unitId":%q,"temperature":3,"recordedAt":%q}]}`, units["walk-in"],
			recorded.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z"))
		status, out := legacyPost(t, p.base()+"/api/ingest/readings", "X-Webhook-Secret", legacyWebhookSecret, body)
		if status == 401 {
			if out != `{"error":{"code":"UNAUTHORIZED","message":"Invalid API key"}}` {
				t.Fatalf("revoked: %s", out)
			}
			break
		}
		if time.Since(revoked) > 3*time.Second {
			t.Fatalf("the revoked secret still works %v later (%d %s); the cache TTL is 1s", time.Since(revoked), status, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The other secret still works.
	status, _ = legacyPost(t, p.base()+"/api/webhooks/ttn", "X-API-Key", legacyTTNSecret, `{"end_device_ids":{"dev_eui":"0004A30B001C0530"},"received_at":"`+
		recorded.Format(time.RFC3339Nano)+`","uplink_message":{"decoded_payload":{"temperature":3}}}`)
	if status != 202 {
		t.Fatalf("an unknown device with the other secret: %d, want 202", status)
	}
}

// legacyFixture is an organisation as an import leaves it: a site with a
// walk-in cooler without a sensor (its readings came without a device) and
// a fridge with a LoRa sensor, a temp_high rule for fridges that alerts at
// once, a contact, and the two FreshTrack Pro secrets.
func legacyFixture(t *testing.T, pool *pgxpool.Pool) (string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Seed kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]string{}
	var site string
	if err := pool.QueryRow(ctx, `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Harbour', 'UTC') RETURNING id`, org.ID).Scan(&site); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"walk-in", "fridge"} {
		var id string
		if err := pool.QueryRow(ctx, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, 'fridge', 0, 5) RETURNING id`,
			org.ID, site, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		units[name] = id
	}
	for _, sql := range []string{
		`INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, '` + legacyEUI + `', '` + units["fridge"] + `')`,
		`INSERT INTO alert_rules (org_id, unit_kind, kind, threshold, confirm_seconds, severity) VALUES ($1, 'fridge', 'temp_high', 5, 0, 'critical')`,
		`INSERT INTO contacts (org_id, name, phone, role) VALUES ($1, 'Line cook', '+15550100002', 'staff')`,
	} {
		if _, err := pool.Exec(ctx, sql, org.ID); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for secret, source := range map[string]string{legacyWebhookSecret: auth.LegacySourceWebhookSecret, legacyTTNSecret: auth.LegacySourceTTNWebhookSecret} {
		if _, err := auth.CreateLegacySecret(ctx, pool, org.ID, secret, source); err != nil {
			t.Fatal(err)
		}
	}
	return org.ID, units
}

// legacyPost posts a JSON body with one credential header and returns the
// status and the body.
func legacyPost(t *testing.T, url, header, value, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, value)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("POST %s: Content-Type %q", url, ct)
	}
	return resp.StatusCode, string(b)
}
