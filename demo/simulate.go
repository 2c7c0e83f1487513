package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// SimulateOptions configure Simulate.
type SimulateOptions struct {
	// Target is the server's base URL, e.g. http://127.0.0.1:8080.
	Target string
	// Interval is each sensor's reporting period. Defaults to 10s.
	Interval time.Duration
	// Logger receives one line per post. Defaults to slog.Default().
	Logger *slog.Logger
	// Client defaults to a client with a 10s timeout.
	Client *http.Client
	// History, when positive, is how far back Simulate first fills the
	// fleet's record (one reading per HistoryStep, in range, the warming
	// fridge included), so the demo has a week to chart, report and sign
	// before the live readings start.
	History time.Duration
	// HistoryStep is the spacing of the history's readings. Defaults to 5m.
	HistoryStep time.Duration
}

// sensorState is one simulated sensor's physics.
type sensorState struct {
	ext      string
	unit     *Unit
	phase    float64 // compressor cycle offset
	door     float64 // current door-opening excess, decays
	battery  float64
	humidity float64
}

// Simulate posts a reading for every sensor each interval through POST
// /v1/readings, as a gateway would, until ctx ends. It waits for the
// server to be ready first. The warming fridge drifts up about 0.3 °C a
// minute from the start, so it crosses 5 °C within about seven minutes.
func Simulate(ctx context.Context, f Fleet, opts SimulateOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if err := waitReady(ctx, opts.Client, opts.Target); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var states []*sensorState
	for i := range f.Units {
		u := &f.Units[i]
		for _, ext := range u.Sensors {
			states = append(states, &sensorState{ext: ext, unit: u, phase: rng.Float64() * 2 * math.Pi,
				battery: 70 + rng.Float64()*30, humidity: 45 + rng.Float64()*30})
		}
	}
	start := time.Now()
	if opts.History > 0 {
		if err := backfill(ctx, f, opts, states, start, rng); err != nil {
			return err
		}
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		now := time.Now()
		body := encode(states, now, now.Sub(start), rng)
		if err := post(ctx, opts, f.APIKey, body, len(states)); err != nil {
			opts.Logger.Warn("demo post failed; will retry next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// historyBatch is how many readings one history post carries: well under
// the API's batch limit.
const historyBatch = 2000

// backfill posts opts.History of readings before start through the same
// API as the live readings. The warming fridge behaves in the past: its
// drift starts with the live readings.
func backfill(ctx context.Context, f Fleet, opts SimulateOptions, states []*sensorState, start time.Time, rng *rand.Rand) error {
	step := opts.HistoryStep
	if step <= 0 {
		step = 5 * time.Minute
	}
	from := start.Add(-opts.History)
	var (
		b    bytes.Buffer
		n    int
		sent int
	)
	flush := func() error {
		if n == 0 {
			return nil
		}
		b.WriteString(`]}`)
		if err := post(ctx, opts, f.APIKey, b.Bytes(), n); err != nil {
			return fmt.Errorf("demo history: %w", err)
		}
		sent += n
		b.Reset()
		n = 0
		return nil
	}
	for i := range int(opts.History / step) {
		at := from.Add(time.Duration(i) * step)
		for _, s := range states {
			if n == historyBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			if n == 0 {
				b.WriteString(`{"readings":[`)
			} else {
				b.WriteByte(',')
			}
			temp := s.steadyTemperature(at.Sub(from), rng)
			fmt.Fprintf(&b, `{"sensor":%q,"time":%q,"temp_c":%s}`, s.ext, at.UTC().Format(time.RFC3339Nano), strconv.FormatFloat(temp, 'f', 2, 64))
			n++
		}
	}
	if err := flush(); err != nil {
		return err
	}
	opts.Logger.Info("demo history posted", "readings", sent, "from", from.UTC().Format(time.RFC3339), "step", step)
	return nil
}

// steadyTemperature is temperature without the warming fridge's drift and
// without door openings: a unit holding its range.
func (s *sensorState) steadyTemperature(elapsed time.Duration, rng *rand.Rand) float64 {
	return math.Round((s.cycle(elapsed.Minutes())+rng.NormFloat64()*0.05)*100) / 100
}

// cycle is the unit's setpoint and its compressor (or heater) cycle.
func (s *sensorState) cycle(minutes float64) float64 {
	u := s.unit
	mid := (u.SafeMin + u.SafeMax) / 2
	amp := (u.SafeMax - u.SafeMin) / 6
	if u.Kind == "fridge" || u.Kind == "walk_in" {
		mid, amp = 3, 0.8
	}
	return mid + amp*math.Sin(2*math.Pi*minutes/20+s.phase)
}

// temperature models a unit: setpoint, a compressor (or heater) cycle,
// door openings and, for the warming fridge, a steady drift upwards.
func (s *sensorState) temperature(elapsed time.Duration, rng *rand.Rand) float64 {
	u := s.unit
	minutes := elapsed.Minutes()
	t := s.cycle(minutes)
	if rng.Float64() < 0.02 && u.Kind != "hot_holding" {
		s.door = 2.5 + rng.Float64()*2 // someone opened the door
	}
	t += s.door
	s.door *= 0.6
	if u.Warming {
		t += 0.3 * minutes
		if t > 14 {
			t = 14 + rng.Float64()*0.3
		}
	}
	return math.Round((t+rng.NormFloat64()*0.05)*100) / 100
}

func encode(states []*sensorState, now time.Time, elapsed time.Duration, rng *rand.Rand) []byte {
	var b bytes.Buffer
	b.WriteString(`{"readings":[`)
	ts := now.UTC().Format(time.RFC3339Nano)
	for i, s := range states {
		if i > 0 {
			b.WriteByte(',')
		}
		s.battery = math.Max(5, s.battery-0.001)
		s.humidity = math.Min(95, math.Max(20, s.humidity+rng.NormFloat64()*0.5))
		fmt.Fprintf(&b, `{"sensor":%q,"time":%q,"temp_c":%s,"humidity":%s,"battery":%s}`,
			s.ext, ts, strconv.FormatFloat(s.temperature(elapsed, rng), 'f', 2, 64),
			strconv.FormatFloat(math.Round(s.humidity*10)/10, 'f', 1, 64),
			strconv.FormatFloat(math.Round(s.battery), 'f', 0, 64))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func post(ctx context.Context, opts SimulateOptions, key string, body []byte, n int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, opts.Target+"/v1/readings", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := opts.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/readings: %s: %s", resp.Status, respBody)
	}
	var r struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
		Rejected   []struct {
			Index  int    `json:"index"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(respBody, &r); err != nil {
		return fmt.Errorf("POST /v1/readings: unreadable answer %q: %w", respBody, err)
	}
	opts.Logger.Info("demo readings posted", "sent", n, "accepted", r.Accepted, "duplicates", r.Duplicates, "rejected", len(r.Rejected))
	return nil
}

func waitReady(ctx context.Context, c *http.Client, target string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s not ready after 60s (last: %v)", target, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
