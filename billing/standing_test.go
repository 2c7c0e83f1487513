package billing_test

import (
	"testing"

	"github.com/freshtrack/freshtrack/billing"
)

func TestParsePlans(t *testing.T) {
	t.Parallel()
	plans, err := billing.ParsePlans(" starter=price_a:5, pro=price_b:25,enterprise=:1000 ")
	if err != nil || len(plans) != 3 || plans[1] != (billing.Plan{Name: "pro", PriceID: "price_b", Sensors: 25}) || plans[2].PriceID != "" {
		t.Fatalf("%+v %v", plans, err)
	}
	for _, bad := range []string{"pro", "pro=price_b", "pro=price_b:many", "pro=price_b:-1", "Pro=price_b:5", "free=price_b:5",
		"pro=prod_b:5", "pro=price_b:5,pro=price_c:6", "a=price_x:1,b=price_x:2"} {
		if _, err := billing.ParsePlans(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if n, err := billing.ParseSensorLimit("unlimited"); err != nil || n != billing.Unlimited {
		t.Errorf("unlimited: %d %v", n, err)
	}
	if _, err := billing.ParseSensorLimit("-3"); err == nil {
		t.Error("-3 parsed")
	}
}
