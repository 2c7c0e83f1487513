package live

import (
	"bufio"
	"encoding/json"
	"time"
)

// ServeOptions are how a stream is written to its connection.
type ServeOptions struct {
	// First are written before anything queued: a resumed stream's replay,
	// or a reset saying it cannot resume.
	First []Event
	// Heartbeat is how often a comment line is written when there is
	// nothing else, so proxies and load balancers keep an idle stream
	// open. Defaults to 15s.
	Heartbeat time.Duration
	// WriteTimeout bounds each write: a client that does not take its
	// bytes for that long is dropped. Defaults to 10s.
	WriteTimeout time.Duration
	// SetWriteDeadline sets the connection's write deadline (net.Conn's);
	// the server's own write timeout would otherwise end every stream. Nil
	// leaves the connection's deadline alone.
	SetWriteDeadline func(time.Time) error
}

// resetData is a reset event's body.
type resetData struct {
	Reason string `json:"reason"`
	Reload bool   `json:"reload"`
}

// ResetEvent is the reset a client gets when it cannot resume, or when its
// stream ends: reload what it shows, then reconnect.
func ResetEvent(reason string) Event { return resetEvent(reason, true) }

func resetEvent(reason string, reload bool) Event {
	b, _ := json.Marshal(resetData{Reason: reason, Reload: reload})
	return Event{Type: TypeReset, Data: b}
}

// Serve writes the stream to w until the stream ends (a final reset event
// says why) or the client goes away (a write fails). It is the body of the
// HTTP response; the caller has sent the headers.
func (s *Stream) Serve(w *bufio.Writer, o ServeOptions) {
	defer s.Close()
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	var lastID int64
	nextID := func() int64 {
		lastID = max(lastID+1, time.Now().UnixMicro())
		return lastID
	}
	// Per write, not per event: the metrics are shared by every stream, and
	// a write carries a burst of events. The fan-out latency observed is the
	// burst's oldest commit → written, its worst.
	var (
		buffered int
		oldest   time.Time
	)
	flush := func() bool {
		if o.SetWriteDeadline != nil {
			_ = o.SetWriteDeadline(time.Now().Add(o.WriteTimeout))
		}
		if w.Flush() != nil {
			return false
		}
		mSent.Add(buffered)
		if !oldest.IsZero() {
			mFanout.UpdateDuration(oldest)
		}
		buffered, oldest = 0, time.Time{}
		return true
	}
	write := func(e *Event) {
		writeFrame(w, nextID(), e.Type, e.Data)
		buffered++
		if !e.Committed.IsZero() && (oldest.IsZero() || e.Committed.Before(oldest)) {
			oldest = e.Committed
		}
	}
	// A client's EventSource retries after 2 s when the connection drops.
	w.WriteString("retry: 2000\n: connected\n\n")
	for i := range o.First {
		write(&o.First[i])
	}
	if !flush() {
		return
	}
	heartbeat := time.NewTicker(o.Heartbeat)
	defer heartbeat.Stop()
	maxAge := time.AfterFunc(s.hub.cfg.MaxAge, func() {
		s.endWith("the stream reached its maximum age; reconnect with Last-Event-ID", true)
	})
	defer maxAge.Stop()
	for {
		select {
		case e := <-s.ch:
			write(&e)
			// Write what else is queued before one flush for them all.
		more:
			for n := 0; n < 256; n++ {
				select {
				case e := <-s.ch:
					write(&e)
				default:
					break more
				}
			}
			if !flush() {
				return
			}
		case <-heartbeat.C:
			w.WriteString(": keep-alive\n\n")
			if !flush() {
				return
			}
		case <-s.done:
			if s.reason != "" {
				r := resetEvent(s.reason, !s.resume)
				write(&r)
				flush()
			}
			return
		}
	}
}
