package live

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDeliveryReachesExactlyTheStreamsWhoseFilterMatches compares the hub's
// indexes with Filter.matches over random filters and events.
func TestDeliveryReachesExactlyTheStreamsWhoseFilterMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sites := []string{"s1", "s2", "s3"}
	units := []string{"u1", "u2", "u3", "u4"}
	pick := func(from []string) []string {
		var out []string
		for _, v := range from {
			if rng.IntN(3) == 0 {
				out = append(out, v)
			}
		}
		return out
	}
	hub := NewHub(HubConfig{Queue: 4096})
	defer hub.Close()
	var streams []*Stream
	for range 200 {
		s, err := hub.Subscribe("org", "u", Filter{Sites: pick(sites), Units: pick(units)})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	other, _ := hub.Subscribe("other", "u", Filter{})
	for i := range 500 {
		e := Event{Type: TypeReading, OrgID: "org", Data: []byte(fmt.Sprint(i))}
		if rng.IntN(5) > 0 {
			e.SiteID, e.UnitID = sites[rng.IntN(len(sites))], units[rng.IntN(len(units))]
		}
		hub.Deliver([]Event{e})
		for j, s := range streams {
			got := len(s.ch) == 1
			if got {
				<-s.ch
			}
			if want := s.filter.matches(&e); got != want {
				t.Fatalf("event %+v, stream %d with %+v: delivered %v, filter matches %v", e, j, s.filter, got, want)
			}
		}
	}
	if len(other.ch) != 0 {
		t.Fatal("another organisation's stream got an event")
	}
	// Streams that end leave the indexes.
	for _, s := range streams {
		s.Close()
	}
	if n := hub.Len(); n != 1 {
		t.Fatalf("%d streams left, want the other organisation's", n)
	}
	if o := hub.orgs["org"]; o != nil {
		t.Fatalf("the organisation's indexes outlived its streams: %+v", o)
	}
}

// BenchmarkDeliverToSiteStreams is a dashboard fleet: 10,000 streams, each
// watching one of 667 sites, and a publisher delivering one reading event
// per unit of 100,000 units.
func BenchmarkDeliverToSiteStreams(b *testing.B) {
	const streams, sites, unitsPerSite = 10_000, 667, 150
	hub := NewHub(HubConfig{Queue: 64})
	defer hub.Close()
	var all []*Stream
	for i := range streams {
		s, _ := hub.Subscribe("org", "viewer", Filter{Sites: []string{fmt.Sprintf("site-%d", i%sites)}})
		all = append(all, s)
	}
	events := make([]Event, 0, sites*unitsPerSite)
	for site := range sites {
		for u := range unitsPerSite {
			events = append(events, Event{Type: TypeReading, OrgID: "org", SiteID: fmt.Sprintf("site-%d", site), UnitID: fmt.Sprintf("unit-%d-%d", site, u), Data: []byte(`{}`)})
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := events[i%len(events)]
		hub.Deliver([]Event{e})
		if i%1000 == 999 {
			b.StopTimer()
			for _, s := range all {
				for len(s.ch) > 0 {
					<-s.ch
				}
			}
			b.StartTimer()
		}
	}
}
