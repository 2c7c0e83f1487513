// Package zonetest gives tests a time zone in which a moment falls at a
// known local time, so data of the last few hours lies in one local day
// whenever the test runs.
package zonetest

import (
	"fmt"
	"time"
)

// Midday returns a fixed-offset IANA zone (Etc/GMT±N, or UTC) in which it
// is between 10:00 and 14:00 at now.
func Midday(now time.Time) string {
	offset := 12 - now.UTC().Hour() // hours east of UTC
	if offset > 14 {
		offset -= 24
	}
	if offset < -12 {
		offset += 24
	}
	if offset == 0 {
		return "UTC"
	}
	return fmt.Sprintf("Etc/GMT%+d", -offset) // the Etc zones' signs are inverted
}
