package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/stripetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	webhookSecret = "whsec_test_freshtrack"
	proPrice      = "price_pro_monthly"
	starterPrice  = "price_starter_monthly"
)

var quiet = slog.New(slog.DiscardHandler)

// bench is a billing service on a test database, talking to a stripe-mock
// through a recorder, with one organisation whose owner has an email.
type bench struct {
	pool   *pgxpool.Pool
	svc    *billing.Service
	limits *billing.Limits
	stripe *stripetest.Recorder
	org    string
	owner  string
	now    time.Time
}

func catalog() billing.Catalog {
	return billing.Catalog{FreeSensors: 10, Plans: []billing.Plan{
		{Name: "starter", PriceID: starterPrice, Sensors: 5},
		{Name: "pro", PriceID: proPrice, Sensors: 25},
		{Name: "enterprise", Sensors: 1000},
	}}
}

func newBench(t testing.TB) *bench {
	t.Helper()
	b := &bench{pool: pgtest.NewDB(t), now: time.Now().UTC()}
	b.stripe = stripetest.NewRecorder(t, stripetest.Start(t))
	b.limits = &billing.Limits{Catalog: catalog(), Grace: 72 * time.Hour, Now: func() time.Time { return b.now }}
	jobs, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	b.svc, err = billing.New(billing.Config{Pool: b.pool, Jobs: jobs, Limits: b.limits, SecretKey: "sk_test_123",
		WebhookSecret: webhookSecret, APIURL: b.stripe.URL, MeterSensors: "active_sensors", MeterReadings: "temperature_readings",
		PublicURL: "https://freshtrack.example.com", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	b.org = b.newOrg(t, "Harbour Kitchen")
	return b
}

func (b *bench) newOrg(t testing.TB, name string) string {
	t.Helper()
	ctx := context.Background()
	var org string
	if err := b.pool.QueryRow(ctx, `INSERT INTO organizations (name) VALUES ($1) RETURNING id`, name).Scan(&org); err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(ctx, `INSERT INTO users (issuer, subject, email, name) VALUES ('test', $1, $2, 'Olive Owner') RETURNING id`,
		"owner-"+org, "owner-"+org[:8]+"@example.com").Scan(&b.owner); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')`, org, b.owner); err != nil {
		t.Fatal(err)
	}
	return org
}

// sensors registers n more sensors of org, as the API would, and reports
// how many the limits let in.
func (b *bench) addSensors(t *testing.T, org string, n int) int {
	t.Helper()
	ctx := context.Background()
	added := 0
	for range n {
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			if err := b.limits.Guard(ctx, tx, org); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO sensors (org_id, external_id) VALUES ($1, 'dev-' || gen_random_uuid())`, org)
			return err
		})
		if _, ok := billing.IsLimit(err); ok {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		added++
	}
	return added
}

func (b *bench) standing(t *testing.T, org string) billing.Standing {
	t.Helper()
	s, err := b.limits.Standing(context.Background(), b.pool, org)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// event is a Stripe event as Stripe sends it (API version 2023-10-16,
// stripe-go v76's).
func event(id, typ string, created time.Time, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": "2023-10-16", "created": created.Unix(), "livemode": false,
		"pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// subscription is a subscription object in status for org's customer.
func subscription(id, customer, org, status, price string, periodEnd time.Time) map[string]any {
	return map[string]any{
		"id": id, "object": "subscription", "customer": customer, "status": status, "current_period_end": periodEnd.Unix(),
		"cancel_at_period_end": false, "metadata": map[string]any{"org_id": org},
		"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_" + id, "price": map[string]any{"id": price}}}},
	}
}

// deliver signs payload now and hands it to the webhook.
func (b *bench) deliver(t *testing.T, payload []byte) billing.WebhookResult {
	t.Helper()
	res, err := b.svc.HandleWebhook(context.Background(), payload, stripetest.Sign(webhookSecret, payload, time.Now()))
	if err != nil {
		t.Fatalf("webhook: %v", err)
	}
	return res
}

// linkCustomer gives org a Stripe customer the way the first checkout does.
func (b *bench) linkCustomer(t testing.TB, org, customer string) {
	t.Helper()
	if _, err := b.pool.Exec(context.Background(), `INSERT INTO subscriptions (org_id, stripe_customer_id) VALUES ($1, $2)
		ON CONFLICT (org_id) DO UPDATE SET stripe_customer_id = excluded.stripe_customer_id`, org, customer); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func ids(prefix string, n int) string { return fmt.Sprintf("%s_%d", prefix, n) }
