package digest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func ptr[T any](v T) *T { return &v }

func TestPutDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := newOrg(t, tx, "Bistro Group")
	newSite(t, tx, org, "Second Site", "America/New_York", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	newSite(t, tx, org, "First Site", "Europe/Berlin", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ana := newUser(t, tx, "Ana", "Ana Silva <ana@example.com>")
	join(t, tx, org, ana, "staff")

	got, err := Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily})
	if err != nil {
		t.Fatal(err)
	}
	want := Subscription{OrgID: org, UserID: ana, Frequency: Daily, LocalHour: 7, Weekday: 1,
		Timezone: "Europe/Berlin", Email: "ana@example.com", Enabled: true}
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Put = %+v\nwant  %+v", got, want)
	}
	if n := one[int](t, tx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'digest_subscription.create'
		AND actor = 'user:' || $2 AND target_id = $2 || ':daily'`, org, ana); n != 1 {
		t.Errorf("%d create audit rows, want 1", n)
	}

	// A change keeps what it does not name.
	got, err = Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily, LocalHour: ptr(0), Enabled: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if got.LocalHour != 0 || got.Enabled || got.Timezone != "Europe/Berlin" || got.Email != "ana@example.com" || got.Weekday != 1 {
		t.Errorf("after update: %+v", got)
	}
	got, err = Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily, Timezone: "Asia/Kolkata", Email: "kitchen@example.com", Weekday: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	if got.LocalHour != 0 || got.Enabled || got.Timezone != "Asia/Kolkata" || got.Email != "kitchen@example.com" || got.Weekday != 0 {
		t.Errorf("after second update: %+v", got)
	}
	var details map[string]any
	b := one[[]byte](t, tx, `SELECT details FROM audit_log WHERE org_id = $1 AND action = 'digest_subscription.update' ORDER BY id DESC LIMIT 1`, org)
	if err := json.Unmarshal(b, &details); err != nil {
		t.Fatal(err)
	}
	if details["timezone"] != "Asia/Kolkata" || details["email_changed"] != true || details["email"] != nil {
		t.Errorf("update audit details = %v; want the new zone, email_changed and no address", details)
	}

	// Weekly is a separate subscription; Get lists both, daily first.
	if _, err := Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Weekly, Weekday: ptr(5), LocalHour: ptr(18)}); err != nil {
		t.Fatal(err)
	}
	subs, err := Get(ctx, tx, org, ana)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 || subs[0].Frequency != Daily || subs[1].Frequency != Weekly || subs[1].Weekday != 5 || subs[1].LocalHour != 18 || subs[1].Timezone != "Europe/Berlin" {
		t.Errorf("Get = %+v", subs)
	}
}

func TestPutDefaultsWithoutSiteOrEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := newOrg(t, tx, "No Sites Yet")
	noMail := newUser(t, tx, "Bo", "")
	join(t, tx, org, noMail, "viewer")

	_, err := Put(ctx, tx, PutParams{OrgID: org, UserID: noMail, Frequency: Weekly})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "email" {
		t.Fatalf("Put without any email address: %v, want a ValidationError on email", err)
	}
	got, err := Put(ctx, tx, PutParams{OrgID: org, UserID: noMail, Frequency: Weekly, Email: "bo@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Timezone != "UTC" || got.Email != "bo@example.com" || got.Weekday != int(time.Monday) || got.LocalHour != 7 {
		t.Errorf("Put = %+v, want UTC, the given address, Monday 07:00", got)
	}
}

func TestPutValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := newOrg(t, tx, "Bistro Group")
	ana := newUser(t, tx, "Ana", "ana@example.com")
	join(t, tx, org, ana, "owner")

	f := func(p PutParams, field string) {
		t.Helper()
		p.OrgID, p.UserID = org, ana
		_, err := Put(ctx, tx, p)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("Put(%+v) = %v, want a ValidationError on %s", p, err, field)
		}
	}
	f(PutParams{Frequency: ""}, "frequency")
	f(PutParams{Frequency: "hourly"}, "frequency")
	f(PutParams{Frequency: "Daily"}, "frequency")
	f(PutParams{Frequency: Daily, LocalHour: ptr(24)}, "local_hour")
	f(PutParams{Frequency: Daily, LocalHour: ptr(-1)}, "local_hour")
	f(PutParams{Frequency: Weekly, Weekday: ptr(7)}, "weekday")
	f(PutParams{Frequency: Weekly, Weekday: ptr(-1)}, "weekday")
	f(PutParams{Frequency: Daily, Timezone: "Mars/Olympus_Mons"}, "timezone")
	f(PutParams{Frequency: Daily, Timezone: "Local"}, "timezone")
	f(PutParams{Frequency: Daily, Timezone: "../../etc/passwd"}, "timezone")
	f(PutParams{Frequency: Daily, Email: "not an address"}, "email")
	f(PutParams{Frequency: Daily, Email: "ana@"}, "email")

	if n := one[int](t, tx, `SELECT count(*) FROM digest_subscriptions`); n != 0 {
		t.Errorf("%d subscriptions stored by invalid requests", n)
	}
	if n := one[int](t, tx, `SELECT count(*) FROM audit_log WHERE action LIKE 'digest_subscription.%'`); n != 0 {
		t.Errorf("%d audit rows written by invalid requests", n)
	}
	if err := Delete(ctx, tx, org, ana, "monthly"); !errors.As(err, new(*ValidationError)) {
		t.Errorf("Delete of a bad frequency = %v, want a ValidationError", err)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	orgA := newOrg(t, tx, "A")
	orgB := newOrg(t, tx, "B")
	ana := newUser(t, tx, "Ana", "ana@example.com")
	carl := newUser(t, tx, "Carl", "carl@example.com")
	join(t, tx, orgA, ana, "staff")
	join(t, tx, orgB, ana, "staff")
	join(t, tx, orgA, carl, "owner")

	if _, err := Put(ctx, tx, PutParams{OrgID: orgA, UserID: ana, Frequency: Daily}); err != nil {
		t.Fatal(err)
	}
	// Ana's subscription in A is invisible from B and to Carl.
	for _, c := range []struct{ org, user string }{{orgB, ana}, {orgA, carl}} {
		subs, err := Get(ctx, tx, c.org, c.user)
		if err != nil || subs == nil || len(subs) != 0 {
			t.Errorf("Get(%s, %s) = %v, %v; want an empty list", c.org, c.user, subs, err)
		}
		if err := Delete(ctx, tx, c.org, c.user, Daily); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%s, %s) = %v, want ErrNotFound", c.org, c.user, err)
		}
	}
	if subs, err := Get(ctx, tx, orgA, ana); err != nil || len(subs) != 1 {
		t.Fatalf("Get(A, ana) = %v, %v", subs, err)
	}

	// Not a member: nothing is written, and the answer is not found.
	outsider := newUser(t, tx, "Eve", "eve@example.com")
	if _, err := Put(ctx, tx, PutParams{OrgID: orgA, UserID: outsider, Frequency: Daily}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Put by a non-member = %v, want ErrNotFound", err)
	}
	exec(t, tx, `UPDATE organizations SET deleted_at = now() WHERE id = $1`, orgB)
	if _, err := Put(ctx, tx, PutParams{OrgID: orgB, UserID: ana, Frequency: Daily}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Put in a deleted organisation = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "nope", "00000000-0000-0000-0000-00000000000g"} {
		if _, err := Put(ctx, tx, PutParams{OrgID: bad, UserID: ana, Frequency: Daily}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Put with org %q = %v, want ErrNotFound", bad, err)
		}
		if _, err := Get(ctx, tx, orgA, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get with user %q = %v, want ErrNotFound", bad, err)
		}
		if err := Delete(ctx, tx, bad, ana, Daily); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete with org %q = %v, want ErrNotFound", bad, err)
		}
	}
	if n := one[int](t, tx, `SELECT count(*) FROM digest_subscriptions`); n != 1 {
		t.Errorf("%d subscriptions, want 1", n)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := newOrg(t, tx, "Bistro Group")
	ana := newUser(t, tx, "Ana", "ana@example.com")
	join(t, tx, org, ana, "viewer")
	if _, err := Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Weekly}); err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, tx, org, ana, Daily); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete of the daily one that does not exist = %v, want ErrNotFound", err)
	}
	if err := Delete(ctx, tx, org, ana, Weekly); err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, tx, org, ana, Weekly); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if subs, err := Get(ctx, tx, org, ana); err != nil || len(subs) != 0 {
		t.Errorf("Get after Delete = %v, %v", subs, err)
	}
	if n := one[int](t, tx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'digest_subscription.delete'`, org); n != 1 {
		t.Errorf("%d delete audit rows, want 1", n)
	}
}

func TestSubscriptionJSON(t *testing.T) {
	t.Parallel()
	var p PutParams
	if err := json.Unmarshal([]byte(`{"frequency":"weekly","local_hour":0,"weekday":5,"timezone":"Asia/Kolkata","email":"a@example.com","enabled":false}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Frequency != Weekly || p.LocalHour == nil || *p.LocalHour != 0 || p.Weekday == nil || *p.Weekday != 5 ||
		p.Timezone != "Asia/Kolkata" || p.Email != "a@example.com" || p.Enabled == nil || *p.Enabled {
		t.Errorf("decoded %+v", p)
	}
	b, err := json.Marshal(Subscription{Frequency: Daily})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"org_id", "user_id", "frequency", "local_hour", "weekday", "timezone", "email", "enabled", "created_at", "updated_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("Subscription JSON lacks %q: %s", k, b)
		}
	}
}

func TestSiteFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := newOrg(t, tx, "Filter Bistro")
	north := newSite(t, tx, org, "North", "UTC", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	south := newSite(t, tx, org, "South", "UTC", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	foreign := newSite(t, tx, newOrg(t, tx, "Elsewhere"), "Far", "UTC", time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC))
	exec(t, tx, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'North fridge', 'fridge', 0, 5), ($1, $3, 'South fridge', 'fridge', 0, 5)`, org, north, south)
	ana := newUser(t, tx, "Ana", "ana@example.com")
	join(t, tx, org, ana, "staff")

	var ve *ValidationError
	for _, bad := range [][]string{{foreign}, {"not-a-uuid"}} {
		if _, err := Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily, SiteIDs: &bad}); !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "site_ids") {
			t.Errorf("site_ids %v: %v, want a site_ids validation error", bad, err)
		}
	}
	s, err := Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily, SiteIDs: &[]string{south, south}})
	if err != nil || !reflect.DeepEqual(s.SiteIDs, []string{south}) {
		t.Fatalf("Put = %+v, %v", s.SiteIDs, err)
	}
	// Nil keeps the filter, an empty list clears it.
	if s, err = Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily, LocalHour: ptr(9)}); err != nil || len(s.SiteIDs) != 1 {
		t.Errorf("a change without site_ids: %+v, %v", s.SiteIDs, err)
	}
	p := Schedule{Frequency: Daily, LocalHour: 7, Location: time.UTC}.Current(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	c, err := Load(ctx, tx, LoadParams{OrgID: org, Frequency: Daily, Period: p, SiteIDs: s.SiteIDs})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Units) != 1 || c.Units[0].UnitName != "South fridge" {
		t.Errorf("filtered digest units = %+v, want South fridge only", c.Units)
	}
	if s, err = Put(ctx, tx, PutParams{OrgID: org, UserID: ana, Frequency: Daily, SiteIDs: &[]string{}}); err != nil || s.SiteIDs != nil {
		t.Errorf("site_ids [] = %+v, %v; want every site (null)", s.SiteIDs, err)
	}
	if c, err = Load(ctx, tx, LoadParams{OrgID: org, Frequency: Daily, Period: p}); err != nil || len(c.Units) != 2 {
		t.Errorf("unfiltered digest units = %d, %v", len(c.Units), err)
	}
}
