package notify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/freshtrack/freshtrack/internal/redistest"
	"github.com/freshtrack/freshtrack/notify"
)

// TestRedisRateSpacesEveryInstance: two instances' reservers on one Redis
// book slots one interval apart between them, as one account allows.
func TestRedisRateSpacesEveryInstance(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(redistest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	a, b := redis.NewClient(opts), redis.NewClient(opts)
	t.Cleanup(func() { a.Close(); b.Close() })
	const perSecond = 20 // slots 50 ms apart
	instances := []*notify.RedisRate{notify.NewRedisRate(a, "test:telnyx", perSecond), notify.NewRedisRate(b, "test:telnyx", perSecond)}
	ctx := context.Background()
	start := time.Now()
	var mu sync.Mutex
	var slots []time.Time // when each reservation may send
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := instances[i%2].Reserve(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			slots = append(slots, time.Now().Add(d))
			mu.Unlock()
		}()
	}
	wg.Wait()
	// 20 slots 50 ms apart span at least 19 intervals from the first; a
	// limiter per instance would let both send at once and span half.
	last := start
	for _, s := range slots {
		if s.After(last) {
			last = s
		}
	}
	if span := last.Sub(start); span < 19*50*time.Millisecond-10*time.Millisecond {
		t.Errorf("20 reservations span %s, want at least 950 ms", span)
	}
	// An independent key is not held up by them.
	if d, err := notify.NewRedisRate(a, "test:other", perSecond).Reserve(ctx); err != nil || d != 0 {
		t.Errorf("another account waits %s (%v)", d, err)
	}
}
