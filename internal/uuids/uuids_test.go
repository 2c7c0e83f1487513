package uuids

import "testing"

func TestValid(t *testing.T) {
	t.Parallel()
	f := func(s string, want bool) {
		t.Helper()
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v", s, !want)
		}
	}
	f("0f58e438-11a8-4c77-8e89-7169e7997f07", true)
	f("0F58E438-11A8-4C77-8E89-7169E7997F07", true)
	f("", false)
	f("0f58e43811a84c778e897169e7997f07", false)
	f("{0f58e438-11a8-4c77-8e89-7169e7997f07}", false)
	f("urn:uuid:0f58e438-11a8-4c77-8e89-7169e7997f07", false)
	f("0f58e438-11a8-4c77-8e89-7169e7997f0g", false)
	f("0f58e438x11a8-4c77-8e89-7169e7997f07", false)
	f("0f58e438-11a8-4c77-8e89-7169e7997f0", false)
}
