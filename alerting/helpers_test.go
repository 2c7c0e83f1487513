package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/safety"
	"github.com/freshtrack/freshtrack/schema"
)

var quiet = slog.New(slog.DiscardHandler)

// clock is the injected clock of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// recorder is the test Notifier: it writes one notifications row per
// recipient inside the caller's transaction, with a dedupe key carrying the
// step, and no ON CONFLICT, so a step sent twice fails loudly.
type recorder struct {
	mu    sync.Mutex
	calls int
	fail  atomic.Bool
}

func (n *recorder) NotifyTx(ctx context.Context, tx pgx.Tx, no Notice) error {
	if n.fail.Load() {
		return fmt.Errorf("notifier down")
	}
	n.mu.Lock()
	n.calls++
	n.mu.Unlock()
	for _, r := range no.Recipients {
		if _, err := tx.Exec(ctx, `
			INSERT INTO notifications (org_id, alert_id, contact_id, channel, recipient, dedupe_key)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			no.OrgID, no.AlertID, r.ContactID, r.Channel, r.Address,
			fmt.Sprintf("%s:%d:%s:%s:%d:%s:%d", no.AlertID, no.Step, r.ContactID, r.Channel, no.Cycle, no.Purpose, no.Reminder)); err != nil {
			return err
		}
	}
	return nil
}

// fixture is one test's organisation on its own database, with an ingest
// writer and (once started) an evaluator subscribed to it.
type fixture struct {
	t      testing.TB
	ctx    context.Context
	pool   *pgxpool.Pool
	clock  *clock
	notes  *recorder
	store  *schema.Store
	writer *ingest.Writer
	latest *ingest.Latest

	org, site                string
	staff, manager, owner    string // user ids (members)
	cStaff, cManager, cOwner string // contact ids
	ev                       *Evaluator
	cfg                      Config
	stopRun                  func()
	written, evaluated       atomic.Int64
	evalSignal               chan struct{}
	expectErrors             bool
	openedMu                 sync.Mutex
	opened                   []AlertOpened
}

func newFixture(t testing.TB, opts ...pgtest.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewDB(t, opts...)
	store, err := schema.OpenStore(ctx, pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, pool: pool, store: store, notes: &recorder{}, evalSignal: make(chan struct{}, 1),
		clock: &clock{t: time.Now().UTC().Truncate(time.Minute).Add(-6 * time.Hour)}}
	f.latest = ingest.NewLatest()
	f.writer, err = ingest.NewWriter(pool, store, f.latest, ingest.WriterConfig{FlushDelay: time.Millisecond}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.writer.Close)
	f.org, f.site = f.newOrg("Kitchen A")
	f.staff, f.cStaff = f.member(f.org, f.site, "staff", "+15550000001", "")
	f.manager, f.cManager = f.member(f.org, f.site, "manager", "+15550000002", "manager@example.com")
	f.owner, f.cOwner = f.member(f.org, "", "owner", "+15550000003", "owner@example.com")
	return f
}

// newOrg creates an organisation with one site.
func (f *fixture) newOrg(name string) (org, site string) {
	f.t.Helper()
	f.must(`INSERT INTO organizations (name) VALUES ($1) RETURNING id::text`, []any{&org}, name)
	f.must(`INSERT INTO sites (org_id, name) VALUES ($1, 'Main') RETURNING id::text`, []any{&site}, org)
	return org, site
}

// member creates a user with a membership and a contact of that role (at
// site, or organisation-wide when site is empty).
func (f *fixture) member(org, site, role, phone, email string) (user, contact string) {
	f.t.Helper()
	f.must(`INSERT INTO users (issuer, subject, email, phone) VALUES ('test', gen_random_uuid()::text, nullif($1, ''), $2) RETURNING id::text`,
		[]any{&user}, email, phone)
	f.exec(`INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)`, org, user, role)
	f.must(`INSERT INTO contacts (org_id, site_id, user_id, name, phone, email, role) VALUES ($1, nullif($2, '')::uuid, $3, $4, $5, nullif($6, ''), $7) RETURNING id::text`,
		[]any{&contact}, org, site, user, role+" contact", phone, email, role)
	return user, contact
}

// unit creates a unit of a kind with one sensor and returns both.
func (f *fixture) unit(kind string) (string, int64) {
	f.t.Helper()
	return f.unitIn(f.org, f.site, kind)
}

func (f *fixture) unitIn(org, site, kind string) (string, int64) {
	f.t.Helper()
	var unit string
	// The kind's default safe range, which the built-in temperature rules
	// follow.
	r, ok := safety.DefaultSafeRange(kind)
	if !ok {
		r = safety.SafeRange{MinC: -30, MaxC: 90}
	}
	f.must(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text`,
		[]any{&unit}, org, site, kind+" "+strconv.Itoa(int(time.Now().UnixNano()%100000)), kind, r.MinC, r.MaxC)
	return unit, f.sensor(org, unit)
}

// unitRange creates a unit of a kind with its own safe range and one sensor.
func (f *fixture) unitRange(kind string, minC, maxC float64) (string, int64) {
	f.t.Helper()
	var unit string
	f.must(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text`,
		[]any{&unit}, f.org, f.site, kind+" "+strconv.Itoa(int(time.Now().UnixNano()%100000)), kind, minC, maxC)
	return unit, f.sensor(f.org, unit)
}

// sensor adds a sensor to a unit.
func (f *fixture) sensor(org, unit string) int64 {
	f.t.Helper()
	var id int64
	f.must(`INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, gen_random_uuid()::text, $2) RETURNING id`, []any{&id}, org, unit)
	return id
}

// rule adds a unit rule.
func (f *fixture) rule(unit, kind string, threshold float64, confirm time.Duration, hysteresis float64, autoResolve bool) string {
	f.t.Helper()
	var id string
	f.must(`INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, hysteresis, severity, auto_resolve)
		VALUES ($1, $2, $3, $4, $5, $6, 'critical', $7) RETURNING id::text`,
		[]any{&id}, f.org, unit, kind, threshold, int(confirm/time.Second), hysteresis, autoResolve)
	if f.ev != nil {
		f.ev.Invalidate(f.org)
	}
	return id
}

func (f *fixture) config() Config {
	return Config{
		Pool: f.pool, Notifier: f.notes, Now: f.clock.Now, Logger: quiet,
		// The timelines write one reading at a time and wait for its
		// evaluation; merging batches would only delay each of them
		// (TestRunCoalescesBatches covers it).
		Coalesce: -1,
		Hooks: Hooks{
			BatchEvaluated: func(b BatchEvaluated) {
				if b.Err != nil && !f.expectErrors {
					f.t.Errorf("evaluation failed: %v", b.Err)
				}
				f.evaluated.Add(int64(b.Rows))
				select {
				case f.evalSignal <- struct{}{}:
				default:
				}
			},
			AlertOpened: func(o AlertOpened) {
				f.openedMu.Lock()
				f.opened = append(f.opened, o)
				f.openedMu.Unlock()
			},
		},
	}
}

// start builds an evaluator and runs it on the writer's subscription.
func (f *fixture) start() *Evaluator {
	f.t.Helper()
	cfg := f.config()
	if f.cfg.Jobs != nil {
		cfg.Jobs = f.cfg.Jobs
	}
	ev, err := NewEvaluator(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ev = ev
	sub, unsubscribe := f.writer.Subscribe(256)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ev.Run(ctx, sub, nil)
	}()
	f.stopRun = func() {
		unsubscribe()
		cancel()
		<-done
	}
	f.t.Cleanup(f.stop)
	return ev
}

// stop stops the running evaluator (a process going away).
func (f *fixture) stop() {
	if f.stopRun != nil {
		f.stopRun()
		f.stopRun = nil
	}
}

// write stores readings through the ingest writer and waits until the
// evaluator (if one runs) evaluated them.
func (f *fixture) write(rows ...ingest.Row) {
	f.t.Helper()
	res, err := f.writer.Write(f.ctx, rows)
	if err != nil {
		f.t.Fatalf("write readings: %v", err)
	}
	target := f.written.Add(int64(res.Accepted))
	if f.stopRun == nil {
		f.evaluated.Store(target)
		return
	}
	deadline := time.After(10 * time.Second)
	for f.evaluated.Load() < target {
		select {
		case <-f.evalSignal:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			f.t.Fatalf("evaluator saw %d of %d rows", f.evaluated.Load(), target)
		}
	}
}

func row(sensor int64, at time.Time, temp float64) ingest.Row {
	return ingest.Row{TimeMicros: at.UnixMicro(), SensorID: sensor, TempC: temp, Humidity: math.NaN(), Battery: 90}
}

// feed sends one reading per step from start, moving the clock to each
// reading's time first, and returns the time after the last one.
func (f *fixture) feed(sensor int64, start time.Time, step time.Duration, temps ...float64) time.Time {
	f.t.Helper()
	t := start
	for _, temp := range temps {
		f.clock.Set(t)
		f.write(row(sensor, t, temp))
		t = t.Add(step)
	}
	return t
}

// repeat returns n copies of v.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func cat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func (f *fixture) sweep() SweepResult {
	f.t.Helper()
	// As serve does every few seconds: the sweep reads sensor_latest.
	if _, err := f.latest.Persist(f.ctx, f.pool); err != nil {
		f.t.Fatalf("persist latest: %v", err)
	}
	res, err := f.ev.Sweep(f.ctx)
	if err != nil {
		f.t.Fatalf("sweep: %v", err)
	}
	return res
}

func (f *fixture) alerts(unit string) []Alert {
	f.t.Helper()
	page, err := ListAlerts(f.ctx, f.pool, ListParams{OrgID: f.org, UnitID: unit, Limit: 200})
	if err != nil {
		f.t.Fatal(err)
	}
	return page.Items
}

// one returns the unit's only alert, failing unless there is exactly one.
func (f *fixture) one(unit string) Alert {
	f.t.Helper()
	list := f.alerts(unit)
	if len(list) != 1 {
		f.t.Fatalf("unit has %d alerts, want exactly 1: %+v", len(list), list)
	}
	return list[0]
}

func (f *fixture) state(unit, kind string) (phase string, since *time.Time) {
	f.t.Helper()
	err := f.pool.QueryRow(f.ctx, `
		SELECT s.state, s.since FROM alert_state s JOIN alert_rules r ON r.id = s.rule_id
		 WHERE s.unit_id = $1 AND r.kind = $2`, unit, kind).Scan(&phase, &since)
	if err == pgx.ErrNoRows {
		return "none", nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return phase, since
}

// sentSteps counts the notifications rows per escalation step of an alert.
func (f *fixture) sentSteps(alert string) map[int]int {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT dedupe_key FROM notifications WHERE alert_id = $1`, alert)
	if err != nil {
		f.t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[int]int{}
	for _, k := range keys {
		parts := strings.Split(k, ":")
		step, _ := strconv.Atoi(parts[1])
		out[step]++
	}
	return out
}

func (f *fixture) events(alert string) []string {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT kind FROM alert_events WHERE alert_id = $1 ORDER BY at, id`, alert)
	if err != nil {
		f.t.Fatal(err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return kinds
}

func (f *fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(f.ctx, sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(f.ctx, sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) must(sql string, dest []any, args ...any) {
	f.t.Helper()
	if err := f.pool.QueryRow(f.ctx, sql, args...).Scan(dest...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}
