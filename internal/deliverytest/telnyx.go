package deliverytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TelnyxRequest is one request the Telnyx server received.
type TelnyxRequest struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any
}

// Telnyx is a local server answering POST /v2/messages as the Telnyx
// Messaging API v2 does when it accepts a message. Point
// notify.TelnyxConfig.BaseURL at URL.
type Telnyx struct {
	*httptest.Server
	mu       sync.Mutex
	requests []TelnyxRequest
}

// StartTelnyx starts a Telnyx server, closed at the end of the test.
func StartTelnyx(t *testing.T) *Telnyx {
	t.Helper()
	f := &Telnyx{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *Telnyx) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/messages" {
		http.Error(w, `{"errors":[{"code":"10005","title":"Resource not found"}]}`, http.StatusNotFound)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"errors":[{"code":"10015","title":"Invalid JSON","detail":%q}]}`, err.Error())
		return
	}
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, TelnyxRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()
	id := fmt.Sprintf("40385f64-5717-4562-b3fc-2c963f66b%03d", n)
	to, _ := body["to"].(string)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":{"record_type":"message","direction":"outbound","id":%q,"type":"SMS","parts":1,
"from":{"phone_number":%q,"carrier":"Telnyx","line_type":"VoIP"},
"to":[{"phone_number":%q,"status":"queued","carrier":"T-MOBILE USA, INC.","line_type":"Wireless"}],
"text":%q,"encoding":"GSM-7","errors":[],"cost":null}}`, id, body["from"], to, body["text"])
}

// Requests returns the requests received so far.
func (f *Telnyx) Requests() []TelnyxRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelnyxRequest(nil), f.requests...)
}

// Texts returns the text of every SMS sent to the number, oldest first.
func (f *Telnyx) Texts(to string) []string {
	var out []string
	for _, r := range f.Requests() {
		if r.Body["to"] == to {
			s, _ := r.Body["text"].(string)
			out = append(out, s)
		}
	}
	return out
}
