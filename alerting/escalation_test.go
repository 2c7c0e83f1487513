package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/ingest"
)

// openAlert opens a temp_high alert on a new fridge (a rule with no confirm
// delay, so the first warm reading opens it) and returns it.
func (f *fixture) openAlert() (Alert, int64) {
	f.t.Helper()
	unit, sensor := f.unit("fridge")
	f.rule(unit, KindTempHigh, 5, 0, 0.5, false)
	f.feed(sensor, f.clock.Now(), time.Minute, 9)
	return f.one(unit), sensor
}

func (f *fixture) escalate(alert string, step int) bool {
	f.t.Helper()
	sent, err := f.ev.Escalate(f.ctx, alert, step)
	if err != nil {
		f.t.Fatalf("escalate %s to %d: %v", alert, step, err)
	}
	return sent
}

func (f *fixture) escalationStep(alert string) int {
	f.t.Helper()
	return f.count(`SELECT escalation_step FROM alerts WHERE id = $1`, alert)
}

func TestEscalationStepsFireOnceInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1}) {
		t.Fatalf("at open: %v", got)
	}
	if !f.escalate(a.ID, 1) || f.escalate(a.ID, 1) {
		t.Fatal("step 1 was not sent exactly once")
	}
	// Step 1 of the built-in policy: SMS and email to the manager.
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2}) {
		t.Fatalf("after step 1: %v", got)
	}
	if !f.escalate(a.ID, 2) || f.escalate(a.ID, 2) || f.escalate(a.ID, 1) || f.escalate(a.ID, 3) {
		t.Fatal("step 2 was not sent exactly once, or an old or missing step was")
	}
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2, 2: 1}) {
		t.Fatalf("after step 2: %v", got)
	}
	if f.escalationStep(a.ID) != 2 {
		t.Fatalf("escalation_step %d", f.escalationStep(a.ID))
	}
	if got := f.events(a.ID); !slices.Equal(got, []string{"triggered", "notified", "escalated", "escalated"}) {
		t.Fatalf("events %v", got)
	}

	// A job that runs late (or jobs run out of order) sends the earlier
	// steps first, each once.
	b, _ := f.openAlert()
	if !f.escalate(b.ID, 2) || f.escalate(b.ID, 1) {
		t.Fatal("catching up from step 0 to 2")
	}
	if got := f.sentSteps(b.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2, 2: 1}) {
		t.Fatalf("caught up: %v", got)
	}
	var details []string
	rows, err := f.pool.Query(f.ctx, `SELECT details->>'step' FROM alert_events WHERE alert_id = $1 AND kind = 'escalated' ORDER BY id`, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if details, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || !slices.Equal(details, []string{"1", "2"}) {
		t.Fatalf("escalated steps %v %v", details, err)
	}
}

func TestAcknowledgedAlertEscalatesNoFurther(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	f.escalate(a.ID, 1)
	if _, err := Acknowledge(f.ctx, f.pool, AckParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager, Comment: "on my way"}); err != nil {
		t.Fatal(err)
	}
	if f.escalate(a.ID, 2) {
		t.Fatal("an acknowledged alert escalated")
	}
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2}) || f.escalationStep(a.ID) != 1 {
		t.Fatalf("after acknowledgement: %v, step %d", got, f.escalationStep(a.ID))
	}
	// The sweep's backstop leaves it alone too.
	f.clock.Add(2 * time.Hour)
	if res := f.sweep(); res.Escalated != 0 {
		t.Fatalf("sweep escalated an acknowledged alert: %+v", res)
	}
}

func TestSweepSendsOverdueStepsOfLostJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	f.exec(`DELETE FROM river_job WHERE kind = 'alerting_escalate'`) // lost
	f.clock.Set(a.OpenedAt.Add(15 * time.Minute))
	if res := f.sweep(); res.Escalated != 0 {
		t.Fatalf("sweep did not leave the job its grace period: %+v", res)
	}
	f.clock.Set(a.OpenedAt.Add(16 * time.Minute))
	if res := f.sweep(); res.Escalated != 1 || f.escalationStep(a.ID) != 1 {
		t.Fatalf("sweep after the grace period: %+v, step %d", res, f.escalationStep(a.ID))
	}
	f.clock.Set(a.OpenedAt.Add(2 * time.Hour))
	f.sweep()
	f.sweep()
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2, 2: 1}) {
		t.Fatalf("backstop sent %v", got)
	}
}

func TestEscalationPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The organisation's default policy: email the owner at once, then SMS
	// a named contact (off shift) after 5 minutes.
	f.exec(`UPDATE contacts SET on_shift = false WHERE id = $1`, f.cStaff)
	steps, _ := json.Marshal([]Step{
		{AfterMinutes: 0, Channels: []string{"email"}, Roles: []string{"owner"}},
		{AfterMinutes: 5, Channels: []string{"sms"}, ContactIDs: []string{f.cStaff}},
	})
	f.exec(`INSERT INTO escalation_policies (org_id, name, steps) VALUES ($1, 'org default', $2)`, f.org, json.RawMessage(steps))
	// A second site with its own policy: SMS its staff on shift.
	var site2 string
	f.must(`INSERT INTO sites (org_id, name) VALUES ($1, 'Second') RETURNING id::text`, []any{&site2}, f.org)
	_, c2 := f.member(f.org, site2, "staff", "+15550000009", "")
	f.exec(`INSERT INTO escalation_policies (org_id, site_id, name, steps) VALUES ($1, $2, 'site', '[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]')`, f.org, site2)
	f.start()

	a, _ := f.openAlert()
	var addr string
	f.must(`SELECT recipient FROM notifications WHERE alert_id = $1`, []any{&addr}, a.ID)
	if addr != "owner@example.com" {
		t.Fatalf("step 0 of the organisation policy went to %s", addr)
	}
	var scheduled time.Time
	f.must(`SELECT scheduled_at FROM river_job WHERE args->>'alert_id' = $1 AND args->>'step' = '1'`, []any{&scheduled}, a.ID)
	if !scheduled.Equal(a.OpenedAt.Add(5 * time.Minute)) {
		t.Fatalf("step 1 scheduled at %s", scheduled)
	}
	f.escalate(a.ID, 1)
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1 AND contact_id = $2 AND channel = 'sms'`, a.ID, f.cStaff); n != 1 {
		t.Fatalf("named contact (off shift) got %d messages, want 1", n)
	}

	unit2, sensor2 := f.unitIn(f.org, site2, "fridge")
	f.rule(unit2, KindTempHigh, 5, 0, 0.5, false)
	f.feed(sensor2, f.clock.Now(), time.Minute, 9)
	b := f.one(unit2)
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1 AND contact_id = $2`, b.ID, c2); n != 1 {
		t.Fatalf("site policy: %d messages to the site's staff", n)
	}
	if n := f.count(`SELECT count(*) FROM river_job WHERE args->>'alert_id' = $1`, b.ID); n != 0 {
		t.Fatalf("a one-step policy scheduled %d jobs", n)
	}
}

func TestValidateSteps(t *testing.T) {
	t.Parallel()
	f := func(raw, wantField string) {
		t.Helper()
		err := ValidateSteps(json.RawMessage(raw))
		var ve *ValidationError
		switch {
		case wantField == "" && err != nil:
			t.Errorf("%s: %v", raw, err)
		case wantField != "" && (!errors.As(err, &ve) || ve.Field != wantField):
			t.Errorf("%s: error %v, want one naming %s", raw, err, wantField)
		}
	}
	id := "0b9d6e4e-8a1e-4c8e-9a51-2f4b9d3c1a77"
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]`, "")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":15,"channels":["sms","email"],"roles":["manager","admin"],"contact_ids":["`+id+`"]},{"after_minutes":15,"channels":["email"],"contact_ids":["`+id+`"]}]`, "")
	f(`{}`, "steps")
	f(`[]`, "steps")
	f(`null`, "steps")
	f(`[1]`, "steps[0]")
	f(`[{"channels":["sms"],"roles":["staff"]}]`, "steps[0].after_minutes")
	f(`[{"after_minutes":5,"channels":["sms"],"roles":["staff"]}]`, "steps[0].after_minutes")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":-1,"channels":["sms"],"roles":["staff"]}]`, "steps[1].after_minutes")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":1.5,"channels":["sms"],"roles":["staff"]}]`, "steps[1].after_minutes")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":30,"channels":["sms"],"roles":["staff"]},{"after_minutes":20,"channels":["sms"],"roles":["owner"]}]`, "steps[2].after_minutes")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":100000,"channels":["sms"],"roles":["staff"]}]`, "steps[1].after_minutes")
	f(`[{"after_minutes":0,"channels":[],"roles":["staff"]}]`, "steps[0].channels")
	f(`[{"after_minutes":0,"roles":["staff"]}]`, "steps[0].channels")
	f(`[{"after_minutes":0,"channels":["pager"],"roles":["staff"]}]`, "steps[0].channels[0]")
	f(`[{"after_minutes":0,"channels":["sms","sms"],"roles":["staff"]}]`, "steps[0].channels[1]")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["chef"]}]`, "steps[0].roles[0]")
	f(`[{"after_minutes":0,"channels":["sms"]}]`, "steps[0].roles")
	f(`[{"after_minutes":0,"channels":["sms"],"contact_ids":["nope"]}]`, "steps[0].contact_ids[0]")
	f(`[{"after_minutes":0,"channels":["sms"],"roles":["staff"],"delay":3}]`, "steps[0]")
	f(`[`+strings.Repeat(`{"after_minutes":0,"channels":["sms"],"roles":["staff"]},`, MaxSteps)+`{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]`, "steps")
	// The built-in policy is valid.
	raw, _ := json.Marshal(DefaultSteps())
	f(string(raw), "")
}

// newRiver returns a started River client working alerting's queue with
// the evaluator's workers, stopped at cleanup.
func (f *fixture) newRiver(ev *Evaluator) *river.Client[pgx.Tx] {
	f.t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, &EscalateWorker{Evaluator: ev})
	river.AddWorker(workers, &SweepWorker{Evaluator: ev})
	client, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{QueueAlerting: {MaxWorkers: 4}},
		Workers:           workers,
		PeriodicJobs:      []*river.PeriodicJob{SweepPeriodicJob(time.Hour)},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            quiet,
		TestOnly:          true,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := client.Start(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx) // an error for a client the test stopped already
	})
	return client
}

// waitFor polls cond until it holds or the deadline passes.
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestEscalationThroughRiver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The clock runs 40 minutes behind: both later steps (15 and 30
	// minutes after opening) are due as soon as the alert opens.
	f.clock.Set(time.Now().UTC().Truncate(time.Second).Add(-40 * time.Minute))
	ev := f.start()
	f.newRiver(ev)
	a, _ := f.openAlert()
	f.waitFor("both escalation steps", func() bool { return f.escalationStep(a.ID) == 2 })
	f.waitFor("the escalation jobs to complete", func() bool {
		return f.count(`SELECT count(*) FROM river_job WHERE kind = 'alerting_escalate' AND state = 'completed'`) == 2
	})
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2, 2: 1}) {
		t.Fatalf("sent %v", got)
	}
	// The periodic sweep ran on start, on the alerting queue.
	f.waitFor("the sweep", func() bool {
		return f.count(`SELECT count(*) FROM river_job WHERE kind = 'alerting_sweep' AND state = 'completed' AND queue = $1`, QueueAlerting) >= 1
	})
}

func TestRestartLosesNothingAndSendsNothingTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Real time minus 20 minutes: alert X's step 1 (15 minutes after
	// opening) is due at once, its step 2 ten minutes from now.
	f.clock.Set(time.Now().UTC().Truncate(time.Second).Add(-20 * time.Minute))
	evA := f.start()
	riverA := f.newRiver(evA)

	unitX, sensorX := f.unit("fridge")
	unitY, sensorY := f.unit("fridge")
	f.rule(unitX, KindTempHigh, 5, 0, 0.5, false)
	at := f.feed(sensorX, f.clock.Now(), time.Minute, 9, 9)
	x := f.one(unitX)
	f.waitFor("step 1 of X", func() bool { return f.escalationStep(x.ID) == 1 })

	// Y is 10 minutes into a 15-minute confirm delay.
	yStart := at
	var lastBatch []ingest.Row
	for i := range 10 {
		r := row(sensorY, yStart.Add(time.Duration(i)*time.Minute), 8)
		f.clock.Set(yStart.Add(time.Duration(i) * time.Minute))
		f.write(r)
		lastBatch = []ingest.Row{r}
	}
	if ph, _ := f.state(unitY, KindTempHigh); ph != "pending" {
		t.Fatalf("Y state %s, want pending", ph)
	}

	// The process goes away.
	stopCtx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	if err := riverA.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	f.stop()

	// A new process on the same database.
	evB := f.start()
	f.newRiver(evB)
	// Readings resume: Y's excursion is remembered and opens one alert,
	// dated from its true start.
	f.feed(sensorY, yStart.Add(10*time.Minute), time.Minute, 8, 8, 8, 8, 8, 8)
	y := f.one(unitY)
	if !y.StartedAt.Equal(yStart) || !y.OpenedAt.Equal(yStart.Add(15*time.Minute)) {
		t.Fatalf("Y = %+v, want started %s", y, yStart)
	}
	// The old process's last batch delivered again, and sweeps: nothing new.
	if err := evB.Evaluate(f.ctx, ingest.Committed{Rows: lastBatch, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.sweep()
	f.sweep()
	// X's step 2 becomes due: the new process's River sends it once.
	f.exec(`UPDATE river_job SET state = 'available', scheduled_at = now()
	         WHERE kind = 'alerting_escalate' AND args->>'alert_id' = $1 AND args->>'step' = '2'`, x.ID)
	f.waitFor("step 2 of X", func() bool { return f.escalationStep(x.ID) == 2 })
	f.sweep()

	if n := f.count(`SELECT count(*) FROM alerts`); n != 2 {
		t.Fatalf("%d alerts, want X and Y", n)
	}
	if got := f.sentSteps(x.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2, 2: 1}) {
		t.Fatalf("X sent %v", got)
	}
	if got := f.sentSteps(y.ID); got[0] != 1 {
		t.Fatalf("Y sent %v", got)
	}
	if got := fmt.Sprint(f.events(x.ID)); got != "[triggered notified escalated escalated]" {
		t.Fatalf("X events %s", got)
	}
}

func TestConcurrentEvaluatorsOpenOneAlert(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	// Three processes' evaluators on one database, all handed the same
	// readings at once (as if delivered to each).
	var evs []*Evaluator
	for range 3 {
		ev, err := NewEvaluator(f.config())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	f.ev = evs[0]
	start := f.clock.Now()
	for i := range 20 {
		at := start.Add(time.Duration(i) * time.Minute)
		f.clock.Set(at)
		r := []ingest.Row{row(sensor, at, 9)}
		if _, err := f.writer.Write(f.ctx, r); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, len(evs))
		for _, ev := range evs {
			go func() { errs <- ev.Evaluate(f.ctx, ingest.Committed{Rows: r, At: time.Now()}) }()
		}
		for range evs {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ev := range evs {
		if _, err := ev.Sweep(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	a := f.one(unit)
	if !a.StartedAt.Equal(start) || f.sentSteps(a.ID)[0] != 1 {
		t.Fatalf("alert %+v, step-0 messages %v", a, f.sentSteps(a.ID))
	}
	if n := f.count(`SELECT count(*) FROM river_job WHERE kind = 'alerting_escalate'`); n != 2 {
		t.Fatalf("%d escalation jobs, want 2", n)
	}
	// Concurrent escalation of the same step sends it once.
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			_, err := evs[i%3].Escalate(f.ctx, a.ID, 1)
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := f.sentSteps(a.ID); !maps.Equal(got, map[int]int{0: 1, 1: 2}) {
		t.Fatalf("sent %v", got)
	}
}

func TestFailedNotifierOpensNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.rule(unit, KindTempHigh, 5, 0, 0.5, false)
	f.expectErrors = true
	ev, err := NewEvaluator(f.config())
	if err != nil {
		t.Fatal(err)
	}
	f.ev = ev
	f.notes.fail.Store(true)
	at := f.clock.Now()
	r := []ingest.Row{row(sensor, at, 9)}
	if _, err := f.writer.Write(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := ev.Evaluate(f.ctx, ingest.Committed{Rows: r, At: time.Now()}); err == nil {
		t.Fatal("evaluation succeeded although the notifier failed")
	}
	// The alert, its events and its jobs rolled back with the notice.
	if n := f.count(`SELECT count(*) FROM alerts`) + f.count(`SELECT count(*) FROM river_job`) + f.count(`SELECT count(*) FROM alert_events`); n != 0 {
		t.Fatalf("%d rows left by a failed opening", n)
	}
	// The notifier recovers; the next sweep opens the alert, once.
	f.notes.fail.Store(false)
	if _, err := f.latest.Persist(f.ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(at.Add(2 * time.Minute))
	f.sweep()
	f.sweep()
	if a := f.one(unit); !a.StartedAt.Equal(at) || f.sentSteps(a.ID)[0] != 1 {
		t.Fatalf("after recovery: %+v", a)
	}
}

func TestUnworkedQueueIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var buf strings.Builder
	cfg := f.config()
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	ev, err := NewEvaluator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev.checkQueue(f.ctx)
	if strings.Contains(buf.String(), "unworked") {
		t.Fatalf("reported an empty queue: %s", buf.String())
	}
	// An escalation due five minutes ago that no process picked up.
	tx, err := f.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.jobs.InsertManyTx(f.ctx, tx, []river.InsertManyParams{{
		Args: EscalateArgs{AlertID: "0b9d6e4e-8a1e-4c8e-9a51-2f4b9d3c1a77", Step: 1}, InsertOpts: &river.InsertOpts{ScheduledAt: time.Now().Add(-5 * time.Minute)},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	ev.checkQueue(f.ctx)
	if !strings.Contains(buf.String(), "waiting unworked") || !strings.Contains(buf.String(), "jobs=1") {
		t.Fatalf("log = %s", buf.String())
	}
}
