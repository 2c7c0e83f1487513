package zonetest

import (
	"testing"
	"time"
)

func TestMiddayIsAboutNoonAtEveryHour(t *testing.T) {
	base := time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC)
	for h := 0; h < 24; h++ {
		now := base.Add(time.Duration(h) * time.Hour)
		loc, err := time.LoadLocation(Midday(now))
		if err != nil {
			t.Fatalf("%s: %v", now, err)
		}
		if local := now.In(loc).Hour(); local < 10 || local > 14 {
			t.Errorf("at %s UTC, %s says %02d h local", now.Format("15:04"), Midday(now), local)
		}
	}
}
