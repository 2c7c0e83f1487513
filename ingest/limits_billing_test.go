package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/ingest"
)

// TestAutoRegistrationStaysWithinThePlan: auto-registration registers as
// many new sensors as the plan has room for and rejects the others'
// readings with the reason; readings of registered sensors are stored
// whatever the bill says, even past due beyond the grace period.
func TestAutoRegistrationStaysWithinThePlan(t *testing.T) {
	t.Parallel()
	limits := &billing.Limits{Catalog: billing.Catalog{FreeSensors: 3}, Grace: 24 * time.Hour}
	e := setup(t, ingest.Config{SensorRoom: limits.Room})
	ctx := context.Background()
	orgID, key := newOrg(t, e.pool, "Busy Kitchen", true, "a", "b")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	post := func(items ...string) answer {
		t.Helper()
		code, out, _ := e.post(t, "/v1/readings", key, "", []byte(batch(base, items...)))
		if code != 200 {
			t.Fatalf("POST = %d %s", code, out)
		}
		var a answer
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := post(item("a", base, 1), item("n3", base, 2), item("n1", base, 3), item("b", base, 4), item("n2", base, 5))
	if a.Accepted != 3 || len(a.Rejected) != 2 {
		t.Fatalf("accepted %d, rejected %+v; want a, b and one new sensor", a.Accepted, a.Rejected)
	}
	for _, r := range a.Rejected {
		if !strings.Contains(r.Reason, "was not registered: sensor limit reached") || !strings.Contains(r.Reason, "3 sensors") {
			t.Errorf("rejection %+v", r)
		}
	}
	var registered string
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(external_id, ',' ORDER BY external_id) FROM sensors WHERE org_id = $1`, orgID).Scan(&registered); err != nil || registered != "a,b,n1" {
		t.Errorf("registered %q (%v), want a,b,n1: the first new one by id", registered, err)
	}

	// Past due since long ago: no new sensor, every registered one stored.
	if _, err := e.pool.Exec(ctx, `INSERT INTO subscriptions (org_id, plan, status, past_due_since) VALUES ($1, 'pro', 'past_due', now() - interval '30 days')`, orgID); err != nil {
		t.Fatal(err)
	}
	later := base.Add(time.Minute)
	a = post(item("a", later, 1), item("b", later, 2), item("n1", later, 3), item("n9", later, 4))
	if a.Accepted != 3 || len(a.Rejected) != 1 || a.Rejected[0].Index != 3 || !strings.Contains(a.Rejected[0].Reason, "payment overdue") {
		t.Errorf("past due: accepted %d, rejected %+v", a.Accepted, a.Rejected)
	}
	var stored int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.org_id = $1`, orgID).Scan(&stored); err != nil || stored != 6 {
		t.Errorf("%d readings stored, want 6", stored)
	}
}
