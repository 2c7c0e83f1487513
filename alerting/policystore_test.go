package alerting

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// policy inserts a notification policy; extra are SQL assignments of its
// other columns ("quiet_start = '22:00'").
func (f *fixture) policy(name, scopeCol, scopeID, kind, steps string, extra ...string) string {
	f.t.Helper()
	var id string
	cols, vals := "org_id, name, steps", "$1, $2, $3::jsonb"
	args := []any{f.org, name, steps}
	if scopeCol != "" {
		args = append(args, scopeID)
		cols, vals = cols+", "+scopeCol, vals+fmt.Sprintf(", $%d::uuid", len(args))
	}
	if kind != "" {
		args = append(args, kind)
		cols, vals = cols+", alert_kind", vals+fmt.Sprintf(", $%d", len(args))
	}
	f.must(`INSERT INTO notification_policies (`+cols+`) VALUES (`+vals+`) RETURNING id::text`, []any{&id}, args...)
	if len(extra) > 0 {
		f.exec(`UPDATE notification_policies SET `+strings.Join(extra, ", ")+` WHERE id = $1`, id)
	}
	return id
}

// decisions are an alert's recipient decisions as "purpose name/channel=decision".
func (f *fixture) decisions(alert string) []string {
	f.t.Helper()
	d, err := GetAlert(f.ctx, f.pool, f.org, alert)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, x := range d.Notification.Decisions {
		out = append(out, fmt.Sprintf("%s %s/%s=%s", x.Purpose, x.Name, x.Channel, x.Decision))
	}
	slices.Sort(out)
	return out
}

// tempAlert opens a temp_high alert of severity on a new unit of kind.
func (f *fixture) tempAlert(kind, severity string) (Alert, string) {
	f.t.Helper()
	unit, sensor := f.unit(kind)
	rule := f.rule(unit, KindTempHigh, 20, 0, 0.5, false)
	f.exec(`UPDATE alert_rules SET severity = $2 WHERE id = $1`, rule, severity)
	f.ev.Invalidate(f.org)
	f.feed(sensor, f.clock.Now(), time.Minute, 30)
	return f.one(unit), unit
}

func (f *fixture) jobArgs(kind, alert string) []string {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT args::text FROM river_job WHERE kind = $1 AND args->>'alert_id' = $2 ORDER BY id`, kind, alert)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

const staffSMS = `[{"after_minutes":0,"channels":["sms"],"roles":["staff"]}]`

func TestFreezerPolicyDecidesWhoIsTold(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	// The organisation's default tells the staff by SMS; the site's
	// freezers policy (a unit policy here, and a site+kind one for every
	// temp_high alert of the site) tells staff and managers by SMS and
	// email.
	f.policy("Everything", "", "", "", staffSMS)
	both := `[{"after_minutes":0,"channels":["sms","email"],"roles":["staff","manager"]}]`
	// The manager opted out of SMS; an off-shift cook is skipped.
	f.exec(`UPDATE users SET sms_opt_in = false WHERE id = $1`, f.manager)
	f.exec(`INSERT INTO contacts (org_id, site_id, name, phone, role, on_shift) VALUES ($1, $2, 'Off-shift cook', '+15550000009', 'staff', false)`, f.org, f.site)

	unit, sensor := f.unit("freezer")
	pol := f.policy("Freezers", "unit_id", unit, "", both)
	f.rule(unit, KindTempHigh, -15, 0, 0.5, false)
	f.feed(sensor, f.clock.Now(), time.Minute, -5)
	a := f.one(unit)

	d, err := GetAlert(f.ctx, f.pool, f.org, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Notification.Policy == nil || d.Notification.Policy.ID != pol || d.Notification.Policy.Name != "Freezers" || d.Notification.Policy.Scope != ScopeUnit {
		t.Fatalf("policy %+v", d.Notification.Policy)
	}
	if !strings.Contains(d.Notification.Why, "unit policy") {
		t.Fatalf("why %q", d.Notification.Why)
	}
	want := []string{
		"notify Off-shift cook/email=off_shift", "notify Off-shift cook/sms=off_shift",
		"notify manager contact/email=notified", "notify manager contact/sms=opted_out",
		"notify staff contact/email=no_address", "notify staff contact/sms=notified",
	}
	if got := f.decisions(a.ID); !slices.Equal(got, want) {
		t.Fatalf("decisions\n got %v\nwant %v", got, want)
	}
	// What was sent is exactly what was decided.
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, a.ID); n != 2 {
		t.Fatalf("%d notifications, want 2", n)
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1 AND contact_id = $2 AND channel = 'email'`, a.ID, f.cManager); n != 1 {
		t.Fatal("the manager got no email")
	}

	// A fridge of the same site follows the organisation's default.
	b, _ := f.tempAlert("fridge", "critical")
	bd, err := GetAlert(f.ctx, f.pool, f.org, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bd.Notification.Policy == nil || bd.Notification.Policy.Name != "Everything" || bd.Notification.Policy.Scope != ScopeOrg {
		t.Fatalf("fridge policy %+v", bd.Notification.Policy)
	}
	if got := f.decisions(b.ID); !slices.Equal(got, []string{"notify Off-shift cook/sms=off_shift", "notify staff contact/sms=notified"}) {
		t.Fatalf("fridge decisions %v", got)
	}
}

func TestNoNotificationPolicyKeepsEscalationPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	d, err := GetAlert(f.ctx, f.pool, f.org, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Notification.Policy != nil || !strings.Contains(d.Notification.Why, "escalation policy") {
		t.Fatalf("notification %+v", d.Notification)
	}
	// The built-in steps: SMS to the staff on shift.
	if got := f.decisions(a.ID); !slices.Equal(got, []string{"notify staff contact/sms=notified"}) {
		t.Fatalf("decisions %v", got)
	}
}

// quietNow sets the site's zone and returns a quiet window around the
// fixture's clock in it, ending at until (the window's end, a whole
// minute, 90 minutes from now).
func (f *fixture) quietNow(zone string) (start, end string, until time.Time) {
	f.t.Helper()
	f.exec(`UPDATE sites SET timezone = $2 WHERE id = $1`, f.site, zone)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		f.t.Fatal(err)
	}
	now := f.clock.Now().In(loc)
	from, to := now.Add(-time.Hour), now.Add(90*time.Minute)
	return from.Format("15:04"), to.Format("15:04"), to.Truncate(time.Minute)
}

func TestQuietHoursDeferWarningsNotCriticals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	start, end, until := f.quietNow("Europe/London")
	f.policy("Nights", "site_id", f.site, "", staffSMS, fmt.Sprintf("quiet_start = '%s', quiet_end = '%s'", start, end))

	warn, _ := f.tempAlert("fridge", "warning")
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, warn.ID); n != 0 {
		t.Fatalf("a warning in quiet hours sent %d messages", n)
	}
	if got := f.decisions(warn.ID); !slices.Equal(got, []string{"notify staff contact/sms=quiet_hours"}) {
		t.Fatalf("warning decisions %v", got)
	}
	jobs := f.jobArgs("alerting_deferred_step", warn.ID)
	if len(jobs) != 1 {
		t.Fatalf("deferred jobs %v", jobs)
	}
	var args DeferredArgs
	if err := json.Unmarshal([]byte(jobs[0]), &args); err != nil {
		t.Fatal(err)
	}
	if !args.Until.Equal(until) {
		t.Fatalf("deferred to %s, want the window's end %s", args.Until, until)
	}
	var scheduled time.Time
	f.must(`SELECT scheduled_at FROM river_job WHERE kind = 'alerting_deferred_step' AND args->>'alert_id' = $1`, []any{&scheduled}, warn.ID)
	if !scheduled.Equal(until) {
		t.Fatalf("deferred job scheduled at %s, want %s", scheduled, until)
	}

	crit, _ := f.tempAlert("fridge", "critical")
	if got := f.decisions(crit.ID); !slices.Equal(got, []string{"notify staff contact/sms=notified"}) {
		t.Fatalf("critical decisions %v", got)
	}

	// At the window's end the deferred step goes out, once.
	f.clock.Set(until)
	sent, err := f.ev.SendDeferred(f.ctx, args)
	if err != nil || !sent {
		t.Fatalf("send deferred: %v %v", sent, err)
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, warn.ID); n != 1 {
		t.Fatalf("after the quiet hours %d messages, want 1", n)
	}
	if got := f.decisions(warn.ID); !slices.Equal(got, []string{"deferred staff contact/sms=notified", "notify staff contact/sms=quiet_hours"}) {
		t.Fatalf("decisions after the window %v", got)
	}
	// An acknowledged alert's deferred step is not sent.
	ackd, _ := f.tempAlert("freezer", "warning")
	if _, err := Acknowledge(f.ctx, f.pool, AckParams{OrgID: f.org, AlertID: ackd.ID, UserID: f.staff}); err != nil {
		t.Fatal(err)
	}
	if sent, err := f.ev.SendDeferred(f.ctx, DeferredArgs{AlertID: ackd.ID, Step: 0, Until: until}); err != nil || sent {
		t.Fatalf("deferred step of an acknowledged alert: sent %v, %v", sent, err)
	}
}

func TestQuietHoursHoldCriticalsWhenOverrideIsOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	start, end, _ := f.quietNow("America/New_York")
	f.policy("Strict nights", "", "", KindTempHigh, staffSMS,
		fmt.Sprintf("quiet_start = '%s', quiet_end = '%s', quiet_overridden_by_critical = false", start, end))
	crit, _ := f.tempAlert("fridge", "critical")
	if got := f.decisions(crit.ID); !slices.Equal(got, []string{"notify staff contact/sms=quiet_hours"}) {
		t.Fatalf("critical decisions %v", got)
	}
}

func TestBelowSeverityNotifiesNobody(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	f.policy("Only criticals", "site_id", f.site, "", `[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":15,"channels":["sms"],"roles":["manager"]}]`,
		"min_severity = 'critical'", "reminder_minutes = 10")
	a, _ := f.tempAlert("fridge", "warning")
	if got := f.decisions(a.ID); !slices.Equal(got, []string{"notify /=below_severity"}) {
		t.Fatalf("decisions %v", got)
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, a.ID); n != 0 {
		t.Fatalf("%d messages", n)
	}
	if j := f.jobArgs("alerting_escalate", a.ID); len(j) != 0 {
		t.Fatalf("escalation scheduled below the threshold: %v", j)
	}
	if j := f.jobArgs("alerting_remind", a.ID); len(j) != 0 {
		t.Fatalf("reminders scheduled below the threshold: %v", j)
	}
}

func TestRemindersRepeatUntilAcknowledged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	f.policy("Remind", "", "", "", staffSMS, "reminder_minutes = 10", "ack_deadline_minutes = 30")
	a, _ := f.tempAlert("fridge", "warning")
	if j := f.jobArgs("alerting_remind", a.ID); len(j) != 1 || !strings.Contains(j[0], `"n": 1`) {
		t.Fatalf("first reminder job %v", j)
	}
	for n := 1; n <= 2; n++ {
		f.clock.Add(10 * time.Minute)
		sent, err := f.ev.Remind(f.ctx, RemindArgs{AlertID: a.ID, N: n})
		if err != nil || !sent {
			t.Fatalf("reminder %d: %v %v", n, sent, err)
		}
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, a.ID); n != 3 {
		t.Fatalf("%d messages after two reminders, want 3", n)
	}
	if j := f.jobArgs("alerting_remind", a.ID); len(j) != 3 {
		t.Fatalf("reminder jobs %v", j)
	}
	if _, err := Acknowledge(f.ctx, f.pool, AckParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff}); err != nil {
		t.Fatal(err)
	}
	sent, err := f.ev.Remind(f.ctx, RemindArgs{AlertID: a.ID, N: 3})
	if err != nil || sent {
		t.Fatalf("reminder after acknowledgement: %v %v", sent, err)
	}
	if j := f.jobArgs("alerting_remind", a.ID); len(j) != 3 {
		t.Fatalf("a reminder was scheduled after acknowledgement: %v", j)
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, a.ID); n != 3 {
		t.Fatalf("%d messages after acknowledgement, want 3", n)
	}
	// The policy has one step only: nothing escalates.
	if j := f.jobArgs("alerting_escalate", a.ID); len(j) != 0 {
		t.Fatalf("escalation jobs %v", j)
	}
}

func TestAckDeadlineDelaysEscalation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	f.policy("Deadline", "", "", "", `[{"after_minutes":0,"channels":["sms"],"roles":["staff"]},{"after_minutes":5,"channels":["sms"],"roles":["manager"]}]`,
		"ack_deadline_minutes = 25")
	a, _ := f.tempAlert("fridge", "warning")
	var at time.Time
	f.must(`SELECT scheduled_at FROM river_job WHERE kind = 'alerting_escalate' AND args->>'alert_id' = $1`, []any{&at}, a.ID)
	if want := f.clock.Now().Add(25 * time.Minute); !at.Equal(want) {
		t.Fatalf("step 1 scheduled at %s, want the deadline %s", at, want)
	}
}

func TestResolvedMessagesGoToThoseNotified(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	f.policy("Close the loop", "", "", "", `[{"after_minutes":0,"channels":["sms","email"],"roles":["manager"]}]`, "notify_on_resolve = true")
	a, _ := f.tempAlert("fridge", "critical")
	if _, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager, Action: "Moved the stock", Disposition: "moved"}); err != nil {
		t.Fatal(err)
	}
	if res := f.sweep(); res.ResolvedNotices != 1 {
		t.Fatalf("sweep sent %d resolved notices", res.ResolvedNotices)
	}
	if res := f.sweep(); res.ResolvedNotices != 0 {
		t.Fatalf("second sweep sent %d resolved notices", res.ResolvedNotices)
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1 AND dedupe_key LIKE '%:resolved:%'`, a.ID); n != 2 {
		t.Fatalf("%d resolved messages, want 2 (sms and email to the manager)", n)
	}
	if got := f.decisions(a.ID); !slices.Equal(got, []string{
		"notify manager contact/email=notified", "notify manager contact/sms=notified",
		"resolved manager contact/email=notified", "resolved manager contact/sms=notified"}) {
		t.Fatalf("decisions %v", got)
	}

	// Without notify_on_resolve nobody hears of the resolution.
	f.exec(`UPDATE notification_policies SET notify_on_resolve = false`)
	b, _ := f.tempAlert("fridge", "critical")
	if _, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: b.ID, UserID: f.manager, Action: "Fixed", Disposition: "kept"}); err != nil {
		t.Fatal(err)
	}
	if res := f.sweep(); res.ResolvedNotices != 0 {
		t.Fatalf("sweep sent %d resolved notices without notify_on_resolve", res.ResolvedNotices)
	}
}

func TestAutoResolveSendsResolvedMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	f.policy("Close the loop", "", "", "", staffSMS, "notify_on_resolve = true")
	unit, sensor := f.unit("fridge")
	f.rule(unit, KindTempHigh, 5, 0, 0.5, true)
	at := f.feed(sensor, f.clock.Now(), time.Minute, 9)
	f.feed(sensor, at.Add(time.Minute), time.Minute, 2, 2, 2, 2, 2)
	a := f.one(unit)
	if a.Status != StatusResolved {
		t.Fatalf("status %s", a.Status)
	}
	if got := f.decisions(a.ID); !slices.Equal(got, []string{"notify staff contact/sms=notified", "resolved staff contact/sms=notified"}) {
		t.Fatalf("decisions %v", got)
	}
}

func TestReminderInQuietHoursIsSkippedNotDeferred(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	start, end, _ := f.quietNow("Europe/London")
	pol := f.policy("Nights", "", "", "", staffSMS, "reminder_minutes = 10",
		fmt.Sprintf("quiet_start = '%s', quiet_end = '%s'", start, end))
	a, _ := f.tempAlert("fridge", "critical") // critical: told at once
	// The policy changes: critical alerts now wait for the quiet hours too.
	f.exec(`UPDATE notification_policies SET quiet_overridden_by_critical = false WHERE id = $1`, pol)
	sent, err := f.ev.Remind(f.ctx, RemindArgs{AlertID: a.ID, N: 1})
	if err != nil || sent {
		t.Fatalf("reminder in quiet hours: sent %v, %v", sent, err)
	}
	if got := f.decisions(a.ID); !slices.Equal(got, []string{"notify staff contact/sms=notified", "reminder staff contact/sms=quiet_hours"}) {
		t.Fatalf("decisions %v", got)
	}
	if j := f.jobArgs("alerting_deferred_step", a.ID); len(j) != 0 {
		t.Fatalf("a reminder was deferred: %v", j)
	}
	if j := f.jobArgs("alerting_remind", a.ID); len(j) != 2 {
		t.Fatalf("reminder jobs %v: the next one must still come", j)
	}
}
