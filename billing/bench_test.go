package billing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// BenchmarkHandleWebhook is one signed subscription update verified,
// recorded and applied: what a Stripe delivery costs.
func BenchmarkHandleWebhook(b *testing.B) {
	bn := newBench(b)
	bn.linkCustomer(b, bn.org, "cus_bench")
	t0 := time.Now().Add(-time.Hour)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		payload := event(fmt.Sprintf("evt_bench_%d", i), "customer.subscription.updated", t0.Add(time.Duration(i)*time.Second),
			subscription("sub_bench", "cus_bench", bn.org, "active", proPrice, t0.Add(720*time.Hour)))
		if _, err := bn.svc.HandleWebhook(ctx, payload, stripetest.Sign(webhookSecret, payload, time.Now())); err != nil {
			b.Fatal(err)
		}
	}
}
