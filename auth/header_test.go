package auth_test

import (
	"testing"

	"github.com/freshtrack/freshtrack/auth"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const key = "ftk_abcdefgh_abcdefghijklmnopqrstuvwxyz234567"
	f := func(authorization, xAPIKey, want string, wantOK bool) {
		t.Helper()
		got, ok := auth.ParseAuthorization([]byte(authorization), []byte(xAPIKey))
		if string(got) != want || ok != wantOK {
			t.Errorf("ParseAuthorization(%q, %q) = %q, %v; want %q, %v", authorization, xAPIKey, got, ok, want, wantOK)
		}
	}
	// Authorization: Bearer, scheme in any case, any blanks around.
	f("Bearer "+key, "", key, true)
	f("bearer "+key, "", key, true)
	f("BEARER "+key, "", key, true)
	f("BeArEr \t "+key+" ", "", key, true)
	f("  Bearer "+key, "", key, true)
	f("Bearer\t"+key, "", key, true)
	// X-API-Key.
	f("", key, key, true)
	f("", "  "+key+"\t", key, true)
	f("Basic dXNlcjpwYXNz", key, key, true) // another scheme: fall back
	// Bearer wins over X-API-Key.
	f("Bearer "+key, "ftk_other", key, true)
	// Nothing usable.
	f("", "", "", false)
	f("   ", " ", "", false)
	f("Bearer", "", "", false)
	f("Bearer ", "", "", false)
	f("Bearer    ", "", "", false)
	f("Bearer"+key, "", "", false)
	f("Bearer "+key+" extra", "", "", false)
	f("Bearer a b", key, "", false) // a malformed Bearer is not silently replaced
	f("Bearerx "+key, "", "", false)
	f("Basic dXNlcjpwYXNz", "", "", false)
	f("", "two words", "", false)
	// Content is Verify's business.
	f("Bearer ключ", "", "ключ", true)
}

func TestParseAuthorizationDoesNotAllocate(t *testing.T) {
	authorization := []byte("Bearer ftk_abcdefgh_abcdefghijklmnopqrstuvwxyz234567")
	xAPIKey := []byte(" ftk_abcdefgh_abcdefghijklmnopqrstuvwxyz234567 ")
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := auth.ParseAuthorization(authorization, nil); !ok {
			t.Fatal("not parsed")
		}
		if _, ok := auth.ParseAuthorization(nil, xAPIKey); !ok {
			t.Fatal("not parsed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call, want 0", allocs)
	}
}
