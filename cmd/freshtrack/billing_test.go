package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// TestBillingLifecycle runs serve with Stripe (a stripe-mock) and takes an
// organisation through trial, active on pro, past due and canceled with
// signed webhooks; the sensor limit follows, through the API and
// auto-registration, and readings of registered sensors are stored at
// every step.
func TestBillingLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	stripeURL := stripetest.Start(t)
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	const secret = "whsec_lifecycle"
	p := startServe(t, "billing", dbURL, []string{
		"FRESHTRACK_STRIPE_SECRET_KEY=sk_test_lifecycle", "FRESHTRACK_STRIPE_WEBHOOK_SECRET=" + secret, "FRESHTRACK_STRIPE_API_URL=" + stripeURL,
		"FRESHTRACK_BILLING_PLANS=starter=price_starter:5,pro=price_pro:25", "FRESHTRACK_BILLING_PAST_DUE_GRACE=3s",
	}, "--dev-auth", "--dev-auth-key", keyFile)
	logOnFailure(t, p)
	o := newLiveOrg(t, pool, keyFile, p.addr, "Billing Kitchen")
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `UPDATE organizations SET settings = settings || '{"auto_register_sensors": true}' WHERE id = $1`, o.id); err != nil {
		t.Fatal(err)
	}
	base := p.base()
	api := func(method, path string, role auth.Role, body any) (int, map[string]any) {
		t.Helper()
		return o.callJSON(t, base, method, path, role, body)
	}
	orgPath := "/v1/orgs/" + o.id
	nextSensor := 0
	// addSensors creates sensors through the API until one is refused or n
	// are made, and returns how many were made and the refusal.
	addSensors := func(n int) (int, map[string]any) {
		t.Helper()
		for i := range n {
			nextSensor++
			code, out := api("POST", orgPath+"/sensors", auth.Manager, map[string]any{"external_id": fmt.Sprintf("api-%d", nextSensor)})
			if code == 403 {
				return i, out
			}
			if code != 201 {
				t.Fatalf("create sensor: %d %v", code, out)
			}
		}
		return n, nil
	}
	billingState := func() map[string]any {
		t.Helper()
		code, out := api("GET", orgPath+"/billing", auth.Admin, nil)
		if code != 200 {
			t.Fatalf("GET billing: %d %v", code, out)
		}
		return out
	}
	limitOf := func(st map[string]any) string {
		s := st["sensors"].(map[string]any)
		return fmt.Sprintf("%s/%s %v/%v", st["plan"], st["status"], s["used"], s["limit"])
	}
	refusal := func(out map[string]any) string {
		return fmt.Sprintf("%v %v/%v", out["code"], out["current"], out["limit"])
	}
	// ingest posts one reading per sensor name and returns how many were stored.
	ingestSensors := func(at time.Time, names ...string) (int, []string) {
		t.Helper()
		var rs []map[string]any
		for _, n := range names {
			rs = append(rs, map[string]any{"sensor": n, "time": at.UTC().Format(time.RFC3339Nano), "temp_c": 3.5})
		}
		body, _ := json.Marshal(map[string]any{"readings": rs})
		req, _ := http.NewRequest("POST", base+"/v1/readings", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+o.apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Accepted int `json:"accepted"`
			Rejected []struct {
				Reason string `json:"reason"`
			} `json:"rejected"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("ingest: %d %v", resp.StatusCode, err)
		}
		var reasons []string
		for _, r := range out.Rejected {
			reasons = append(reasons, r.Reason)
		}
		return out.Accepted, reasons
	}
	registered := func() []string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT external_id FROM sensors WHERE org_id = $1 AND retired_at IS NULL ORDER BY id`, o.id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			out = append(out, s)
		}
		return out
	}
	eventSeq := 0
	webhook := func(typ string, object map[string]any) (int, map[string]any) {
		t.Helper()
		eventSeq++
		payload, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt_life_%d", eventSeq), "object": "event", "type": typ,
			"api_version": "2023-10-16", "created": time.Now().Unix(), "data": map[string]any{"object": object}})
		return deliverStripe(t, base, payload, stripetest.Sign(secret, payload, time.Now()))
	}

	// No plan: Stripe's free limit of 10.
	if got := limitOf(billingState()); got != "free/none 1/10" {
		t.Errorf("before any plan: %s", got)
	}
	if n, out := addSensors(20); n != 9 || refusal(out) != "sensor_limit_reached 10/10" {
		t.Errorf("without a plan: %d added, refused with %v", n, out)
	}
	// Only an owner starts Checkout.
	if code, _ := api("POST", orgPath+"/billing/checkout", auth.Admin, map[string]any{"plan": "pro"}); code != 403 {
		t.Errorf("checkout as admin: %d", code)
	}
	code, out := api("POST", orgPath+"/billing/checkout", auth.Owner, map[string]any{"plan": "pro"})
	if code != 200 || !strings.HasPrefix(fmt.Sprint(out["url"]), "https://") {
		t.Fatalf("checkout as owner: %d %v", code, out)
	}
	var customer string
	if err := pool.QueryRow(ctx, `SELECT stripe_customer_id FROM subscriptions WHERE org_id = $1`, o.id).Scan(&customer); err != nil {
		t.Fatal(err)
	}
	sub := func(status string) map[string]any {
		return map[string]any{"id": "sub_life", "object": "subscription", "customer": customer, "status": status,
			"current_period_end": time.Now().Add(30 * 24 * time.Hour).Unix(), "metadata": map[string]any{"org_id": o.id, "plan": "pro"},
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_pro"}}}}}
	}
	if code, out := webhook("checkout.session.completed", map[string]any{"id": "cs_life", "object": "checkout.session", "mode": "subscription",
		"client_reference_id": o.id, "customer": customer, "subscription": "sub_life"}); code != 200 || out["outcome"] != "applied" {
		t.Fatalf("checkout.session.completed: %d %v", code, out)
	}

	// Trial on pro: 25 sensors, here by auto-registration.
	webhook("customer.subscription.created", sub("trialing"))
	if got := limitOf(billingState()); got != "pro/trialing 10/25" {
		t.Errorf("trial: %s", got)
	}
	var devices []string
	for i := range 20 {
		devices = append(devices, fmt.Sprintf("auto-%02d", i))
	}
	now := time.Now().Add(-time.Minute)
	accepted, reasons := ingestSensors(now, devices...)
	if accepted != 15 || len(reasons) != 5 || !strings.Contains(reasons[0], "the pro plan allows 25 sensors") {
		t.Errorf("auto-registration on a trial: %d accepted, rejected %v", accepted, reasons)
	}

	// Active: at the limit, refused with the count and the limit.
	webhook("customer.subscription.updated", sub("active"))
	if n, out := addSensors(1); n != 0 || refusal(out) != "sensor_limit_reached 25/25" || out["plan"] != "pro" {
		t.Errorf("active at 25: %d added, refused with %v", n, out)
	}

	// Past due: the grace period still adds sensors, then it stops; the
	// readings of every registered sensor keep being stored.
	webhook("customer.subscription.updated", sub("past_due"))
	if code, _ := api("DELETE", orgPath+"/sensors/"+sensorID(t, pool, o.id, "api-1"), auth.Manager, nil); code != 204 {
		t.Fatalf("retire a sensor: %d", code)
	}
	if n, out := addSensors(1); n != 1 {
		t.Errorf("past due within the grace period: refused with %v", out)
	}
	time.Sleep(3500 * time.Millisecond)
	if n, out := addSensors(1); n != 0 || refusal(out) != "payment_overdue 25/25" {
		t.Errorf("past due after the grace period: %d added, refused with %v", n, out)
	}
	all := registered()
	if accepted, reasons := ingestSensors(now.Add(time.Second), append(all, "auto-new")...); accepted != 25 || len(reasons) != 1 || !strings.Contains(reasons[0], "payment overdue") {
		t.Errorf("past due: %d of %d registered sensors' readings stored, rejected %v", accepted, len(all), reasons)
	}

	// Canceled: back to the free limit of 10; nothing is retired and the
	// readings still flow.
	webhook("customer.subscription.deleted", sub("canceled"))
	if got := limitOf(billingState()); got != "free/canceled 25/10" {
		t.Errorf("canceled: %s", got)
	}
	if n, out := addSensors(1); n != 0 || refusal(out) != "sensor_limit_reached 25/10" {
		t.Errorf("canceled: %d added, refused with %v", n, out)
	}
	if accepted, _ := ingestSensors(now.Add(2*time.Second), all...); accepted != 25 {
		t.Errorf("canceled: %d of 25 registered sensors' readings stored", accepted)
	}

	// The webhook's refusals, and a redelivery.
	payload := []byte(`{"id":"evt_replay","object":"event","type":"invoice.paid","api_version":"2023-10-16","created":1,"data":{"object":{"id":"in_1","customer":"` + customer + `"}}}`)
	if code, out := deliverStripe(t, base, payload, stripetest.Sign("whsec_wrong", payload, time.Now())); code != 400 || out["type"] != "https://freshtrack.dev/problems/bad-signature" {
		t.Errorf("wrong secret: %d %v", code, out)
	}
	if code, out := deliverStripe(t, base, payload, stripetest.Sign(secret, payload, time.Now().Add(-10*time.Minute))); code != 400 {
		t.Errorf("stale signature: %d %v", code, out)
	}
	for i, want := range []string{"applied", "duplicate"} {
		if code, out := deliverStripe(t, base, payload, stripetest.Sign(secret, payload, time.Now())); code != 200 || out["outcome"] != want {
			t.Errorf("delivery %d: %d %v, want %s", i+1, code, out, want)
		}
	}
}

// sensorID is the public id of an organisation's sensor.
func sensorID(t *testing.T, pool *pgxpool.Pool, org, ext string) string {
	t.Helper()
	var id string
	if err := pool.QueryRow(context.Background(), `SELECT public_id::text FROM sensors WHERE org_id = $1 AND external_id = $2`, org, ext).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// deliverStripe posts a webhook delivery as Stripe does.
func deliverStripe(t *testing.T, base string, payload []byte, signature string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
