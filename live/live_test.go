package live

import (
	"bufio"
	"context"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
)

// frames reads SSE frames from r and sends "type data" strings on a channel.
func frames(r io.Reader) <-chan string {
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		var typ string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				out <- typ + " " + line[6:]
			}
		}
	}()
	return out
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
	}
	return ""
}

// serve runs s.Serve on one end of a pipe and returns the frames read from
// the other.
func serve(t *testing.T, s *Stream, o ServeOptions) (<-chan string, chan struct{}) {
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	done := make(chan struct{})
	o.SetWriteDeadline = server.SetWriteDeadline
	go func() {
		defer close(done)
		s.Serve(bufio.NewWriter(server), o)
		server.Close()
	}()
	return frames(client), done
}

func TestPublisherCoalescesReadingsPerUnitAndStatesOnChange(t *testing.T) {
	hub := NewHub(HubConfig{})
	defer hub.Close()
	pub := NewPublisher(PublisherConfig{Bus: LocalBus{Hub: hub}, PerUnit: 200 * time.Millisecond, Tick: 10 * time.Millisecond})
	s, err := hub.Subscribe("org", "user", Filter{Units: []string{"u1"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := serve(t, s, ServeOptions{})
	if err := pub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer pub.Stop(context.Background())
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	reading := func(unit string, sec int, c float64) UnitReading {
		return UnitReading{UnitRef: alerting.UnitRef{OrgID: "org", SiteID: "s", UnitID: unit}, Time: t0.Add(time.Duration(sec) * time.Second), TempC: c, Battery: math.NaN(), State: alerting.UnitOK}
	}
	pub.Readings([]UnitReading{reading("u1", 0, 3), reading("u2", 0, 4)})
	if f := next(t, got); !strings.HasPrefix(f, "reading ") || !strings.Contains(f, `"temp_c":3`) || !strings.Contains(f, `"battery":null`) {
		t.Fatalf("first frame = %q", f)
	}
	// Three readings within the unit's second: one event, the newest, after
	// the window; an older one arriving late does not replace it.
	pub.Readings([]UnitReading{reading("u1", 1, 3.1)})
	pub.Readings([]UnitReading{reading("u1", 3, 3.3)})
	pub.Readings([]UnitReading{reading("u1", 2, 3.2)})
	if f := next(t, got); !strings.Contains(f, `"temp_c":3.3`) {
		t.Fatalf("coalesced frame = %q, want the newest reading", f)
	}
	pub.UnitState(alerting.UnitState{OrgID: "org", SiteID: "s", UnitID: "u1", State: alerting.UnitPending, At: time.Now()})
	pub.UnitState(alerting.UnitState{OrgID: "org", SiteID: "s", UnitID: "u1", State: alerting.UnitPending, At: time.Now()})
	pub.UnitState(alerting.UnitState{OrgID: "org", SiteID: "s", UnitID: "u1", State: alerting.UnitAlerting, At: time.Now()})
	if f := next(t, got); !strings.Contains(f, `unit_state`) || !strings.Contains(f, `"state":"pending"`) {
		t.Fatalf("frame = %q, want pending", f)
	}
	if f := next(t, got); !strings.Contains(f, `"state":"alerting"`) {
		t.Fatalf("frame = %q, want alerting once (the repeated pending is not an event)", f)
	}
}

func TestFiltersAndOrganisationsSeparateStreams(t *testing.T) {
	hub := NewHub(HubConfig{})
	defer hub.Close()
	mine, _ := hub.Subscribe("org-a", "u", Filter{Sites: []string{"site-1"}})
	all, _ := hub.Subscribe("org-a", "u", Filter{})
	theirs, _ := hub.Subscribe("org-b", "u", Filter{})
	hub.Deliver([]Event{
		{Type: TypeAlert, OrgID: "org-a", SiteID: "site-2", UnitID: "x", Data: []byte(`{"n":1}`)},
		{Type: TypeAlert, OrgID: "org-a", SiteID: "site-1", UnitID: "y", Data: []byte(`{"n":2}`)},
		{Type: TypeNotification, OrgID: "org-a", Data: []byte(`{"n":3}`)},
	})
	if len(mine.ch) != 1 || string((<-mine.ch).Data) != `{"n":2}` {
		t.Fatal("a site filter let through another site's event, or lost its own")
	}
	if len(all.ch) != 3 {
		t.Fatalf("an unfiltered stream got %d of 3 events", len(all.ch))
	}
	if len(theirs.ch) != 0 {
		t.Fatal("another organisation's stream got an event")
	}
}

func TestAStalledClientIsDroppedAndTheOthersGoOn(t *testing.T) {
	hub := NewHub(HubConfig{Queue: 16})
	defer hub.Close()
	stalled, _ := hub.Subscribe("org", "slow", Filter{})
	healthy, _ := hub.Subscribe("org", "fast", Filter{})
	// The stalled client never reads: its writes block until the deadline.
	server, client := net.Pipe()
	defer client.Close()
	stalledDone := make(chan struct{})
	go func() {
		defer close(stalledDone)
		stalled.Serve(bufio.NewWriter(server), ServeOptions{SetWriteDeadline: server.SetWriteDeadline, WriteTimeout: 200 * time.Millisecond})
	}()
	got, _ := serve(t, healthy, ServeOptions{})
	before := mDropped.Get()
	big := []byte(`{"pad":"` + strings.Repeat("x", 1000) + `"}`)
	for i := 0; i < 200; i++ {
		hub.Deliver([]Event{{Type: TypeReading, OrgID: "org", UnitID: "u", Data: big}})
		if i%8 == 0 {
			// The healthy client keeps up.
			for len(healthy.ch) > 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	if mDropped.Get() != before+1 {
		t.Fatalf("dropped streams went from %d to %d, want one more", before, mDropped.Get())
	}
	if hub.Len() != 1 {
		t.Fatalf("the hub holds %d streams, want only the healthy one", hub.Len())
	}
	select {
	case <-stalledDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled client's writer did not give up at its write deadline")
	}
	for i := 0; i < 200; i++ {
		if f := next(t, got); !strings.HasPrefix(f, "reading ") {
			t.Fatalf("healthy frame %d = %.40q", i, f)
		}
	}
	// What the dropped stream held is garbage now: the queue is gone with
	// the stream (nothing else refers to it).
	runtime.GC()
}

func TestStreamsEndWithAResetThatSaysWhy(t *testing.T) {
	hub := NewHub(HubConfig{Recheck: func(_ context.Context, org, user string) (bool, error) { return user == "kept", nil }})
	kept, _ := hub.Subscribe("org", "kept", Filter{})
	removed, _ := hub.Subscribe("org", "removed", Filter{})
	keptFrames, _ := serve(t, kept, ServeOptions{})
	removedFrames, removedDone := serve(t, removed, ServeOptions{})
	hub.EndMember(context.Background(), "org", "removed")
	hub.EndMember(context.Background(), "org", "kept")
	if f := next(t, removedFrames); !strings.HasPrefix(f, "reset ") || !strings.Contains(f, "membership") {
		t.Fatalf("removed member's last frame = %q", f)
	}
	<-removedDone
	hub.Close()
	if f := next(t, keptFrames); !strings.HasPrefix(f, "reset ") || !strings.Contains(f, "restarting") {
		t.Fatalf("on close, frame = %q", f)
	}
	if _, err := hub.Subscribe("org", "late", Filter{}); err != ErrClosed {
		t.Fatalf("Subscribe after Close = %v", err)
	}
}

func TestTicketsOpenOneOrganisationForAMinute(t *testing.T) {
	tk := NewTickets([]byte(strings.Repeat("k", 32)))
	now := time.Now()
	tk.now = func() time.Time { return now }
	ticket, exp := tk.Issue("org-a", "user-1")
	if exp.Sub(now) > TicketTTL || exp.Sub(now) < TicketTTL-time.Second {
		t.Fatalf("expires %v after issue, want about %v", exp.Sub(now), TicketTTL)
	}
	if u, err := tk.Check(ticket, "org-a"); err != nil || u != "user-1" {
		t.Fatalf("Check = %q, %v", u, err)
	}
	if _, err := tk.Check(ticket, "org-b"); err != ErrBadTicket {
		t.Fatal("a ticket opened another organisation")
	}
	if _, err := NewTickets([]byte(strings.Repeat("j", 32))).Check(ticket, "org-a"); err != ErrBadTicket {
		t.Fatal("a ticket signed with another key was accepted")
	}
	forged := strings.Replace(ticket, ticket[:4], "AAAA", 1)
	if _, err := tk.Check(forged, "org-a"); err != ErrBadTicket {
		t.Fatal("a forged ticket was accepted")
	}
	tk.now = func() time.Time { return now.Add(TicketTTL + time.Second) }
	if _, err := tk.Check(ticket, "org-a"); err != ErrBadTicket {
		t.Fatal("an expired ticket was accepted")
	}
}
