package alerting

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != field {
		t.Fatalf("error %v, want a validation error naming %s", err, field)
	}
}

func wantConflict(t *testing.T, err error, status string) {
	t.Helper()
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Status != status {
		t.Fatalf("error %v, want a conflict with status %s", err, status)
	}
}

func TestAlertLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	ctx, db := f.ctx, f.pool

	ev, err := Comment(ctx, db, CommentParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff, Text: "  door was left open  "})
	if err != nil || ev.Kind != "comment" || ev.ID == 0 || !strings.Contains(string(ev.Details), `"door was left open"`) {
		t.Fatalf("comment = %+v, %v", ev, err)
	}
	_, err = Comment(ctx, db, CommentParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff, Text: " "})
	wantValidation(t, err, "text")
	_, err = Comment(ctx, db, CommentParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff, Text: strings.Repeat("é", 4001)})
	wantValidation(t, err, "text")

	acked, err := Acknowledge(ctx, db, AckParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager, Comment: "on it"})
	if err != nil || acked.Status != StatusAcknowledged || acked.AcknowledgedBy != f.manager || acked.AcknowledgedAt == nil {
		t.Fatalf("acknowledge = %+v, %v", acked, err)
	}
	_, err = Acknowledge(ctx, db, AckParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff})
	wantConflict(t, err, StatusAcknowledged)

	// A temperature alert needs a corrective action and a disposition.
	_, err = Resolve(ctx, db, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager})
	wantValidation(t, err, "action")
	_, err = Resolve(ctx, db, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager, Action: "moved stock"})
	wantValidation(t, err, "disposition")
	_, err = Resolve(ctx, db, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager, Action: "moved stock", Disposition: "eaten"})
	wantValidation(t, err, "disposition")
	_, err = Resolve(ctx, db, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: "not-a-user", Action: "x", Disposition: "kept"})
	wantValidation(t, err, "user_id")

	resolved, err := Resolve(ctx, db, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager,
		Action: "moved stock to the walk-in; probed 3 °C", Disposition: "moved", Notes: "engineer booked"})
	if err != nil || resolved.Status != StatusResolved || resolved.ResolvedBy != f.manager || resolved.ResolvedAt == nil || resolved.AutoResolved {
		t.Fatalf("resolve = %+v, %v", resolved, err)
	}
	_, err = Resolve(ctx, db, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager, Action: "again", Disposition: "kept"})
	wantConflict(t, err, StatusResolved)
	_, err = Acknowledge(ctx, db, AckParams{OrgID: f.org, AlertID: a.ID, UserID: f.manager})
	wantConflict(t, err, StatusResolved)
	// Notes may still be added to a resolved alert.
	if _, err := Comment(ctx, db, CommentParams{OrgID: f.org, AlertID: a.ID, UserID: f.owner, Text: "reviewed"}); err != nil {
		t.Fatal(err)
	}

	d, err := GetAlert(ctx, db, f.org, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range d.Events {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []string{"triggered", "notified", "comment", "acknowledged", "resolved", "comment"}) {
		t.Fatalf("events %v", kinds)
	}
	if len(d.CorrectiveActions) != 1 || d.CorrectiveActions[0].Disposition != "moved" || d.CorrectiveActions[0].TakenBy != f.manager ||
		d.CorrectiveActions[0].Notes != "engineer booked" {
		t.Fatalf("corrective actions %+v", d.CorrectiveActions)
	}
	if len(d.Notifications) != 1 || d.Notifications[0].Channel != "sms" || d.Notifications[0].Status != "queued" {
		t.Fatalf("notifications %+v", d.Notifications)
	}
	for action, actor := range map[string]string{"alert.comment": "user:" + f.staff, "alert.acknowledge": "user:" + f.manager, "alert.resolve": "user:" + f.manager} {
		if n := f.count(`SELECT count(*) FROM audit_log WHERE action = $1 AND actor = $2 AND target_id = $3`, action, actor, a.ID); n < 1 {
			t.Errorf("no %s audit row by %s", action, actor)
		}
	}
}

func TestResolveWithoutAcknowledging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff, Action: "discarded the dairy", Disposition: "discarded", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ResolvedAt.Equal(at) || r.AcknowledgedAt == nil || !r.AcknowledgedAt.Equal(at) || r.AcknowledgedBy != f.staff {
		t.Fatalf("resolved = %+v", r)
	}
	if f.escalate(a.ID, 1) {
		t.Fatal("a resolved alert escalated")
	}
}

func TestResolveNonTemperatureAlerts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	// Two battery alerts (battery_low alerts at once and clears above 20 %).
	lowBattery := func() Alert {
		t.Helper()
		at := f.clock.Add(time.Minute)
		r := row(sensor, at, 3)
		r.Battery = 10
		f.write(r)
		var open []Alert
		for _, a := range f.alerts(unit) {
			if a.Status != StatusResolved {
				open = append(open, a)
			}
		}
		if len(open) != 1 || open[0].Kind != KindBatteryLow {
			t.Fatalf("open alerts %+v (all %+v)", open, f.alerts(unit))
		}
		return open[0]
	}
	a := lowBattery()
	_, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff, Disposition: "kept"})
	wantValidation(t, err, "action")
	if _, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff}); err != nil {
		t.Fatalf("resolving a battery alert without an action: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM corrective_actions WHERE alert_id = $1`, a.ID); n != 0 {
		t.Fatalf("%d corrective actions", n)
	}
	// The first alert was resolved at the database's clock, hours after the
	// test clock's readings (a sensor whose clock runs behind): a new low
	// reading still opens a new alert.
	b := lowBattery()
	if _, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: b.ID, UserID: f.staff, Action: "replaced the battery"}); err != nil {
		t.Fatal(err)
	}
	var disposition string
	f.must(`SELECT disposition FROM corrective_actions WHERE alert_id = $1`, []any{&disposition}, b.ID)
	if disposition != "other" {
		t.Fatalf("disposition %q, want other", disposition)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	a, _ := f.openAlert()
	orgB, siteB := f.newOrg("Kitchen B")
	userB, _ := f.member(orgB, siteB, "owner", "+15550000099", "")
	ctx, db := f.ctx, f.pool

	if _, err := GetAlert(ctx, db, orgB, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get from another org: %v", err)
	}
	if _, err := Acknowledge(ctx, db, AckParams{OrgID: orgB, AlertID: a.ID, UserID: userB}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("acknowledge from another org: %v", err)
	}
	if _, err := Resolve(ctx, db, ResolveParams{OrgID: orgB, AlertID: a.ID, UserID: userB, Action: "x", Disposition: "kept"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("resolve from another org: %v", err)
	}
	if _, err := Comment(ctx, db, CommentParams{OrgID: orgB, AlertID: a.ID, UserID: userB, Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("comment from another org: %v", err)
	}
	// A member of another organisation cannot act on this one's alert.
	_, err := Acknowledge(ctx, db, AckParams{OrgID: f.org, AlertID: a.ID, UserID: userB})
	wantValidation(t, err, "user_id")
	if page, err := ListAlerts(ctx, db, ListParams{OrgID: orgB}); err != nil || len(page.Items) != 0 {
		t.Fatalf("list of another org: %+v %v", page, err)
	}
	for _, id := range []string{"", "nope", "00000000-0000-0000-0000-000000000000"} {
		if _, err := GetAlert(ctx, db, f.org, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get %q: %v", id, err)
		}
		if _, err := Acknowledge(ctx, db, AckParams{OrgID: f.org, AlertID: id, UserID: f.staff}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("acknowledge %q: %v", id, err)
		}
	}
	if a2, err := GetAlert(ctx, db, f.org, a.ID); err != nil || a2.Status != StatusTriggered {
		t.Fatalf("the alert was touched: %+v %v", a2, err)
	}
}

func TestListAlerts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start()
	var ids []string
	var units []string
	for range 7 {
		f.clock.Add(time.Minute)
		a, _ := f.openAlert()
		ids = append(ids, a.ID)
		units = append(units, a.UnitID)
	}
	slices.Reverse(ids) // newest first
	if _, err := Acknowledge(f.ctx, f.pool, AckParams{OrgID: f.org, AlertID: ids[0], UserID: f.staff}); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: ids[1], UserID: f.staff, Action: "x", Disposition: "kept"}); err != nil {
		t.Fatal(err)
	}

	var got []string
	cursor := ""
	pages := 0
	for {
		page, err := ListAlerts(f.ctx, f.pool, ListParams{OrgID: f.org, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range page.Items {
			got = append(got, a.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if !slices.Equal(got, ids) || pages != 3 {
		t.Fatalf("paged through %d pages: %v\nwant %v", pages, got, ids)
	}

	list := func(p ListParams) []string {
		t.Helper()
		p.OrgID = f.org
		page, err := ListAlerts(f.ctx, f.pool, p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range page.Items {
			out = append(out, a.ID)
		}
		return out
	}
	if got := list(ListParams{Status: "open"}); len(got) != 6 || slices.Contains(got, ids[1]) {
		t.Fatalf("open: %v", got)
	}
	if got := list(ListParams{Status: StatusResolved}); !slices.Equal(got, ids[1:2]) {
		t.Fatalf("resolved: %v", got)
	}
	if got := list(ListParams{Status: StatusAcknowledged}); !slices.Equal(got, ids[:1]) {
		t.Fatalf("acknowledged: %v", got)
	}
	if got := list(ListParams{UnitID: units[3]}); len(got) != 1 || got[0] != ids[3] {
		t.Fatalf("unit: %v", got)
	}
	all, err := ListAlerts(f.ctx, f.pool, ListParams{OrgID: f.org})
	if err != nil {
		t.Fatal(err)
	}
	from, to := all.Items[4].OpenedAt, all.Items[1].OpenedAt
	if got := list(ListParams{From: from, To: to}); !slices.Equal(got, ids[2:5]) {
		t.Fatalf("from %s to %s: %v, want %v", from, to, got, ids[2:5])
	}

	for _, c := range []struct {
		p     ListParams
		field string
	}{
		{ListParams{Status: "closed"}, "status"},
		{ListParams{UnitID: "x"}, "unit"},
		{ListParams{Limit: 201}, "limit"},
		{ListParams{Limit: -1}, "limit"},
		{ListParams{Cursor: "!!"}, "cursor"},
		{ListParams{Cursor: encodeCursor(time.Now(), "x")}, "cursor"},
		{ListParams{From: to, To: from}, "from"},
	} {
		c.p.OrgID = f.org
		_, err := ListAlerts(f.ctx, f.pool, c.p)
		wantValidation(t, err, c.field)
	}
}
