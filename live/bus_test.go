package live

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/freshtrack/freshtrack/internal/redistest"
)

// TestRedisBusStopEndsAnIdleSubscription: serve stops the bus on SIGTERM,
// and go-redis does not end a ReceiveMessage blocked on an idle channel
// when its context is cancelled, so Stop must close the subscription
// itself. Before it did, an instance with REDIS_URL never exited.
func TestRedisBusStopEndsAnIdleSubscription(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(redistest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	bus := NewRedisBus(rdb, NewHub(HubConfig{}), slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	subscribers := func() int64 {
		n, err := rdb.PubSubNumSub(ctx, RedisChannel).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n[RedisChannel]
	}
	waitFor(t, "the bus to subscribe", func() bool { return subscribers() == 1 })

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bus.Stop(stopCtx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	waitFor(t, "the subscription to end", func() bool { return subscribers() == 0 })
	// A second Stop is a no-op.
	if err := bus.Stop(stopCtx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// waitFor polls cond until it holds, for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
