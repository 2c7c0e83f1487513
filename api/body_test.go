package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every route of the router reads its body the same way, after the caller
// was authorised: a route without a documented body refuses one; a route
// with one takes JSON only, within the limit once decompressed, valid and
// UTF-8. Each refusal is problem+json and stores nothing (the role matrix
// and the binary's hostile suite check the rest).
func TestEveryRouteReadsItsBodyTheSameWay(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write([]byte(`{"name":"`))
	zw.Write(bytes.Repeat([]byte("a"), 64<<20))
	zw.Close()
	send := func(method, path, ct, enc string, body []byte) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+w.tokens["owner"])
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := w.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s: %d as %s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(out)
	}
	for _, rt := range w.router.Routes() {
		path := withQuery(rt, concrete(rt.Path, ids, ids["org"]), ids)
		if rt.Request == nil {
			if code, out := send(rt.Method, path, "application/json", "", []byte(`{}`)); code != 400 || !strings.Contains(out, "takes no request body") {
				t.Errorf("%s %s with a body = %d %s, want 400", rt.Method, rt.Path, code, out)
			}
			continue
		}
		valid := []byte(`{}`)
		if rt.Example != nil {
			valid, _ = json.Marshal(rt.Example(ids))
		}
		for _, probe := range []struct {
			name, ct, enc string
			body          []byte
			code          int
			says          string
		}{
			{"text/plain", "text/plain", "", valid, 415, "application/json"},
			{"form", "application/x-www-form-urlencoded", "", valid, 415, "application/json"},
			{"truncated", "application/json", "", valid[:len(valid)/2], 400, "not valid JSON"},
			{"gzip bomb", "application/json", "gzip", bomb.Bytes(), 413, "1048576 bytes"},
			{"oversized", "application/json", "", append(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 2<<20)...), `"}`...), 413, "1048576 bytes"},
			{"invalid UTF-8", "application/json", "", []byte("{\"name\":\"caf\xe9\"}"), 400, `"field":"name"`},
		} {
			if code, out := send(rt.Method, path, probe.ct, probe.enc, probe.body); code != probe.code || !strings.Contains(out, probe.says) {
				t.Errorf("%s %s, %s: %d %s, want %d saying %s", rt.Method, rt.Path, probe.name, code, out, probe.code, probe.says)
			}
		}
	}
}
