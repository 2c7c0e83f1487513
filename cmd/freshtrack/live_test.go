package main

// Live updates through the real binary: a stream sees readings, unit states
// and an alert's lifecycle as they commit; a resume after a disconnect loses
// no alert event; other organisations see nothing; a removed member's stream
// ends; and two processes sharing a database and a Redis deliver each
// other's events.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/redistest"
)

// sseEvent is one frame of an event stream.
type sseEvent struct {
	ID, Type string
	Data     map[string]any
}

func (e sseEvent) str(k string) string { s, _ := e.Data[k].(string); return s }

// sseStream is an open event stream read in the background.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	lastID string
	// pending are events read but not yet taken.
	pending []sseEvent
}

// openEvents opens GET path with token and, when lastID is set, a
// Last-Event-ID. It returns the stream, or nil and the status and body of a
// refusal.
func openEvents(t *testing.T, base, path, token, lastID string) (*sseStream, int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return nil, resp.StatusCode, b.String()
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("events answered Content-Type %q", ct)
	}
	s := &sseStream{t: t, resp: resp, events: make(chan sseEvent, 4096)}
	go s.read()
	t.Cleanup(s.close)
	return s, 200, ""
}

func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Type != "" {
				s.events <- cur
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &cur.Data); err != nil {
				cur.Data = map[string]any{"unparsed": line[6:]}
			}
		}
	}
}

func (s *sseStream) close() { _ = s.resp.Body.Close() }

// take returns the first event, of those already read and not taken or
// those still to come, for which match holds, or fails after timeout. The
// events it passes over stay for later calls, in order.
func (s *sseStream) take(what string, match func(sseEvent) bool, timeout time.Duration) sseEvent {
	s.t.Helper()
	for i, e := range s.pending {
		if match(e) {
			s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
			return e
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				s.t.Fatalf("the stream ended while waiting for %s", what)
			}
			s.lastID = e.ID
			if match(e) {
				return e
			}
			s.pending = append(s.pending, e)
		case <-deadline:
			s.t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// next returns the first event of type typ for which match holds (nil:
// any).
func (s *sseStream) next(typ string, match func(sseEvent) bool, timeout time.Duration) sseEvent {
	s.t.Helper()
	return s.take(typ+" event", func(e sseEvent) bool { return e.Type == typ && (match == nil || match(e)) }, timeout)
}

// both returns the first events matching each of two predicates, whatever
// their order (alert events come from the database at commit, unit states
// from the evaluator: neither waits for the other).
func (s *sseStream) both(a, b func(sseEvent) bool, timeout time.Duration) (sseEvent, sseEvent) {
	s.t.Helper()
	return s.take("the first of two events", a, timeout), s.take("the second of two events", b, timeout)
}

func isType(typ string) func(sseEvent) bool { return func(e sseEvent) bool { return e.Type == typ } }

// quiet fails if an event of one of the types arrives within d.
func (s *sseStream) quiet(d time.Duration, types ...string) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				return
			}
			for _, typ := range types {
				if e.Type == typ {
					s.t.Fatalf("unexpected %s event: %v", e.Type, e.Data)
				}
			}
		case <-deadline:
			return
		}
	}
}

// liveOrg is an organisation with one fridge whose temp_high rule alerts at
// once, an ingest key and a token per role.
type liveOrg struct {
	id, site, unit, sensor, apiKey string
	tokens                         map[auth.Role]string
}

func newLiveOrg(t *testing.T, pool *pgxpool.Pool, keyFile, addr, name string) *liveOrg {
	t.Helper()
	ctx := context.Background()
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "gateway", Scopes: []string{"ingest"}})
	if err != nil {
		t.Fatal(err)
	}
	o := &liveOrg{id: org.ID, apiKey: key.Key, sensor: "LIVE-" + org.ID[:8], tokens: map[auth.Role]string{}}
	slug := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	for _, role := range []auth.Role{auth.Viewer, auth.Staff, auth.Manager, auth.Admin, auth.Owner} {
		tok, err := mintDevToken(ctx, pool, keyFile, addr, org.ID, role, string(role)+"@"+slug+".test", "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		o.tokens[role] = tok
	}
	if err := pool.QueryRow(ctx, `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Kitchen', 'UTC') RETURNING id`, org.ID).Scan(&o.site); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `
		INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Prep fridge', 'fridge', 0, 5) RETURNING id`,
		org.ID, o.site).Scan(&o.unit); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3)`, org.ID, o.sensor, o.unit); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, severity) VALUES ($1, $2, 'temp_high', 5, 0, 'critical')`,
		org.ID, o.unit); err != nil {
		t.Fatal(err)
	}
	// Whom the alert's first step texts (SMS is not configured: the
	// message is recorded as not_configured).
	if _, err := pool.Exec(ctx, `INSERT INTO contacts (org_id, site_id, name, phone, role) VALUES ($1, $2, 'Line cook', '+15550100001', 'staff')`,
		org.ID, o.site); err != nil {
		t.Fatal(err)
	}
	return o
}

// post stores one reading through the API and fails unless it was accepted.
func (o *liveOrg) post(t *testing.T, base string, at time.Time, tempC float64) {
	t.Helper()
	postReadings(t, base, o.apiKey, []map[string]any{{"sensor": o.sensor, "time": at.UTC().Format(time.RFC3339Nano), "temp_c": tempC, "battery": 90}})
}

// postReadings posts readings through the device API with key and fails
// unless every one was accepted.
func postReadings(t *testing.T, base, key string, readings []map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"readings": readings})
	req, _ := http.NewRequest("POST", base+"/v1/readings", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Accepted int `json:"accepted"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || out.Accepted != len(readings) {
		t.Fatalf("post %d readings: status %d, accepted %d", len(readings), resp.StatusCode, out.Accepted)
	}
}

// call makes an API call as role and returns the status.
func (o *liveOrg) call(t *testing.T, base, method, path string, role auth.Role, body any) int {
	t.Helper()
	code, _ := o.callJSON(t, base, method, path, role, body)
	return code
}

// callJSON makes an API call as role and returns the status and the
// answer's JSON object (nil when it is none).
func (o *liveOrg) callJSON(t *testing.T, base, method, path string, role auth.Role, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+o.tokens[role])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (o *liveOrg) events(unitFilter bool) string {
	p := "/v1/orgs/" + o.id + "/events"
	if unitFilter {
		p += "?unit=" + o.unit
	}
	return p
}

func TestLiveEventsArriveInOrderAndResumeWithoutLoss(t *testing.T) {
	p, _, a, b := startLiveTwoOrgs(t, "live", "Harbour Kitchen", "Other Kitchen")
	base := p.base()

	s, code, out := openEvents(t, base, a.events(true), a.tokens[auth.Viewer], "")
	if s == nil {
		t.Fatalf("open stream: %d %s", code, out)
	}
	other, code, out := openEvents(t, base, b.events(false), b.tokens[auth.Owner], "")
	if other == nil {
		t.Fatalf("open other org's stream: %d %s", code, out)
	}

	now := time.Now()
	a.post(t, base, now.Add(-2*time.Minute), 3.5)
	r := s.next("reading", nil, 10*time.Second)
	if r.str("unit_id") != a.unit || r.Data["temp_c"] != 3.5 {
		t.Fatalf("reading event = %v", r.Data)
	}

	// An excursion: the rule alerts at once.
	a.post(t, base, now.Add(-time.Minute), 9.25)
	opened, st := s.both(isType("alert"), func(e sseEvent) bool { return e.Type == "unit_state" && e.str("state") != "ok" }, 10*time.Second)
	alertID := opened.str("alert_id")
	if opened.str("action") != "opened" || opened.str("unit_id") != a.unit || alertID == "" {
		t.Fatalf("first alert event = %v", opened.Data)
	}
	if st.str("state") != "alerting" {
		t.Fatalf("unit_state = %v, want alerting", st.Data)
	}
	// The alert's message, and its status as the sender settles it.
	n := s.next("notification", func(e sseEvent) bool { return e.str("status") == "not_configured" }, 15*time.Second)
	if n.str("alert_id") != alertID || n.str("channel") != "sms" {
		t.Fatalf("notification event = %v", n.Data)
	}

	if e := s.next("alert", nil, 10*time.Second); e.str("action") != "notified" || e.str("alert_id") != alertID {
		t.Fatalf("after opened, got %v, want notified (its first step)", e.Data)
	}
	alert := "/v1/orgs/" + a.id + "/alerts/" + alertID
	if c := a.call(t, base, "POST", alert+"/ack", auth.Staff, map[string]any{"comment": "on it"}); c != 200 {
		t.Fatalf("ack: %d", c)
	}
	acked := s.next("alert", nil, 10*time.Second)
	if acked.str("action") != "acknowledged" || acked.str("alert_id") != alertID {
		t.Fatalf("after notified, got %v, want acknowledged", acked.Data)
	}
	lastSeen := s.lastID
	seen, _ := acked.Data["event_id"].(float64)

	// Broken off: what happens meanwhile is replayed on resume.
	s.close()
	if c := a.call(t, base, "POST", alert+"/comments", auth.Staff, map[string]any{"text": "door seal replaced"}); c != 201 {
		t.Fatalf("comment: %d", c)
	}
	if c := a.call(t, base, "POST", alert+"/resolve", auth.Manager, map[string]any{"action": "moved stock to the walk-in", "disposition": "moved"}); c != 200 {
		t.Fatalf("resolve: %d", c)
	}
	resumed, code, out := openEvents(t, base, a.events(true), a.tokens[auth.Viewer], lastSeen)
	if resumed == nil {
		t.Fatalf("resume: %d %s", code, out)
	}
	// A resume may repeat what the stream saw just before it broke off;
	// event_id tells the repeats apart.
	unseen := func(e sseEvent) bool { id, _ := e.Data["event_id"].(float64); return id > seen }
	if e := resumed.next("alert", unseen, 10*time.Second); e.str("action") != "comment" {
		t.Fatalf("first replayed event after the ack = %v, want the comment", e.Data)
	}
	if e := resumed.next("alert", unseen, 10*time.Second); e.str("action") != "resolved" {
		t.Fatalf("second replayed event = %v, want resolved", e.Data)
	}
	if e := resumed.next("unit_state", nil, 10*time.Second); e.str("unit_id") != a.unit {
		t.Fatalf("replayed unit state = %v", e.Data)
	}
	// Ids are strictly increasing on a stream.
	prev, _ := strconv.ParseInt(lastSeen, 10, 64)
	if id, _ := strconv.ParseInt(resumed.lastID, 10, 64); id <= prev {
		t.Fatalf("resumed stream's ids (%d) do not follow the old one's (%d)", id, prev)
	}

	// From too far back, or from a made-up id: reload.
	stale, _, _ := openEvents(t, base, a.events(true), a.tokens[auth.Viewer], strconv.FormatInt(time.Now().Add(-time.Hour).UnixMicro(), 10))
	if e := stale.next("reset", nil, 5*time.Second); e.Data["reload"] != true {
		t.Fatalf("stale resume = %v, want a reset with reload", e.Data)
	}

	// The other organisation saw none of it.
	other.quiet(500*time.Millisecond, "reading", "alert", "unit_state", "notification")
}

func TestLiveStreamsAreTenantIsolated(t *testing.T) {
	p, pool, a, b := startLiveTwoOrgs(t, "live-tenants", "Tenant A", "Tenant B")
	base := p.base()

	// Every role of B, on B's stream; and on A's: not found, like any route.
	var bStreams []*sseStream
	for role, tok := range b.tokens {
		if _, code, _ := openEvents(t, base, a.events(false), tok, ""); code != 404 {
			t.Errorf("%s of B on A's stream: %d, want 404", role, code)
		}
		if _, code, _ := openEvents(t, base, b.events(false)+"?unit="+a.unit, tok, ""); code != 404 {
			t.Errorf("%s of B filtering on A's unit: %d, want 404", role, code)
		}
		s, code, out := openEvents(t, base, b.events(false), tok, "")
		if s == nil {
			t.Fatalf("%s of B on B's stream: %d %s", role, code, out)
		}
		bStreams = append(bStreams, s)
	}
	if _, code, _ := openEvents(t, base, a.events(false), "", ""); code != 401 {
		t.Errorf("no credentials: %d, want 401", code)
	}
	// A ticket opens the stream of its own organisation only.
	ticket := func(o *liveOrg) string {
		req, _ := http.NewRequest("POST", base+"/v1/orgs/"+o.id+"/events/ticket", nil)
		req.Header.Set("Authorization", "Bearer "+o.tokens[auth.Viewer])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("ticket: %v %v", err, resp)
		}
		defer resp.Body.Close()
		var out struct{ Ticket string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out.Ticket
	}
	ta := ticket(a)
	if _, code, _ := openEvents(t, base, b.events(false)+"?ticket="+ta, "", ""); code != 401 {
		t.Errorf("A's ticket on B's stream: %d, want 401", code)
	}
	viaTicket, code, out := openEvents(t, base, a.events(false)+"?ticket="+ta, "", "")
	if viaTicket == nil {
		t.Fatalf("A's ticket on A's stream: %d %s", code, out)
	}
	// A staff member whose membership is removed loses the stream.
	staff, code, out := openEvents(t, base, a.events(false), a.tokens[auth.Staff], "")
	if staff == nil {
		t.Fatalf("staff stream: %d %s", code, out)
	}

	a.post(t, base, time.Now().Add(-time.Minute), 9.5)
	viaTicket.next("alert", func(e sseEvent) bool { return e.str("action") == "opened" }, 10*time.Second)
	staff.next("reading", nil, 10*time.Second)
	for _, s := range bStreams {
		s.quiet(300*time.Millisecond, "reading", "alert", "unit_state", "notification")
	}

	var staffID string
	if err := pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'staff@tenant-a.test'`).Scan(&staffID); err != nil {
		t.Fatal(err)
	}
	if c := a.call(t, base, "DELETE", "/v1/orgs/"+a.id+"/members/"+staffID, auth.Owner, nil); c != 204 {
		t.Fatalf("remove member: %d", c)
	}
	if e := staff.next("reset", nil, 10*time.Second); e.Data["reload"] != true {
		t.Fatalf("removed member's stream = %v", e.Data)
	}
	select {
	case _, open := <-staff.events:
		if open {
			t.Fatal("the removed member's stream goes on after its reset")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the removed member's stream did not end")
	}
	// The others' streams are still open.
	a.post(t, base, time.Now().Add(-30*time.Second), 9.75)
	viaTicket.next("reading", nil, 10*time.Second)
}

func TestLiveEventsCrossInstancesThroughRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	redisURL := redistest.Start(t)
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	env := []string{"REDIS_URL=" + redisURL, "FRESHTRACK_EVENTS_TICKET_KEY=" + strings.Repeat("k", 32)}
	// One instance ingests, the other holds the stream.
	ingester := startServe(t, "ingest", dbURL, env, "--role", "ingest,worker")
	apiNode := startServe(t, "api", dbURL, env, "--role", "api", "--dev-auth", "--dev-auth-key", keyFile)
	logOnFailure(t, ingester)
	logOnFailure(t, apiNode)
	a := newLiveOrg(t, pool, keyFile, apiNode.addr, "Two Node Kitchen")

	s, code, out := openEvents(t, apiNode.base(), a.events(true), a.tokens[auth.Viewer], "")
	if s == nil {
		t.Fatalf("open stream: %d %s", code, out)
	}
	a.post(t, ingester.base(), time.Now().Add(-time.Minute), 4.25)
	if e := s.next("reading", nil, 10*time.Second); e.Data["temp_c"] != 4.25 {
		t.Fatalf("reading through redis = %v", e.Data)
	}
	a.post(t, ingester.base(), time.Now().Add(-30*time.Second), 8.5)
	s.both(func(e sseEvent) bool { return e.Type == "unit_state" && e.str("state") == "alerting" },
		func(e sseEvent) bool { return e.Type == "alert" && e.str("action") == "opened" }, 10*time.Second)
}

// startLiveTwoOrgs starts serve with the development issuer on a database of
// its own holding two organisations.
func startLiveTwoOrgs(t *testing.T, name, orgA, orgB string) (*serveProc, *pgxpool.Pool, *liveOrg, *liveOrg) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	p := startServe(t, name, dbURL, nil, "--dev-auth", "--dev-auth-key", keyFile)
	logOnFailure(t, p)
	return p, pool, newLiveOrg(t, pool, keyFile, p.addr, orgA), newLiveOrg(t, pool, keyFile, p.addr, orgB)
}

// logOnFailure prints the end of p's log when the test failed.
func logOnFailure(t *testing.T, p *serveProc) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's log:\n%s", p.name, p.logTail(30))
		}
	})
}
