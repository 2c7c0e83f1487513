package notify_test

import (
	"fmt"
	"time"

	"github.com/freshtrack/freshtrack/notify"
)

func ExampleRenderSMS() {
	value, limit := 9.44, 5.0
	now := time.Date(2025, 6, 1, 14, 25, 0, 0, time.UTC)
	fmt.Println(notify.RenderSMS(notify.AlertNotice{
		SiteName:   "Main St Kitchen",
		UnitName:   "Walk-in Cooler 1",
		Kind:       "temp_high",
		Severity:   "critical",
		ValueC:     &value,
		ThresholdC: &limit,
		StartedAt:  now.Add(-23 * time.Minute),
		AlertURL:   "https://app.freshtrack.example/alerts/3f2b6c1e",
		Now:        now,
	}))
	// Output:
	// FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): 9.4°C, above the 5.0°C limit for 23 min. https://app.freshtrack.example/alerts/3f2b6c1e
}

func ExampleIsPermanent() {
	// Classified by codes first, then by HTTP status.
	for _, err := range []error{
		&notify.TelnyxError{StatusCode: 200, Code: "40001", Title: "Not routable"},
		&notify.TelnyxError{StatusCode: 400, Code: "40318", Title: "Message queue full"},
		&notify.TelnyxError{StatusCode: 422},
		&notify.TelnyxError{StatusCode: 429, Code: "10011"},
		&notify.TelnyxError{StatusCode: 503},
	} {
		fmt.Println(notify.IsPermanent(fmt.Errorf("send sms: %w", err)), err)
	}
	// Output:
	// true telnyx: HTTP 200, code 40001: Not routable
	// false telnyx: HTTP 400, code 40318: Message queue full
	// true telnyx: HTTP 422
	// false telnyx: HTTP 429, code 10011
	// false telnyx: HTTP 503
}
