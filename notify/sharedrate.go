package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
)

// RateReserver spaces requests that several processes send on one
// account: Reserve books the next slot and says how long to wait for it.
type RateReserver interface {
	Reserve(ctx context.Context) (time.Duration, error)
}

// RedisRate is a RateReserver shared through Redis by every instance: the
// account's rate holds however many workers send, as the in-process
// limiter holds it for one. Slots are spaced 1/perSecond apart on Redis's
// own clock (no instance's clock skews them), with no bursts.
type RedisRate struct {
	rdb      *redis.Client
	key      string
	interval time.Duration
}

// NewRedisRate returns a reserver of perSecond slots under key.
func NewRedisRate(rdb *redis.Client, key string, perSecond float64) *RedisRate {
	return &RedisRate{rdb: rdb, key: key, interval: time.Duration(float64(time.Second) / perSecond)}
}

// reserveScript books the slot at the key's "theoretical arrival time" (or
// now, when that has passed), moves it one interval on and answers the wait
// in microseconds. The key expires a second after the last slot booked.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local next = slot + interval
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.floor((next - now) / 1000) + 1000)
return slot - now
`)

// Reserve implements RateReserver.
func (r *RedisRate) Reserve(ctx context.Context) (time.Duration, error) {
	us, err := reserveScript.Run(ctx, r.rdb, []string{r.key}, r.interval.Microseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("reserve a send slot in redis: %w", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// mSharedRateDown counts sends spaced by the process's own limiter because
// the shared one did not answer: while it grows, instances may together
// send faster than the account allows.
var mSharedRateDown = metrics.NewCounter(`freshtrack_sms_shared_rate_unavailable_total`)
