package billing_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/stripetest"
	"github.com/freshtrack/freshtrack/schema"
)

// metered gives the bench's organisation a live subscription metered from
// the hour from, three sensors from before it and a fourth from 90
// minutes after, and readings: 5 in the first hour, 7 in the second, 2 in
// the third.
func (b *bench) metered(t *testing.T, from time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, `INSERT INTO subscriptions (org_id, stripe_customer_id, stripe_subscription_id, plan, status, metered_from)
		VALUES ($1, 'cus_meter', 'sub_meter', 'pro', 'active', $2)`, b.org, from); err != nil {
		t.Fatal(err)
	}
	var sensor int64
	for i, at := range []time.Time{from.Add(-time.Hour), from.Add(-time.Hour), from.Add(-time.Hour), from.Add(90 * time.Minute)} {
		if err := b.pool.QueryRow(ctx, `INSERT INTO sensors (org_id, external_id, created_at) VALUES ($1, $2, $3) RETURNING id`,
			b.org, "dev-"+strconv.Itoa(i), at).Scan(&sensor); err != nil {
			t.Fatal(err)
		}
	}
	// A stand-in of FreshTrack Pro's per-unit readings is not a device.
	if _, err := b.pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id, created_at) VALUES ($1, 'unit:' || gen_random_uuid(), $2)`, b.org, from.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	store, err := schema.OpenStore(ctx, b.pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for hour, n := range []int{5, 7, 2} {
		for i := range n {
			times = append(times, from.Add(time.Duration(hour)*time.Hour+time.Duration(i)*time.Minute))
		}
	}
	if err := store.EnsurePartitions(ctx, times...); err != nil {
		t.Fatal(err)
	}
	for _, at := range times {
		if _, err := b.pool.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, $2, 3.5)`, at, sensor); err != nil {
			t.Fatal(err)
		}
	}
}

// threeClosedHours is a bench metered from h0, three hours before now's
// hour, with now a quarter past it: three closed hours to send per meter.
func threeClosedHours(t *testing.T) (b *bench, h0, now time.Time) {
	t.Helper()
	b = newBench(t)
	h0 = time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	b.metered(t, h0)
	return b, h0, h0.Add(3*time.Hour + 15*time.Minute)
}

type sentEvent struct {
	event, identifier, customer, value string
	timestamp                          int64
}

func meterEvents(rec *stripetest.Recorder) []sentEvent {
	var out []sentEvent
	for _, r := range rec.Requests("/v1/billing/meter_events") {
		ts, _ := strconv.ParseInt(r.Form.Get("timestamp"), 10, 64)
		out = append(out, sentEvent{event: r.Form.Get("event_name"), identifier: r.Form.Get("identifier"),
			customer: r.Form.Get("payload[stripe_customer_id]"), value: r.Form.Get("payload[value]"), timestamp: ts})
	}
	return out
}

// billed is what Stripe bills from events: one per identifier (Stripe
// drops a repeated identifier within 24 hours), summed per event name.
func billed(t *testing.T, events []sentEvent) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, e := range events {
		if out[e.event] == nil {
			out[e.event] = map[string]string{}
		}
		if prev, ok := out[e.event][e.identifier]; ok && prev != e.value {
			t.Errorf("identifier %s sent with %s and then %s", e.identifier, prev, e.value)
		}
		out[e.event][e.identifier] = e.value
	}
	return out
}

func TestMeterSendsEachClosedHourOnce(t *testing.T) {
	t.Parallel()
	b, h0, now := threeClosedHours(t)
	ctx := context.Background()
	res, err := b.svc.Meter(ctx, now)
	if err != nil || res.Sent != 6 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	want := map[string]string{}
	for i, v := range []string{"3", "4", "4"} {
		want["active_sensors|"+billing.Identifier(b.org, billing.MetricActiveSensors, h0.Add(time.Duration(i)*time.Hour))] = v
	}
	for i, v := range []string{"5", "7", "2"} {
		want["temperature_readings|"+billing.Identifier(b.org, billing.MetricReadings, h0.Add(time.Duration(i)*time.Hour))] = v
	}
	events := meterEvents(b.stripe)
	for _, e := range events {
		key := e.event + "|" + e.identifier
		if want[key] != e.value || e.customer != "cus_meter" {
			t.Errorf("sent %+v, want value %q", e, want[key])
		}
		hour, _ := strconv.ParseInt(e.identifier[len(e.identifier)-10:], 10, 64)
		if e.timestamp != hour+3599 {
			t.Errorf("%s timestamp %d, want the hour's last second %d", e.identifier, e.timestamp, hour+3599)
		}
		delete(want, key)
	}
	if len(want) != 0 {
		t.Errorf("not sent: %v", want)
	}
	// Nothing new: nothing sent.
	if res, err := b.svc.Meter(ctx, now.Add(10*time.Minute)); err != nil || res != (billing.MeterResult{}) || len(meterEvents(b.stripe)) != 6 {
		t.Errorf("second run in the same hour: %+v %v, %d events", res, err, len(meterEvents(b.stripe)))
	}
	// An hour later, the next hour of each meter.
	if res, err := b.svc.Meter(ctx, now.Add(time.Hour)); err != nil || res.Sent != 2 {
		t.Errorf("next hour: %+v %v", res, err)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM usage_reports WHERE org_id = $1 AND status = 'sent'`, b.org); n != 8 {
		t.Errorf("%d hours recorded as sent, want 8", n)
	}
}

// TestMeterCrashBetweenSendAndRecord: the hour is sent again with the
// identifier and value recorded before the first send, so Stripe keeps
// one; what changed in the database since does not change what is billed.
func TestMeterCrashBetweenSendAndRecord(t *testing.T) {
	t.Parallel()
	b, h0, now := threeClosedHours(t)
	ctx := context.Background()
	crashed := 0
	billing.SetAfterSend(b.svc, func(string) error {
		if crashed == 0 {
			crashed++
			return context.DeadlineExceeded // the process died before it recorded the send
		}
		return nil
	})
	if _, err := b.svc.Meter(ctx, now); err == nil {
		t.Fatal("the crashed run reported no error")
	}
	sensorEvents := func() []sentEvent {
		var out []sentEvent
		for _, e := range meterEvents(b.stripe) {
			if e.event == "active_sensors" {
				out = append(out, e)
			}
		}
		return out
	}
	// The crash stops that meter; the other one went on.
	first := sensorEvents()
	if len(first) != 1 || len(meterEvents(b.stripe)) != 4 {
		t.Fatalf("%d sensor events and %d in all before the crash, want 1 and 4", len(first), len(meterEvents(b.stripe)))
	}
	if n := count(t, b.pool, `SELECT count(*) FROM usage_reports WHERE org_id = $1 AND status = 'pending' AND identifier = $2`, b.org, first[0].identifier); n != 1 {
		t.Fatalf("the crashed hour is not pending (%d)", n)
	}
	// A sensor added since must not change the crashed hour's value.
	if _, err := b.pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id, created_at) VALUES ($1, 'late', $2)`, b.org, h0.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, err := b.svc.Meter(ctx, now)
	if err != nil || res.Sent != 3 {
		t.Fatalf("run after the crash: %+v %v", res, err)
	}
	events := sensorEvents()
	if len(events) != 4 || events[1] != first[0] {
		t.Errorf("after the crash the first send was %+v, then %+v", first[0], events[1:])
	}
	got := billed(t, meterEvents(b.stripe))
	if len(got["active_sensors"]) != 3 || len(got["temperature_readings"]) != 3 {
		t.Errorf("Stripe keeps %d and %d hours, want 3 and 3", len(got["active_sensors"]), len(got["temperature_readings"]))
	}
	if res, err := b.svc.Meter(ctx, now); err != nil || res.Sent != 0 {
		t.Errorf("a third run sent %+v %v", res, err)
	}
}

// TestMeterCatchesUpAfterDowntime: after weeks without a run, every hour
// Stripe still accepts is sent and the older ones are recorded as not
// sent, in one row that the billing status reports.
func TestMeterCatchesUpAfterDowntime(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	ctx := context.Background()
	now := time.Now().UTC()
	from := now.Truncate(time.Hour).Add(-40 * 24 * time.Hour)
	b.metered(t, from)
	res, err := b.svc.Meter(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	events := meterEvents(b.stripe)
	oldest := now.Add(-35 * 24 * time.Hour).Unix()
	for _, e := range events {
		if e.timestamp < oldest {
			t.Fatalf("sent %s with timestamp %d, older than Stripe accepts (%d)", e.identifier, e.timestamp, oldest)
		}
	}
	// 35 days less the hour of margin, of closed hours, per meter.
	if res.Skipped != 2 || res.Sent != len(events) || res.Sent < 2*(35*24-3) {
		t.Errorf("%+v with %d events", res, len(events))
	}
	var lastErr string
	var start, end time.Time
	if err := b.pool.QueryRow(ctx, `SELECT period_start, period_end, last_error FROM usage_reports WHERE org_id = $1 AND metric = 'active_sensors' AND status = 'skipped'`, b.org).
		Scan(&start, &end, &lastErr); err != nil {
		t.Fatal(err)
	}
	if !start.Equal(from) || end.Sub(start) < 4*24*time.Hour {
		t.Errorf("skipped %s to %s", start, end)
	}
	st, err := b.svc.Status(ctx, b.org)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Metering {
		if m.Unsent != 1 || m.LastSentHour == nil {
			t.Errorf("metering status %+v", m)
		}
	}
}

// TestMeterFailures: Stripe unreachable leaves the hour pending for the
// next run; a refusal is recorded and not retried; an hour not confirmed
// within Stripe's deduplication window is not sent again, and is reported.
func TestMeterFailures(t *testing.T) {
	t.Parallel()
	b, h0, now := threeClosedHours(t)
	ctx := context.Background()
	b.stripe.SetFail(func(r *http.Request) (int, string, bool) {
		return 503, `{"error":{"type":"api_error","message":"down for maintenance"}}`, r.URL.Path == "/v1/billing/meter_events"
	})
	if _, err := b.svc.Meter(ctx, now); err == nil {
		t.Fatal("an outage reported no error")
	}
	if n := count(t, b.pool, `SELECT count(*) FROM usage_reports WHERE org_id = $1 AND status = 'pending' AND attempts = 1`, b.org); n != 2 {
		t.Errorf("%d hours pending after the outage, want the first of each meter", n)
	}
	b.stripe.SetFail(nil)
	if res, err := b.svc.Meter(ctx, now); err != nil || res.Sent != 6 {
		t.Errorf("after the outage: %+v %v", res, err)
	}

	b.stripe.SetFail(func(r *http.Request) (int, string, bool) {
		return 400, `{"error":{"type":"invalid_request_error","message":"No active meter found for event name"}}`, true
	})
	res, err := b.svc.Meter(ctx, now.Add(time.Hour))
	if err != nil || res.Failed != 2 {
		t.Errorf("refused: %+v %v", res, err)
	}
	b.stripe.SetFail(nil)
	if res, err := b.svc.Meter(ctx, now.Add(time.Hour)); err != nil || res.Sent != 0 {
		t.Errorf("a refused hour was retried: %+v %v", res, err)
	}

	// Recorded a day ago and never confirmed: sending it now could bill twice.
	if _, err := b.pool.Exec(ctx, `INSERT INTO usage_reports (org_id, metric, period_start, period_end, quantity, identifier, customer_id, status, created_at)
		VALUES ($1, 'readings', $2, $3, 9, 'freshtrack:old', 'cus_meter', 'pending', now() - interval '25 hours')`, b.org, h0.Add(-24*time.Hour), h0.Add(-23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := len(meterEvents(b.stripe))
	if res, err := b.svc.Meter(ctx, now.Add(time.Hour)); err != nil || res.Unknown != 1 || len(meterEvents(b.stripe)) != before {
		t.Errorf("stale pending hour: %+v %v", res, err)
	}
	st, err := b.svc.Status(ctx, b.org)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Metering {
		want := 1
		if m.Metric == billing.MetricReadings {
			want = 2
		}
		if m.Unsent != want || m.Pending != 0 {
			t.Errorf("%s: %+v, want %d unsent", m.Metric, m, want)
		}
	}
}
