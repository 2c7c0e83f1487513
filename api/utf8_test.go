package api_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Text that is not valid UTF-8, raw bytes or an escaped lone surrogate, is
// a 400 naming the field, never a 500 from the database (it used to fail
// the audit insert with SQLSTATE 22021), and nothing is stored.
func TestInvalidUTF8IsAFieldError(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	path := fmt.Sprintf("/v1/orgs/%s/sites", ids["org"])
	for _, body := range []string{
		"{\"name\":\"Caf\xe9 du port\",\"timezone\":\"Europe/Paris\"}",
		`{"name":"Caf\ud800 du port","timezone":"Europe/Paris"}`,
		`{"name":"Caf\udc00 du port","timezone":"Europe/Paris"}`,
	} {
		code, out := w.do(t, "POST", path, "manager", json.RawMessage(body))
		code, fields := fieldErrors(t, code, out)
		if code != 400 || fields["name"] != "must be valid UTF-8 text" {
			t.Fatalf("POST %q = %d %v, want 400 naming name", body, code, fields)
		}
	}
	// A proper surrogate pair and plain non-ASCII text are fine.
	for _, body := range []string{`{"name":"Caf\u00e9 \ud83c\udf66","timezone":"Europe/Paris"}`, `{"name":"Café 🍦","timezone":"Europe/Paris"}`} {
		if code, out := w.do(t, "POST", path, "manager", json.RawMessage(body)); code != 201 {
			t.Fatalf("POST %s = %d %s", body, code, out)
		}
	}
}

// The alert and digest bodies refuse invalid UTF-8 too, rather than storing
// a silently altered comment.
func TestInvalidUTF8InAnAlertComment(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	path := fmt.Sprintf("/v1/orgs/%s/alerts/%s/ack", ids["org"], ids["alert"])
	if code, out := w.do(t, "POST", path, "staff", json.RawMessage("{\"comment\":\"d\xe9j\xe0 vu\"}")); code != 400 {
		t.Fatalf("ack with an invalid UTF-8 comment = %d %s, want 400", code, out)
	}
	if code, out := w.do(t, "POST", path, "staff", json.RawMessage(`{"comment":"déjà vu"}`)); code != 200 {
		t.Fatalf("ack = %d %s", code, out)
	}
}
