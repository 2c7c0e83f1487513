package live

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
)

// Bus carries a publisher's events to the hubs that hold streams.
type Bus interface {
	Publish(ctx context.Context, events []Event) error
}

// LocalBus delivers to this process's hub only: one instance, or an
// instance whose events no other one needs.
type LocalBus struct{ Hub *Hub }

// Publish implements Bus.
func (b LocalBus) Publish(_ context.Context, events []Event) error {
	b.Hub.Deliver(events)
	return nil
}

// RedisChannel is the Redis pub/sub channel of live events.
const RedisChannel = "freshtrack:live"

var mRedisErrors = metrics.NewCounter(`freshtrack_live_redis_errors_total`)

// RedisBus publishes through Redis pub/sub, so the events of one instance
// reach the streams held by every instance; it is also the subscriber that
// delivers them to this instance's hub (a lifecycle.Service). When Redis
// fails, events still reach this instance's own streams.
type RedisBus struct {
	rdb *redis.Client
	hub *Hub
	log *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	// ps is the subscription being read, closed by Stop: go-redis does not
	// end a blocked ReceiveMessage when its context is cancelled.
	ps *redis.PubSub
}

// NewRedisBus returns a bus over rdb that delivers to hub.
func NewRedisBus(rdb *redis.Client, hub *Hub, log *slog.Logger) *RedisBus {
	if log == nil {
		log = slog.Default()
	}
	return &RedisBus{rdb: rdb, hub: hub, log: log}
}

// Publish implements Bus: one Redis message for the batch.
func (b *RedisBus) Publish(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	msg, err := json.Marshal(events)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := b.rdb.Publish(ctx, RedisChannel, msg).Err(); err != nil {
		mRedisErrors.Inc()
		// This instance's streams need not miss them.
		b.hub.Deliver(events)
		return err
	}
	return nil
}

// Start subscribes and delivers in the background until Stop; a broken
// subscription is re-established (go-redis reconnects), and this
// instance's streams are then told to reload, since events may have passed
// meanwhile.
func (b *RedisBus) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.mu.Lock()
	b.cancel, b.done = cancel, make(chan struct{})
	b.mu.Unlock()
	go b.run(ctx)
	return nil
}

func (b *RedisBus) run(ctx context.Context) {
	defer close(b.done)
	first := true
	for ctx.Err() == nil {
		ps := b.subscribe(ctx)
		if ps == nil {
			return
		}
		if _, err := ps.Receive(ctx); err != nil {
			_ = ps.Close()
			if ctx.Err() == nil {
				mRedisErrors.Inc()
				b.log.Warn("live: cannot subscribe to redis; retrying", "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
			continue
		}
		if !first {
			b.hub.EndAll("live updates were interrupted; reload and reconnect")
		}
		first = false
		b.receive(ctx, ps)
		_ = ps.Close()
	}
}

// subscribe opens the subscription that Stop closes, or returns nil once
// Stop was called.
func (b *RedisBus) subscribe(ctx context.Context) *redis.PubSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	b.ps = b.rdb.Subscribe(ctx, RedisChannel)
	return b.ps
}

// receive delivers messages until the subscription breaks or ctx ends.
func (b *RedisBus) receive(ctx context.Context, ps *redis.PubSub) {
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				mRedisErrors.Inc()
				b.log.Warn("live: redis subscription broke; resubscribing", "err", err)
			}
			return
		}
		var events []Event
		if err := json.Unmarshal([]byte(msg.Payload), &events); err != nil {
			b.log.Warn("live: ignoring a malformed redis message", "err", err)
			continue
		}
		b.hub.Deliver(events)
	}
}

// Stop ends the subscription, waiting until ctx is done at most.
func (b *RedisBus) Stop(ctx context.Context) error {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	if cancel != nil {
		cancel()
		if b.ps != nil {
			// Unblocks a ReceiveMessage waiting on an idle channel.
			_ = b.ps.Close()
		}
	}
	b.mu.Unlock()
	if cancel == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("live: redis subscription did not end: %w", ctx.Err())
	}
}
