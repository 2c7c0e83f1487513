package billing

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Plan is one plan an organisation can subscribe to: a Stripe price and the
// sensors it allows.
type Plan struct {
	// Name is the plan's name in FreshTrack ("pro").
	Name string `json:"name"`
	// PriceID is the Stripe price Checkout subscribes to; a plan without
	// one cannot be bought through Checkout (an enterprise contract, say).
	PriceID string `json:"price_id"`
	// Sensors is the most sensors an organisation on the plan may have.
	Sensors int `json:"sensors"`
}

// Unlimited is the Limit of an organisation that may add any number of
// sensors.
const Unlimited = -1

var planName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// reservedPlans are the plan names FreshTrack itself gives a row: they
// cannot be configured.
var reservedPlans = map[string]bool{"free": true, "none": true}

// ParsePlans reads the FRESHTRACK_BILLING_PLANS form:
// name=price id:sensors, comma-separated, e.g.
// "starter=price_1Q...:5,pro=price_1R...:25". The price may be empty.
func ParsePlans(spec string) ([]Plan, error) {
	var plans []Plan
	seen := map[string]bool{}
	prices := map[string]string{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, rest, ok := strings.Cut(item, "=")
		price, sensors, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q is not name=price id:sensors (e.g. pro=price_123:25)", item)
		}
		name, price = strings.TrimSpace(name), strings.TrimSpace(price)
		if !planName.MatchString(name) || reservedPlans[name] {
			return nil, fmt.Errorf("plan name %q must be lower-case letters, digits, - and _ (free and none are taken)", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("plan %q is listed twice", name)
		}
		if price != "" && (!strings.HasPrefix(price, "price_") || len(price) > 255 || strings.ContainsAny(price, " \t")) {
			return nil, fmt.Errorf("plan %s: %q is not a Stripe price id (price_...)", name, price)
		}
		if other, dup := prices[price]; dup && price != "" {
			return nil, fmt.Errorf("plans %s and %s have the same price %s: a subscription's plan is told by its price", other, name, price)
		}
		n, err := strconv.Atoi(strings.TrimSpace(sensors))
		if err != nil || n < 0 || n > 10_000_000 {
			return nil, fmt.Errorf("plan %s: sensors %q must be a number from 0 to 10000000", name, sensors)
		}
		seen[name] = true
		if price != "" {
			prices[price] = name
		}
		plans = append(plans, Plan{Name: name, PriceID: price, Sensors: n})
	}
	return plans, nil
}

// ParseSensorLimit reads FRESHTRACK_BILLING_FREE_SENSORS: a number or
// "unlimited".
func ParseSensorLimit(s string) (int, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q must be a number of sensors or unlimited", s)
	}
	return n, nil
}

// Catalog is the configured plans and what an organisation without one
// may have.
type Catalog struct {
	Plans []Plan
	// FreeSensors is the limit without a live subscription (Unlimited for
	// none).
	FreeSensors int
}

// Plan returns the plan named name.
func (c Catalog) Plan(name string) (Plan, bool) {
	for _, p := range c.Plans {
		if p.Name == name {
			return p, true
		}
	}
	return Plan{}, false
}

// ByPrice returns the plan whose price is id.
func (c Catalog) ByPrice(id string) (Plan, bool) {
	for _, p := range c.Plans {
		if id != "" && p.PriceID == id {
			return p, true
		}
	}
	return Plan{}, false
}
