package main

// The probes of the hostile-input suite: their payloads, built once, and a
// raw HTTP/1.1 client that writes each request on a connection of its own
// and reads the answer even when serve answers and closes before the body
// is written (as it does for a body over its route's limit).

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// hostilePayloads are the large bodies, built once.
type hostilePayloads struct {
	bomb, big, bigChunked []byte
}

func newHostilePayloads(t *testing.T) *hostilePayloads {
	t.Helper()
	var bomb bytes.Buffer
	// BestSpeed of klauspost's gzip compresses a run of one byte about as
	// well as level 9 of compress/gzip, in a tenth of the time.
	zw, err := gzip.NewWriterLevel(&bomb, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	run := bytes.Repeat([]byte("a"), 1<<20)
	zw.Write([]byte(`{"name":"`))
	for range hostileBombBytes / len(run) {
		zw.Write(run)
	}
	zw.Write([]byte(`"}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 0, hostileBigBytes+16)
	big = append(big, `{"name":"`...)
	big = append(big, bytes.Repeat([]byte("a"), hostileBigBytes)...)
	big = append(big, `"}`...)
	var chunked bytes.Buffer
	for off := 0; off < len(big); off += 64 << 10 {
		part := big[off:min(off+64<<10, len(big))]
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(part), part)
	}
	chunked.WriteString("0\r\n\r\n")
	return &hostilePayloads{bomb: bomb.Bytes(), big: big, bigChunked: chunked.Bytes()}
}

type hostileJob struct {
	rt   hostileRoute
	cred hostileCred
	kind string
}

// hostileOutcome is one probe's answer and what is wrong with it.
type hostileOutcome struct {
	hostileJob
	status  int
	elapsed time.Duration
	body    []byte
	verdict string // empty: a 4xx problem+json in time
	// retried, when not zero, is how long the first try took: it was late,
	// and this outcome is the second's.
	retried time.Duration
}

func (o hostileOutcome) String() string {
	b := o.body
	if len(b) > 200 {
		b = b[:200]
	}
	return fmt.Sprintf("%-6s %-44s %-13s %-18s %3d %6.3fs  %s  %q", o.rt.method, o.rt.pattern, o.cred.name, o.kind, o.status, o.elapsed.Seconds(), o.verdict, b)
}

func runHostile(addr string, pl *hostilePayloads, fx *hostileFixture, jobs []hostileJob) []hostileOutcome {
	out := make([]hostileOutcome, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range hostileWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = probeHostile(addr, pl, fx, jobs[i])
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	// A probe answered correctly but late is tried once more, alone: on a
	// loaded machine (the race detector, parallel test packages) a single
	// answer can miss the second through scheduling, whereas a server that
	// works on a hostile body (the old one took 8-19 s per gzip bomb)
	// misses it every time.
	for i, o := range out {
		if o.verdict == "slow" {
			if again := probeHostile(addr, pl, fx, jobs[i]); again.verdict == "" {
				again.retried = o.elapsed
				out[i] = again
			}
		}
	}
	return out
}

// probeHostile sends one probe on a connection of its own, by hand: serve
// may answer 413 and close before the body is in, which net/http's client
// reports as a failed write rather than as the answer.
func probeHostile(addr string, pl *hostilePayloads, fx *hostileFixture, j hostileJob) hostileOutcome {
	o := hostileOutcome{hostileJob: j}
	valid := []byte(strings.ReplaceAll(j.rt.body, hostileMarker, ""))
	ctype, body, signed := "application/json", valid, valid
	var head []string
	switch j.kind {
	case "gzip-bomb":
		body, signed = pl.bomb, pl.bomb
		head = append(head, "Content-Encoding: gzip")
	case "oversized":
		body, signed = pl.big, pl.big
	case "oversized-chunked":
		body, signed = pl.bigChunked, pl.big
	case "invalid-utf8":
		body = []byte(strings.ReplaceAll(j.rt.body, hostileMarker, "\xff\xfe"))
		signed = body
	case "truncated-json":
		body = valid[:len(valid)/2]
		signed = body
	case "wrong-content-type":
		ctype = "text/plain"
	}
	head = append(head, "Content-Type: "+ctype)
	if j.kind == "oversized-chunked" {
		head = append(head, "Transfer-Encoding: chunked")
	} else {
		head = append(head, "Content-Length: "+strconv.Itoa(len(body)))
	}
	if j.cred.bearer != "" {
		head = append(head, "Authorization: Bearer "+j.cred.bearer)
	}
	if j.cred.header != "" {
		head = append(head, j.cred.header)
	}
	if j.cred.stripe {
		head = append(head, "Stripe-Signature: "+stripetest.Sign(hostileStripeSecret, signed, time.Now()))
	}
	if j.cred.telnyx {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		msg := append([]byte(ts+"|"), signed...)
		head = append(head, "Telnyx-Timestamp: "+ts,
			"Telnyx-Signature-Ed25519: "+base64.StdEncoding.EncodeToString(ed25519.Sign(fx.telnyxKey, msg)))
	}
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s\r\n\r\n", j.rt.method, j.rt.target, addr, strings.Join(head, "\r\n"))

	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		o.verdict = "dial: " + err.Error()
		return o
	}
	// Long enough to tell a slow answer from none, short enough that a
	// server that waits for ever does not stall the suite.
	conn.SetDeadline(time.Now().Add(3 * hostileAnswerWithin))
	start := time.Now()
	written := make(chan struct{})
	go func() {
		defer close(written)
		// Once serve has answered and closed, writes fail: expected.
		if _, err := conn.Write([]byte(req)); err == nil {
			conn.Write(body)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		o.status = resp.StatusCode
		o.body, err = io.ReadAll(resp.Body)
	}
	o.elapsed = time.Since(start)
	conn.Close()
	<-written
	var verdicts []string
	switch {
	case o.status == 0:
		verdicts = append(verdicts, fmt.Sprintf("no answer: %v", err))
	case err != nil:
		verdicts = append(verdicts, fmt.Sprintf("answer cut short: %v", err))
	case o.status < 400 || o.status > 499:
		verdicts = append(verdicts, "want 4xx")
	}
	if o.status != 0 {
		verdicts = append(verdicts, errorShape(j.rt.errorMedia, resp.Header.Get("Content-Type"), o.status, o.body)...)
	}
	if o.elapsed > hostileAnswerWithin {
		verdicts = append(verdicts, "slow")
	}
	o.verdict = strings.Join(verdicts, "; ")
	return o
}

// errorShape checks an error answer against the media type its route
// documents: problem+json whose status is the HTTP status, or FreshTrack
// Pro's {"error":{"code","message"}} under application/json.
func errorShape(media, ct string, status int, body []byte) []string {
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(mt) != media {
		return []string{fmt.Sprintf("Content-Type %q, want %s", ct, media)}
	}
	if media == "application/json" {
		var seed struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(body, &seed) != nil || seed.Error.Code == "" || seed.Error.Message == "" {
			return []string{"not FreshTrack Pro's error shape"}
		}
		return nil
	}
	var pb struct{ Status int }
	if json.Unmarshal(body, &pb) != nil || pb.Status != status {
		return []string{"problem status is not the HTTP status"}
	}
	return nil
}

// hostileSummary tabulates the probes by kind: how many, the slowest, how
// many were late once and answered in time when tried again, and the
// statuses answered.
func hostileSummary(outs []hostileOutcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %6s %8s %6s %6s  %s\n", "probe", "count", "max", "late", "failed", "statuses")
	for _, k := range hostileKinds {
		var n, late, failed int
		var slowest time.Duration
		statuses := map[int]int{}
		for _, o := range outs {
			if o.kind != k {
				continue
			}
			n++
			slowest = max(slowest, o.elapsed)
			statuses[o.status]++
			if o.verdict != "" {
				failed++
			}
			if o.retried > 0 {
				late++
			}
		}
		var seen []string
		for _, s := range slices.Sorted(maps.Keys(statuses)) {
			seen = append(seen, fmt.Sprintf("%d×%d", s, statuses[s]))
		}
		fmt.Fprintf(&b, "%-18s %6d %7.3fs %6d %6d  %s\n", k, n, slowest.Seconds(), late, failed, strings.Join(seen, " "))
	}
	return b.String()
}
