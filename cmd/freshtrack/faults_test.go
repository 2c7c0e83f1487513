package main

// Fault-injection tests of the commit → evaluation handoff, through the real
// binary: whatever happens to serve (SIGKILL, SIGTERM, failing or stalled
// evaluations), every reading it committed is evaluated, so every excursion
// opens exactly one alert, from its first offending reading, notified once.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// The fleet of every fault test: fleetUnits fridges with one sensor each,
// fleetSteps readings per sensor, one every fleetEvery, ending half a minute
// ago (well within the evaluator's 24 h). Every fourth unit has exactly one
// excursion: excursionSteps readings at excursionC from its start step,
// the rest of the time every unit reads normalC.
const (
	fleetUnits     = 40
	fleetSteps     = 180
	fleetEvery     = 30 * time.Second
	excursionSteps = 20 // 10 minutes
	thresholdC     = 5.0
	confirmSeconds = 120
	normalC        = 3.0
	excursionC     = 8.0
	// settleTimeout bounds the wait for evaluation to catch up with
	// everything stored once the load is in.
	settleTimeout = 60 * time.Second
)

// fleet is one test's organisation and the readings it is sent.
type fleet struct {
	pool      *pgxpool.Pool
	org, key  string
	contact   string
	units     []string // unit id by unit number
	rules     []string // the unit's temp_high rule id
	sensors   []string // the unit's sensor (external id)
	t0        time.Time
	excursion map[int]int // unit number → first offending step
}

// newFleet creates the organisation, an ingest key, a site, the units with
// their sensors and rules, and a staff contact on shift with a phone, so
// that step 0 of the built-in escalation records one SMS notification per
// alert (not_configured, as no SMS provider is set up). Each unit has its
// own temp_high rule (5 °C, confirmed after 2 minutes) and its own disabled
// rows for every other kind, which switch the organisation defaults off:
// the readings are back-dated, so while they come in a unit's newest
// reading is up to 90 minutes old, which would open sensor_offline alerts.
// Every row has a threshold (none follows the safe range), so that the
// fixture means the same to evaluators from before and after migration 0008.
func newFleet(t *testing.T, pool *pgxpool.Pool) *fleet {
	t.Helper()
	ctx := context.Background()
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "Fault kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{
		pool: pool, org: org.ID, key: key.Key,
		t0:        time.Now().UTC().Truncate(time.Second).Add(-time.Duration(fleetSteps) * fleetEvery),
		excursion: map[int]int{},
	}
	// Excursions spread over the whole load (steps 12, 26, ..., 138), so
	// that whichever part of it a fault hits holds the start of one.
	for i := 1; i < fleetUnits; i += 4 {
		f.excursion[i] = 12 + 14*(i/4)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var site string
		if err := tx.QueryRow(ctx, `INSERT INTO sites (org_id, name) VALUES ($1, 'Main kitchen') RETURNING id`, f.org).Scan(&site); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO contacts (org_id, site_id, name, phone, role, on_shift)
			VALUES ($1, $2, 'Line cook', '+15550100', 'staff', true) RETURNING id`, f.org, site).Scan(&f.contact); err != nil {
			return err
		}
		for i := range fleetUnits {
			var unit, rule string
			if err := tx.QueryRow(ctx, `
				INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
				VALUES ($1, $2, $3, 'fridge', 0, 5) RETURNING id`, f.org, site, fmt.Sprintf("Fridge %02d", i)).Scan(&unit); err != nil {
				return err
			}
			sensor := fmt.Sprintf("fault-%02d", i)
			if _, err := tx.Exec(ctx, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3)`, f.org, sensor, unit); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `
				INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, hysteresis, severity)
				VALUES ($1, $2, 'temp_high', $3, $4, 0.5, 'critical') RETURNING id`, f.org, unit, thresholdC, confirmSeconds).Scan(&rule); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO alert_rules (org_id, unit_id, kind, threshold, enabled)
				VALUES ($1, $2, 'temp_low', 0, false), ($1, $2, 'sensor_offline', 30, false),
				       ($1, $2, 'battery_low', 15, false), ($1, $2, 'sensor_fault', 0, false)`, f.org, unit); err != nil {
				return err
			}
			f.units, f.rules, f.sensors = append(f.units, unit), append(f.rules, rule), append(f.sensors, sensor)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create the fleet: %v", err)
	}
	return f
}

func (f *fleet) at(step int) time.Time { return f.t0.Add(time.Duration(step) * fleetEvery) }

func (f *fleet) temp(unit, step int) float64 {
	if k0, ok := f.excursion[unit]; ok && step >= k0 && step < k0+excursionSteps {
		return excursionC
	}
	return normalC
}

// post is one POST /v1/readings request.
type post struct {
	body  []byte
	n     int
	acked bool // answered 200 with every reading accepted or a duplicate
}

// plan splits steps [from, to) of every sensor into requests for streams
// senders: sender g owns the sensors whose number is g modulo streams and
// sends them in time order, each request holding perReq sensors ×
// stepsPerReq steps.
func (f *fleet) plan(streams, perReq, stepsPerReq, from, to int) [][]*post {
	out := make([][]*post, streams)
	for g := range streams {
		var mine []int
		for i := g; i < fleetUnits; i += streams {
			mine = append(mine, i)
		}
		for k := from; k < to; k += stepsPerReq {
			for lo := 0; lo < len(mine); lo += perReq {
				var b bytes.Buffer
				b.WriteString(`{"readings":[`)
				n := 0
				for step := k; step < min(k+stepsPerReq, to); step++ {
					for _, i := range mine[lo:min(lo+perReq, len(mine))] {
						if n > 0 {
							b.WriteByte(',')
						}
						fmt.Fprintf(&b, `{"sensor":%q,"time":%q,"temp_c":%g}`, f.sensors[i], f.at(step).Format(time.RFC3339), f.temp(i, step))
						n++
					}
				}
				b.WriteString(`]}`)
				out[g] = append(out[g], &post{body: b.Bytes(), n: n})
			}
		}
	}
	return out
}

// sender posts plans to a server and counts what was acknowledged.
type sender struct {
	key    string
	client *http.Client
	acked  atomic.Int64 // readings acknowledged
	mu     sync.Mutex
	odd    []string // answers that say the test sends something wrong
}

func newSender(f *fleet) *sender {
	return &sender{key: f.key, client: &http.Client{Timeout: 10 * time.Second}}
}

// send posts every request of plan not acknowledged yet, the streams
// concurrently, each in order, pausing pace after each request. A request
// that fails is retried for up to retryFor (0: not retried, so that the
// senders run through their plan once a server is gone).
func (s *sender) send(base string, plan [][]*post, pace, retryFor time.Duration) {
	var wg sync.WaitGroup
	for _, stream := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range stream {
				if p.acked {
					continue
				}
				deadline := time.Now().Add(retryFor)
				for !s.post(base, p) && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
				if pace > 0 {
					time.Sleep(pace)
				}
			}
		}()
	}
	wg.Wait()
}

func (s *sender) post(base string, p *post) bool {
	req, err := http.NewRequest("POST", base+"/v1/readings", bytes.NewReader(p.body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Accepted, Duplicates int
		Rejected             []json.RawMessage
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return false
	}
	if len(r.Rejected) > 0 || r.Accepted+r.Duplicates != p.n {
		s.mu.Lock()
		s.odd = append(s.odd, fmt.Sprintf("%d readings: %d accepted, %d duplicates, rejected %s", p.n, r.Accepted, r.Duplicates, r.Rejected))
		s.mu.Unlock()
		return false
	}
	p.acked = true
	s.acked.Add(int64(p.n))
	return true
}

// unacked counts the requests and readings of plan not acknowledged.
func unacked(plan [][]*post) (reqs, readings int) {
	for _, stream := range plan {
		for _, p := range stream {
			if !p.acked {
				reqs++
				readings += p.n
			}
		}
	}
	return reqs, readings
}

// faultRun is what one test learnt along the way, dumped when it fails.
type faultRun struct {
	t     *testing.T
	f     *fleet
	s     *sender
	procs []*serveProc
	notes []string
}

func (r *faultRun) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.t.Log(msg)
	r.notes = append(r.notes, msg)
}

// snapshotMetrics notes what the process says about the handoff.
func (r *faultRun) snapshotMetrics(p *serveProc, when string) {
	m := p.metrics("freshtrack_ingest_subscriber_dropped_total", "freshtrack_alerting_errors_total",
		"freshtrack_alerting_batches_total", "freshtrack_alerting_rows_total", "freshtrack_ingest_rows_total",
		"freshtrack_ingest_flush_rows_count", "freshtrack_alerting_alerts_opened_total", "freshtrack_alerting_backlog")
	r.note("%s metrics %s:\n%s", p.name, when, strings.TrimRight(m, "\n"))
}

// requireAllStored finishes the load: every request must end up
// acknowledged, and every reading stored.
func (r *faultRun) requireAllStored(plan ...[][]*post) {
	r.t.Helper()
	if len(r.s.odd) > 0 {
		r.t.Fatalf("the server rejected readings the test means to be valid: %s", strings.Join(r.s.odd, "; "))
	}
	for _, p := range plan {
		if n, readings := unacked(p); n > 0 {
			r.t.Fatalf("%d requests (%d readings) were never acknowledged\n%s", n, readings, r.dump())
		}
	}
	var short []string
	rows, err := r.f.pool.Query(context.Background(), `
		SELECT s.external_id, count(rd.time) FROM sensors s LEFT JOIN readings rd ON rd.sensor_id = s.id
		 WHERE s.org_id = $1 GROUP BY s.external_id ORDER BY s.external_id`, r.f.org)
	if err != nil {
		r.t.Fatal(err)
	}
	var (
		sensor string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&sensor, &n}, func() error {
		if n != fleetSteps {
			short = append(short, fmt.Sprintf("%s has %d", sensor, n))
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(short) > 0 {
		r.t.Fatalf("acknowledged readings are missing (want %d per sensor): %s", fleetSteps, strings.Join(short, ", "))
	}
}

// waitSettled waits until the durable handoff is empty and every unit's
// temp_high state has evaluated the newest reading and is back to ok (each
// excursion ends long before the last reading). It returns false, having
// reported the failure, if that does not happen within settleTimeout.
func (r *faultRun) waitSettled() bool {
	r.t.Helper()
	ctx := context.Background()
	last := r.f.at(fleetSteps - 1)
	deadline := time.Now().Add(settleTimeout)
	start := time.Now()
	for {
		var backlog, behind int
		err := r.f.pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM evaluation_backlog),
			       (SELECT count(*) FROM unnest($1::text[], $2::text[]) AS x(unit_id, rule_id)
			         WHERE NOT EXISTS (SELECT 1 FROM alert_state s
			                            WHERE s.unit_id = x.unit_id::uuid AND s.rule_id = x.rule_id::uuid
			                              AND s.state = 'ok' AND s.evaluated_to >= $3))`,
			r.f.units, r.f.rules, last).Scan(&backlog, &behind)
		if err != nil {
			r.t.Fatal(err)
		}
		if backlog == 0 && behind == 0 {
			r.note("settled %v after the load: evaluation_backlog empty, every unit evaluated to its newest reading", time.Since(start).Round(100*time.Millisecond))
			return true
		}
		if time.Now().After(deadline) {
			r.t.Errorf("not settled %v after the load: %d evaluation_backlog rows, %d of %d units not evaluated up to their newest reading (%s) or not back to ok\n%s",
				settleTimeout, backlog, behind, fleetUnits, last.Format(time.RFC3339), r.dump())
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unaccounted counts the stored readings, and their units, that are newer
// than what their unit's temp_high state evaluated and that no
// evaluation_backlog row covers.
func (r *faultRun) unaccounted() (readings, units int) {
	r.t.Helper()
	err := r.f.pool.QueryRow(context.Background(), `
		SELECT count(*), count(DISTINCT s.unit_id)
		  FROM readings rd
		  JOIN sensors s ON s.id = rd.sensor_id
		  JOIN alert_rules ru ON ru.unit_id = s.unit_id AND ru.kind = 'temp_high'
		  LEFT JOIN alert_state st ON st.unit_id = s.unit_id AND st.rule_id = ru.id
		 WHERE s.org_id = $1 AND rd.time > coalesce(st.evaluated_to, '-infinity')
		   AND NOT EXISTS (SELECT 1 FROM evaluation_backlog b,
		                          unnest(b.sensor_ids, b.first_times, b.last_times) AS x(sensor_id, first_time, last_time)
		                    WHERE x.sensor_id = s.id AND rd.time BETWEEN x.first_time AND x.last_time)`,
		r.f.org).Scan(&readings, &units)
	if err != nil {
		r.t.Fatal(err)
	}
	r.note("%d stored readings of %d units neither evaluated nor in evaluation_backlog", readings, units)
	return readings, units
}

type alertRow struct {
	id, unit, kind, status string
	startedAt              time.Time
	triggered, notified    int
}

// check asserts what the handoff promises, reporting every violation: each
// designed excursion has exactly one temp_high alert, started at its first
// offending reading, with one 'triggered' and one 'notified' event and one
// step-0 SMS to the contact; no other unit has an alert; no (alert,
// contact, channel) was notified twice; evaluation_backlog is empty.
func (r *faultRun) check(settled bool) {
	r.t.Helper()
	ctx := context.Background()
	f := r.f
	unitOf := map[string]int{}
	for i, u := range f.units {
		unitOf[u] = i
	}
	rows, err := f.pool.Query(ctx, `
		SELECT a.id::text, a.unit_id::text, a.kind, a.status, a.started_at,
		       (SELECT count(*) FROM alert_events e WHERE e.alert_id = a.id AND e.kind = 'triggered'),
		       (SELECT count(*) FROM alert_events e WHERE e.alert_id = a.id AND e.kind = 'notified')
		  FROM alerts a WHERE a.org_id = $1 ORDER BY a.started_at, a.id`, f.org)
	if err != nil {
		r.t.Fatal(err)
	}
	alerts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (alertRow, error) {
		var a alertRow
		err := row.Scan(&a.id, &a.unit, &a.kind, &a.status, &a.startedAt, &a.triggered, &a.notified)
		return a, err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	byUnit := map[int][]alertRow{}
	for _, a := range alerts {
		byUnit[unitOf[a.unit]] = append(byUnit[unitOf[a.unit]], a)
	}
	type key struct{ alert, contact, channel string }
	sent := map[key]int{}
	rows, err = f.pool.Query(ctx, `
		SELECT alert_id::text, coalesce(contact_id::text, ''), channel, count(*)
		  FROM notifications WHERE org_id = $1 AND alert_id IS NOT NULL GROUP BY 1, 2, 3`, f.org)
	if err != nil {
		r.t.Fatal(err)
	}
	var (
		k key
		n int
	)
	if _, err := pgx.ForEachRow(rows, []any{&k.alert, &k.contact, &k.channel, &n}, func() error { sent[k] = n; return nil }); err != nil {
		r.t.Fatal(err)
	}

	var problems []string
	bad := map[int]bool{}
	fail := func(unit int, format string, args ...any) {
		bad[unit] = true
		problems = append(problems, fmt.Sprintf("Fridge %02d: ", unit)+fmt.Sprintf(format, args...))
	}
	for i := range fleetUnits {
		got := byUnit[i]
		k0, want := f.excursion[i]
		switch {
		case !want && len(got) > 0:
			fail(i, "no excursion, but %d alert(s): first %s from %s", len(got), got[0].kind, got[0].startedAt.UTC().Format(time.RFC3339))
			continue
		case !want:
			continue
		case len(got) != 1:
			fail(i, "excursion from step %d (%s): want exactly 1 alert, got %d%s", k0, f.at(k0).Format(time.RFC3339), len(got), startedList(got))
			if len(got) == 0 {
				continue
			}
		}
		for _, a := range got {
			if a.kind != "temp_high" {
				fail(i, "alert %s is %s, want temp_high", a.id, a.kind)
			}
			if !a.startedAt.Equal(f.at(k0)) {
				fail(i, "alert started_at %s, want %s (step %d, the first offending reading); off by %v",
					a.startedAt.UTC().Format(time.RFC3339), f.at(k0).Format(time.RFC3339), k0, a.startedAt.Sub(f.at(k0)))
			}
			if a.triggered != 1 {
				fail(i, "alert %s has %d 'triggered' events, want 1", a.id, a.triggered)
			}
			if a.notified != 1 {
				fail(i, "alert %s has %d 'notified' events, want 1 (step 0)", a.id, a.notified)
			}
			if n := sent[key{a.id, f.contact, "sms"}]; n != 1 {
				fail(i, "alert %s has %d step-0 SMS notifications to the contact, want 1", a.id, n)
			}
		}
	}
	for k, n := range sent {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("alert %s notified contact %q by %s %d times", k.alert, k.contact, k.channel, n))
		}
	}
	var backlog int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM evaluation_backlog`).Scan(&backlog); err != nil {
		r.t.Fatal(err)
	}
	if backlog != 0 {
		problems = append(problems, fmt.Sprintf("evaluation_backlog holds %d rows at the end", backlog))
	}
	r.note("%d alerts for %d designed excursions", len(alerts), len(f.excursion))
	if len(problems) > 0 {
		sort.Strings(problems)
		var units []int
		for u := range bad {
			units = append(units, u)
		}
		slices.Sort(units)
		r.t.Errorf("%d violations (settled: %v):\n  %s\n%s", len(problems), settled, strings.Join(problems, "\n  "), r.dumpUnits(units)+r.dump())
	}
}

func startedList(as []alertRow) string {
	if len(as) == 0 {
		return ""
	}
	var s []string
	for _, a := range as {
		s = append(s, a.kind+" from "+a.startedAt.UTC().Format(time.RFC3339))
	}
	return " (" + strings.Join(s, ", ") + ")"
}

// dumpUnits describes the alert state of units.
func (r *faultRun) dumpUnits(units []int) string {
	var b strings.Builder
	b.WriteString("--- state of the units concerned:\n")
	for _, i := range units {
		fmt.Fprintf(&b, "Fridge %02d", i)
		if k0, ok := r.f.excursion[i]; ok {
			fmt.Fprintf(&b, " (excursion steps %d-%d: %s to %s)", k0, k0+excursionSteps-1,
				r.f.at(k0).Format(time.TimeOnly), r.f.at(k0+excursionSteps-1).Format(time.TimeOnly))
		}
		var state string
		var since, evaluatedTo *time.Time
		err := r.f.pool.QueryRow(context.Background(), `
			SELECT state, since, evaluated_to FROM alert_state WHERE unit_id = $1 AND rule_id = $2`,
			r.f.units[i], r.f.rules[i]).Scan(&state, &since, &evaluatedTo)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			b.WriteString(": no temp_high state\n")
		case err != nil:
			fmt.Fprintf(&b, ": %v\n", err)
		default:
			fmt.Fprintf(&b, ": temp_high %s since %s, evaluated to %s\n", state, fmtTime(since), fmtTime(evaluatedTo))
		}
	}
	return b.String()
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.TimeOnly)
}

// dump is the run's diagnostics: notes, the handoff table and each
// process's log.
func (r *faultRun) dump() string {
	var b strings.Builder
	b.WriteString("--- run:\n")
	for _, n := range r.notes {
		b.WriteString(n + "\n")
	}
	var backlog int
	var oldest *time.Time
	if err := r.f.pool.QueryRow(context.Background(), `SELECT count(*), min(committed_at) FROM evaluation_backlog`).Scan(&backlog, &oldest); err == nil {
		fmt.Fprintf(&b, "evaluation_backlog: %d rows, oldest committed %s\n", backlog, fmtTime(oldest))
	}
	for _, p := range r.procs {
		fmt.Fprintf(&b, "--- %s log (tail):\n%s\n", p.name, p.logTail(40))
	}
	return b.String()
}

// Load shape of the interrupted tests: 8 senders, 5 sensors × 10 steps (50
// readings) per request, 18 requests each, paced so that the load lasts a
// couple of seconds and a signal lands in the middle of it.
const (
	loadStreams = 8
	loadPerReq  = 5
	loadSteps   = 10
	loadPace    = 100 * time.Millisecond
)

// interrupted runs the load against serve (with firstEnv added to its
// environment), stops serve with sig once half the readings are
// acknowledged, starts it again on the same database without firstEnv,
// re-posts everything not acknowledged, and checks the outcome.
func interrupted(t *testing.T, sig syscall.Signal, firstEnv ...string) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	f := newFleet(t, pool)
	r := &faultRun{t: t, f: f, s: newSender(f)}
	args := []string{"--ingest-flush-delay", "5ms", "--shutdown-timeout", "20s"}
	first := startServe(t, "serve #1", dbURL, firstEnv, args...)
	r.procs = append(r.procs, first)

	plan := f.plan(loadStreams, loadPerReq, loadSteps, 0, fleetSteps)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.s.send(first.base(), plan, loadPace, 0)
	}()
	half := int64(fleetUnits * fleetSteps / 2)
	for r.s.acked.Load() < half {
		select {
		case <-done:
			t.Fatalf("the load finished before the signal; it would prove nothing\n%s", r.dump())
		case <-time.After(5 * time.Millisecond):
		}
	}
	r.snapshotMetrics(first, "just before "+sig.String())
	acked := r.s.acked.Load()
	first.stop(t, sig, 40*time.Second)
	<-done
	reqs, readings := unacked(plan)
	r.note("%v after %d of %d readings were acknowledged (%d when signalled); serve #1 exited: %v; %d requests (%d readings) to re-post",
		sig, r.s.acked.Load(), fleetUnits*fleetSteps, acked, first.err, reqs, readings)
	if readings == 0 {
		t.Fatalf("nothing left to re-post: the signal did not land mid-load\n%s", r.dump())
	}
	// With no process running, every stored reading must be evaluated
	// (not newer than its unit's evaluated_to) or still handed on
	// (covered by an evaluation_backlog row): otherwise only luck (a
	// sweep's catch-up winning the race against new readings) can still
	// evaluate it.
	if n, units := r.unaccounted(); n > 0 {
		t.Errorf("after %v, %d stored readings of %d units are neither evaluated nor in evaluation_backlog", sig, n, units)
	}

	second := startServe(t, "serve #2", dbURL, nil, args...)
	r.procs = append(r.procs, second)
	r.s.send(second.base(), plan, 0, 30*time.Second)
	r.requireAllStored(plan)
	settled := r.waitSettled()
	r.snapshotMetrics(second, "at the end")
	r.check(settled)
}

// TestKillMidLoadEveryExcursionAlertsOnce: SIGKILL in the middle of the
// load loses neither the evaluation of committed readings nor notifications
// (and duplicates none) once serve is restarted and the rest re-posted.
// Committed flushes wait up to the evaluator's coalescing delay (250 ms)
// for their evaluation, so a kill always lands on some.
func TestKillMidLoadEveryExcursionAlertsOnce(t *testing.T) { interrupted(t, syscall.SIGKILL) }

// TestTermMidLoadEveryExcursionAlertsOnce: a graceful stop (SIGTERM) in
// the middle of the load evaluates, or hands on to the next process, every
// reading it committed. An evaluator keeping up would have evaluated
// everything while River stops, so this one is behind: each evaluation
// stalls 2 s (FRESHTRACK_FAULT_EVALUATE=stall-every=2s, first process only).
func TestTermMidLoadEveryExcursionAlertsOnce(t *testing.T) {
	interrupted(t, syscall.SIGTERM, "FRESHTRACK_FAULT_EVALUATE=stall-every=2s")
}

// TestFaultEvaluateErrorsEveryExcursionAlertsOnce: with half of all
// evaluations failing (FRESHTRACK_FAULT_EVALUATE=error=0.5, for the whole
// run), every committed reading is still evaluated, in order.
func TestFaultEvaluateErrorsEveryExcursionAlertsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	f := newFleet(t, pool)
	r := &faultRun{t: t, f: f, s: newSender(f)}
	p := startServe(t, "serve (error=0.5)", dbURL, []string{"FRESHTRACK_FAULT_EVALUATE=error=0.5"}, "--ingest-flush-delay", "5ms")
	r.procs = append(r.procs, p)

	plan := f.plan(loadStreams, loadPerReq, loadSteps, 0, fleetSteps)
	r.s.send(p.base(), plan, loadPace, 30*time.Second)
	r.requireAllStored(plan)
	r.snapshotMetrics(p, "after the load")
	settled := r.waitSettled()
	r.snapshotMetrics(p, "at the end")
	// Half of some ten evaluations fail; how a failure is logged is the
	// evaluator's business, so this only notes it, but serve must have
	// taken the fault.
	if !strings.Contains(p.logs.String(), "faults are injected") {
		t.Errorf("serve does not say it injects evaluation faults: the test proved nothing\n%s", r.dump())
	}
	r.note("%d log lines name the injected fault", strings.Count(p.logs.String(), alerting.ErrInjected.Error()))
	r.check(settled)
}

// TestStalledEvaluatorEveryExcursionAlertsOnce: an evaluator stalled for
// longer than it takes ingest to commit far more flushes than any
// in-process buffer holds (the first evaluation waits 10 s while
// one-request flushes pour in) misses none of them once it recovers and
// the load goes on.
func TestStalledEvaluatorEveryExcursionAlertsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	f := newFleet(t, pool)
	r := &faultRun{t: t, f: f, s: newSender(f)}
	// One flush per request (--ingest-batch-rows 1), so that 2,400 small
	// requests are 2,400 flushes.
	p := startServe(t, "serve (stall=10s)", dbURL, []string{"FRESHTRACK_FAULT_EVALUATE=stall=10s"},
		"--ingest-batch-rows", "1", "--ingest-writers", "4", "--ingest-flush-delay", "100us")
	r.procs = append(r.procs, p)

	// Phase 1, steps 0-119: 2 readings per request, 16 senders, no pause,
	// so it is in while the first evaluation stalls.
	burst := f.plan(16, 1, 2, 0, 120)
	start := time.Now()
	r.s.send(p.base(), burst, 0, 30*time.Second)
	r.note("burst of %d requests acknowledged in %v", countPosts(burst), time.Since(start).Round(time.Millisecond))
	r.snapshotMetrics(p, "after the burst")
	// Phase 2 once the evaluator evaluates again: devices keep reporting.
	deadline := time.Now().Add(40 * time.Second)
	for {
		var evaluated int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM alert_state WHERE org_id = $1 AND evaluated_to IS NOT NULL`, f.org).Scan(&evaluated); err != nil {
			t.Fatal(err)
		}
		if evaluated > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the evaluator did not recover from its stall within 40s\n%s", r.dump())
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.note("evaluator recovered %v after the burst began", time.Since(start).Round(100*time.Millisecond))
	rest := f.plan(loadStreams, loadPerReq, loadSteps, 120, fleetSteps)
	r.s.send(p.base(), rest, 0, 30*time.Second)
	r.requireAllStored(burst, rest)
	settled := r.waitSettled()
	r.snapshotMetrics(p, "at the end")
	r.check(settled)
}

func countPosts(plan [][]*post) int {
	n := 0
	for _, s := range plan {
		n += len(s)
	}
	return n
}
