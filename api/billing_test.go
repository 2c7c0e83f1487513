package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// withBilling gives the world billing through a stripe-mock, with a pro
// plan and freeSensors for organisations without one.
func withBilling(freeSensors int) func(*world) *billing.Service {
	return func(w *world) *billing.Service {
		return w.billing(freeSensors, stripetest.Start(w.t))
	}
}

// withoutStripe gives the world the sensor limits only, as serve has them
// without a Stripe key.
func withoutStripe(freeSensors int) func(*world) *billing.Service {
	return func(w *world) *billing.Service { return w.billing(freeSensors, "") }
}

func (w *world) billing(freeSensors int, stripeURL string) *billing.Service {
	t := w.t
	t.Helper()
	cfg := billing.Config{Pool: w.pool, Logger: quiet, PublicURL: "https://freshtrack.example.com",
		Limits: &billing.Limits{Catalog: billing.Catalog{FreeSensors: freeSensors, Plans: []billing.Plan{{Name: "pro", PriceID: "price_pro", Sensors: 25}}}}}
	if stripeURL != "" {
		jobs, err := river.NewClient(riverpgxv5.New(w.pool), &river.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Jobs, cfg.SecretKey, cfg.APIURL, cfg.WebhookSecret = jobs, "sk_test_123", stripeURL, "whsec_x"
	}
	b, err := billing.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBillingNotConfigured: without a Stripe key the billing routes say
// so, and a sensor beyond the configured limit is refused with the code,
// the count and the limit.
func TestBillingNotConfigured(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withoutStripe(3))
	ids := w.fixture(t)
	base := "/v1/orgs/" + ids["org"] + "/billing"
	for _, c := range []struct{ method, path string }{{"GET", base}, {"POST", base + "/checkout"}, {"POST", base + "/portal"}} {
		var body any
		if c.path == base+"/checkout" {
			body = map[string]any{"plan": "pro"}
		}
		code, out := w.do(t, c.method, c.path, "owner", body)
		var p struct{ Type, Detail string }
		_ = json.Unmarshal([]byte(out), &p)
		if code != 503 || p.Type != "https://freshtrack.dev/problems/billing-not-configured" {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, out)
		}
	}
	// The fixture has two sensors; the limit is three.
	sensors := "/v1/orgs/" + ids["org"] + "/sensors"
	if code, out := w.do(t, "POST", sensors, "manager", map[string]any{"external_id": "third"}); code != 201 {
		t.Fatalf("third sensor: %d %s", code, out)
	}
	code, out := w.do(t, "POST", sensors, "manager", map[string]any{"external_id": "fourth"})
	var p struct {
		Type, Code, Plan   string
		SubscriptionStatus string `json:"subscription_status"`
		Current            int
		Limit              *int
	}
	_ = json.Unmarshal([]byte(out), &p)
	if code != 403 || p.Type != "https://freshtrack.dev/problems/sensor-limit" || p.Code != billing.CodeSensorLimit || p.Plan != "free" || p.SubscriptionStatus != "none" || p.Current != 3 || p.Limit == nil || *p.Limit != 3 {
		t.Errorf("fourth sensor: %d %s", code, out)
	}
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM sensors WHERE org_id = $1`, ids["org"]).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d sensors stored", n)
	}
}
