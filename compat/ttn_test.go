package compat_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/compat"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// uplink is a TTN v3 uplink message as a TTN application's webhook posts
// it, with the given decoded_payload.
func uplink(devEUI string, at time.Time, decoded string) string {
	return fmt.Sprintf(`{"end_device_ids":{"device_id":"walk-in-1","application_ids":{"application_id":"kitchen"},"dev_eui":%q,"join_eui":"A840410000000101"},
"correlation_ids":["as:up:01JDXKQ90A1B2C3D4E5F6G7H8J"],"received_at":%q,
"uplink_message":{"f_port":2,"f_cnt":1742,"frm_payload":"y7wBEwGgBQEKf/8=","decoded_payload":%s,
"rx_metadata":[{"gateway_ids":{"gateway_id":"gw-1"},"rssi":-71,"channel_rssi":-71,"snr":9.25}],"received_at":%q}}`,
		devEUI, at.Format(time.RFC3339Nano), decoded, at.Add(-20*time.Millisecond).Format(time.RFC3339Nano))
}

func wantUplinkOK(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != 200 || a.Success == nil || !*a.Success || a.Message != "Uplink processed successfully" || a.AlertsTriggered == nil || *a.AlertsTriggered != 0 {
		t.Fatalf("%s: %d %s, want FreshTrack Pro's success", what, a.status, a.raw)
	}
}

func TestTTNWebhookBothURLsAndEveryHeader(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	paths := []string{"/api/webhooks/ttn", "/api/webhooks/ttn/" + w.org + "/uplink", "/api/webhooks/ttn/" + strings.ToUpper(w.org) + "/uplink"}
	headers := [][]string{{"X-API-Key", seedSecret}, {"X-Webhook-Secret", seedSecret}, {"X-Downlink-Apikey", seedSecret},
		{"Authorization", seedSecret}, {"Authorization", "Bearer " + seedSecret}, {"Authorization", "Bearer " + w.key}}
	var want []string
	n := 0
	for _, path := range paths {
		for _, h := range headers {
			wantUplinkOK(t, path+" "+h[0], w.post(t, path, uplink("70b3d57ed005a1b2", at(n), `{"temperature":3.5}`), h...))
			want = append(want, fmt.Sprintf("%s@%d=3.5", sensorEUI, at(n).Unix()))
			n++
		}
	}
	if got := w.stored(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored %v\nwant   %v", got, want)
	}
	// TTN retries an uplink: it is stored once and answered as stored.
	wantUplinkOK(t, "retry", w.post(t, paths[0], uplink(sensorEUI, at(0), `{"temperature":3.5}`), "X-API-Key", seedSecret))
	if got := w.stored(t); len(got) != len(want) {
		t.Fatalf("a retried uplink stored again: %d rows", len(got))
	}
}

func TestTTNWebhookAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	h := []string{"Authorization", seedSecret}
	provisioned := "/api/webhooks/ttn/" + w.org + "/uplink"

	// An unknown device is answered 2xx, so TTN keeps the webhook.
	a := w.post(t, provisioned, uplink("0004A30B001C0530", at(0), `{"temperature":3}`), h...)
	if a.status != 202 || a.Success == nil || *a.Success || !strings.Contains(a.Message, "0004A30B001C0530") {
		t.Fatalf("unknown device: %d %s, want 202 naming it", a.status, a.raw)
	}
	// A retired one too.
	if _, err := w.pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id, retired_at) VALUES ($1, 'A840410000000001', now())`, w.org); err != nil {
		t.Fatal(err)
	}
	if a := w.post(t, provisioned, uplink("A840410000000001", at(0), `{"temperature":3}`), h...); a.status != 202 {
		t.Fatalf("retired device: %d %s", a.status, a.raw)
	}
	// No usable temperature: 422 as FreshTrack Pro.
	wantError(t, "no temperature", w.post(t, provisioned, uplink(sensorEUI, at(0), `{"humidity":40}`), h...), 422, "UNPROCESSABLE_ENTITY", "no temperature field")
	wantError(t, "no decoded_payload", w.post(t, provisioned, strings.Replace(uplink(sensorEUI, at(0), `{}`), `"decoded_payload":{},`, ``, 1), h...),
		422, "UNPROCESSABLE_ENTITY", "decoded_payload")
	wantError(t, "implausible", w.post(t, provisioned, uplink(sensorEUI, at(0), `{"temperature":900}`), h...), 422, "UNPROCESSABLE_ENTITY", "range")
	wantError(t, "not an object", w.post(t, provisioned, `[]`, h...), 400, "BAD_REQUEST", "JSON object")
	// Another organisation's id in the URL.
	other := "/api/webhooks/ttn/6f1c0b52-8f0e-4c57-9a53-000000000003/uplink"
	wantError(t, "orgId mismatch", w.post(t, other, uplink(sensorEUI, at(0), `{"temperature":3}`), h...), 403, "FORBIDDEN", "names organisation")
	wantError(t, "orgId mismatch on join", w.post(t, "/api/webhooks/ttn/not-an-org/join", `{}`, h...), 403, "FORBIDDEN", "names organisation")
	if got := w.stored(t); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	// A join-accept is answered and stores nothing.
	a = w.post(t, "/api/webhooks/ttn/"+w.org+"/join", `{"end_device_ids":{"dev_eui":"70B3D57ED005A1B2"},"join_accept":{"session_key_id":"AZ"}}`, h...)
	if a.status != 200 || a.Success == nil || !*a.Success {
		t.Fatalf("join: %d %s", a.status, a.raw)
	}
	if got := w.stored(t); len(got) != 0 {
		t.Fatalf("a join stored %v", got)
	}
}

// TestTTNWebhookDecodesAsFreshTrackPro: the field names and conversions
// FreshTrack Pro's formatters relied on.
func TestTTNWebhookDecodesAsFreshTrackPro(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	h := []string{"X-API-Key", seedSecret}
	for i, c := range []struct {
		eui, payload string
		temp, hum    float64
		battery      float64 // -1: none
	}{
		{"70:B3:D5:7E:D0:05:A1:B2", `{"temperature_f":39.2,"rh":48.5,"battery_voltage":3.6}`, 4, 48.5, 50},
		{"70-b3-d5-7e-d0-05-a1-b2", `{"temp":-18.5,"BatV":3900}`, -18.5, -1, 75},
		{sensorEUI, `{"temperature_c":2.5,"battery_level":64}`, 2.5, -1, 64},
		{sensorEUI, `{"temperature":3,"battery":3600,"batt":12}`, 3, -1, 12},
	} {
		wantUplinkOK(t, c.payload, w.post(t, "/api/webhooks/ttn", uplink(c.eui, at(i), c.payload), h...))
		var temp float64
		var hum, bat *float64
		if err := w.pool.QueryRow(ctx, `SELECT temp_c, humidity, battery FROM readings WHERE sensor_id = $1 AND time = $2`, w.sensor, at(i)).Scan(&temp, &hum, &bat); err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if temp != c.temp || (hum == nil) != (c.hum == -1) || hum != nil && *hum != c.hum || (bat == nil) != (c.battery == -1) || bat != nil && *bat != c.battery {
			t.Errorf("%s: stored %v °C, humidity %v, battery %v; want %v, %v, %v", c.payload, temp, deref(hum), deref(bat), c.temp, c.hum, c.battery)
		}
	}
	// device_id when the uplink has no dev_eui.
	if _, err := w.pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, 'walk-in-1', $2)`, w.org, w.units["bare"]); err != nil {
		t.Fatal(err)
	}
	noEUI := strings.Replace(uplink("x", at(9), `{"temperature":1.5}`), `"dev_eui":"x",`, ``, 1)
	wantUplinkOK(t, "device_id", w.post(t, "/api/webhooks/ttn", noEUI, h...))
	if got := w.stored(t); !strings.Contains(strings.Join(got, " "), fmt.Sprintf("walk-in-1@%d=1.5", at(9).Unix())) {
		t.Fatalf("stored %v, want walk-in-1's reading", got)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestHealthRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	get := func(path string) answer {
		return w.do(t, httptest.NewRequest("GET", path, nil))
	}
	a := get("/health")
	if a.status != 200 || !strings.Contains(a.raw, `"status":"healthy"`) || !strings.Contains(a.raw, `"checks":{"database":{"status":"pass","latency_ms":`) ||
		!strings.Contains(a.raw, `"version":"test"`) || !strings.Contains(a.raw, `"uptime":`) || !strings.Contains(a.raw, `"environment":"test"`) {
		t.Fatalf("/health: %d %s", a.status, a.raw)
	}
	if a := get("/health/ready"); a.status != 200 || a.raw != `{"ready":true}` {
		t.Fatalf("/health/ready: %d %s", a.status, a.raw)
	}
	if a := get("/health/live"); a.status != 200 || a.raw != `{"alive":true}` {
		t.Fatalf("/health/live: %d %s", a.status, a.raw)
	}
	req := httptest.NewRequest("GET", "/health", strings.NewReader(`{"x":1}`))
	wantError(t, "a body", w.do(t, req), 400, "BAD_REQUEST", "takes no request body")

	// The database down: 503, in the same shapes.
	closed := pgtest.NewDB(t)
	closed.Close()
	app := api.New(api.Config{Pool: closed, Logger: quiet})
	compat.RegisterHealth(app, compat.HealthConfig{Pool: closed, Version: "test", Logger: quiet, Timeout: time.Second})
	down := &world{app: app}
	if a := down.do(t, httptest.NewRequest("GET", "/health", nil)); a.status != 503 || !strings.Contains(a.raw, `"status":"unhealthy"`) || !strings.Contains(a.raw, `"database":{"status":"fail"`) {
		t.Fatalf("/health with the database down: %d %s", a.status, a.raw)
	}
	if a := down.do(t, httptest.NewRequest("GET", "/health/ready", nil)); a.status != 503 || a.raw != `{"ready":false,"reason":"Database not available"}` {
		t.Fatalf("/health/ready with the database down: %d %s", a.status, a.raw)
	}
	if a := down.do(t, httptest.NewRequest("GET", "/health/live", nil)); a.status != 200 {
		t.Fatalf("/health/live with the database down: %d %s", a.status, a.raw)
	}
}

// A contact sensor's door state alone is stored as FreshTrack stores it
// natively, and answered as a stored uplink.
func TestTTNWebhookDoorStateAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := []string{"Authorization", seedSecret}
	provisioned := "/api/webhooks/ttn/" + w.org + "/uplink"
	wantUplinkOK(t, "door state", w.post(t, provisioned, uplink(sensorEUI, at(0), `{"DOOR_OPEN_STATUS":1,"BAT_V":3.1}`), h...))
	wantUplinkOK(t, "door state again", w.post(t, provisioned, uplink(sensorEUI, at(0), `{"DOOR_OPEN_STATUS":1,"BAT_V":3.1}`), h...))
	var n int
	var open bool
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*), bool_and(open) FROM door_events WHERE org_id = $1`, w.org).Scan(&n, &open); err != nil || n != 1 || !open {
		t.Fatalf("door_events: %d rows, open %v (%v)", n, open, err)
	}
	if got := w.stored(t); len(got) != 0 {
		t.Fatalf("a door state stored readings %v", got)
	}
	wantError(t, "bad door state", w.post(t, provisioned, uplink(sensorEUI, at(1), `{"door":"ajar"}`), h...), 422, "UNPROCESSABLE_ENTITY", `"door"`)
}
