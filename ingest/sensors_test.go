package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// A key holder posting ever new unknown sensor ids cannot grow the cache
// past MaxUnknownSensors per organisation: expired entries make room, and
// past the cap unknown ids are still answered, just not cached.
func TestUnknownSensorCacheIsBounded(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	org, _ := newOrg(t, pool, "Kitchen", false, "known")
	d := ingest.NewSensorDirectory(pool, time.Minute, time.Hour)
	ctx := context.Background()
	resolve := func(prefix string, n int) []int64 {
		t.Helper()
		rs := make([]ingest.Reading, n)
		for i := range rs {
			rs[i].Sensor = []byte(fmt.Sprintf("%s-%d", prefix, i))
		}
		ids := make([]int64, n)
		if err := d.Resolve(ctx, org, false, rs, ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	resolve("a", ingest.MaxUnknownSensors-10)
	if n := d.CachedUnknown(org); n != ingest.MaxUnknownSensors-10 {
		t.Fatalf("%d unknown ids cached, want %d", n, ingest.MaxUnknownSensors-10)
	}
	ids := resolve("b", 1000)
	if n := d.CachedUnknown(org); n != ingest.MaxUnknownSensors {
		t.Fatalf("%d unknown ids cached past the cap, want %d", n, ingest.MaxUnknownSensors)
	}
	for _, id := range ids {
		if id >= 0 {
			t.Fatalf("an unknown id resolved to %d", id)
		}
	}
	// The known sensor still resolves.
	rs := []ingest.Reading{{Sensor: []byte("known")}}
	got := []int64{0}
	if err := d.Resolve(ctx, org, false, rs, got); err != nil || got[0] <= 0 {
		t.Fatalf("known sensor = %d %v", got[0], err)
	}
	d.Forget(org)
	if n := d.CachedUnknown(org); n != 0 {
		t.Fatalf("%d cached after Forget", n)
	}
}
