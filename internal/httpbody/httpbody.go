package httpbody

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/freshtrack/freshtrack/internal/problem"
)

// prefetched is how much of a body fasthttp reads with the headers when it
// streams bodies: an uncompressed body this small is already in memory, so
// reading it needs no admission.
const prefetched = 8 << 10

var (
	mRefused = map[string]*metrics.Counter{
		"too_large": metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="too_large"}`),
		"encoding":  metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="encoding"}`),
		"corrupt":   metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="corrupt"}`),
		"truncated": metrics.GetOrCreateCounter(`freshtrack_http_bodies_refused_total{reason="truncated"}`),
	}
	mBytesRead = metrics.GetOrCreateCounter(`freshtrack_http_body_bytes_read_total`)
)

// Options say how one route reads its bodies.
type Options struct {
	// Limit is the largest body accepted once decoded, and (with a little
	// room for compression overhead) as sent.
	Limit int
	// Identity refuses any Content-Encoding: for webhooks whose signature
	// covers the bytes as sent.
	Identity bool
}

func (o Options) rawLimit() int {
	if o.Identity {
		return o.Limit
	}
	// Incompressible data grows a little in gzip; allow for that so a body
	// at the limit is not refused for being compressed.
	return o.Limit + o.Limit/64 + 1024
}

// Body is a request body read by Read. Its bytes are valid until Close.
type Body struct {
	// Bytes is the decoded body.
	Bytes []byte
	// Raw is how many bytes came over the wire.
	Raw int

	slot     *Slot
	raw, dec *bytes.Buffer
}

// ReleaseSlot gives up the request's admission slot early, e.g. before an
// ingest request waits for its group commit: the body is in memory and
// decoded, and waiting costs no more memory. It is safe to call twice.
func (b *Body) ReleaseSlot() {
	if b != nil && b.slot != nil {
		b.slot.Release()
		b.slot = nil
	}
}

// Close releases the slot and returns the buffers to the pool.
func (b *Body) Close() {
	if b == nil {
		return
	}
	b.ReleaseSlot()
	putBuffer(b.raw)
	putBuffer(b.dec)
	b.raw, b.dec, b.Bytes = nil, nil, nil
}

var buffers sync.Pool // *bytes.Buffer

func getBuffer() *bytes.Buffer {
	if b, ok := buffers.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

// putBuffer keeps buffers of ordinary size only: one huge body must not
// pin its memory for the life of the process.
func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > 4<<20 {
		return
	}
	b.Reset()
	buffers.Put(b)
}

var (
	gzipReaders sync.Pool // *gzip.Reader
	zlibReaders sync.Pool // zlib reader (io.ReadCloser + zlib.Resetter)
)

// Read reads c's body under admission a (nil: none) with o's limits. The
// caller must Close the Body (also on error it is nil-safe).
func Read(c *fiber.Ctx, a *Admission, o Options) (*Body, error) {
	req := c.Request()
	enc := strings.ToLower(strings.TrimSpace(string(req.Header.Peek(fiber.HeaderContentEncoding))))
	switch enc {
	case "", "identity":
		enc = ""
	case "gzip", "x-gzip", "deflate":
		if o.Identity {
			mRefused["encoding"].Inc()
			return nil, problem.New(fiber.StatusUnsupportedMediaType, "unsupported-encoding", "Unsupported content encoding",
				"this route takes its body uncompressed (its signature covers the bytes as sent)")
		}
	default:
		mRefused["encoding"].Inc()
		return nil, problem.New(fiber.StatusUnsupportedMediaType, "unsupported-encoding", "Unsupported content encoding",
			"Content-Encoding must be gzip, deflate or absent")
	}
	rawLimit := o.rawLimit()
	declared := req.Header.ContentLength() // -1: chunked, -2: none
	if declared == -2 {
		declared = 0
	}
	if declared > rawLimit {
		return nil, tooLarge(o.Limit)
	}
	b := &Body{}
	if enc != "" || declared < 0 || declared > prefetched {
		slot, err := a.Acquire()
		if err != nil {
			return nil, err
		}
		b.slot = slot
	}
	b.raw = getBuffer()
	defer func() { c.Locals(bytesInKey, b.Raw) }()
	if stream := req.BodyStream(); stream != nil {
		n, err := b.raw.ReadFrom(io.LimitReader(stream, int64(rawLimit)+1))
		b.Raw = int(n)
		mBytesRead.Add(int(n))
		switch {
		case n > int64(rawLimit):
			b.Close()
			return nil, tooLarge(o.Limit)
		case err != nil:
			b.Close()
			mRefused["truncated"].Inc()
			return nil, problem.BadRequest("the request body could not be read to its end: " + err.Error())
		}
	} else {
		// Without streaming (in-process tests), fasthttp has read the body,
		// within the server's BodyLimit.
		raw := req.Body()
		b.Raw = len(raw)
		if len(raw) > rawLimit {
			b.Close()
			return nil, tooLarge(o.Limit)
		}
		b.raw.Write(raw)
	}
	if enc == "" {
		if b.raw.Len() > o.Limit {
			b.Close()
			return nil, tooLarge(o.Limit)
		}
		b.Bytes = b.raw.Bytes()
		return b, nil
	}
	if err := b.decode(enc, o.Limit); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Body) decode(enc string, limit int) error {
	var r io.Reader
	if enc == "deflate" { // RFC 9110: the zlib format
		var err error
		zr, _ := zlibReaders.Get().(io.ReadCloser)
		if zr == nil {
			zr, err = zlib.NewReader(bytes.NewReader(b.raw.Bytes()))
		} else {
			err = zr.(zlib.Resetter).Reset(bytes.NewReader(b.raw.Bytes()), nil)
		}
		if err != nil {
			mRefused["corrupt"].Inc()
			return problem.BadRequest("the body is not valid deflate (zlib): " + err.Error())
		}
		defer zlibReaders.Put(zr)
		r = zr
	} else {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(b.raw.Bytes()))
		} else {
			err = zr.Reset(bytes.NewReader(b.raw.Bytes()))
		}
		if err != nil {
			mRefused["corrupt"].Inc()
			return problem.BadRequest("the body is not valid gzip: " + err.Error())
		}
		defer gzipReaders.Put(zr)
		r = zr
	}
	b.dec = getBuffer()
	n, err := b.dec.ReadFrom(io.LimitReader(r, int64(limit)+1))
	switch {
	case n > int64(limit):
		return tooLarge(limit)
	case err != nil && !errors.Is(err, io.EOF):
		mRefused["corrupt"].Inc()
		return problem.BadRequest("the body is not valid " + enc + ": " + err.Error())
	}
	b.Bytes = b.dec.Bytes()
	return nil
}

func tooLarge(limit int) error {
	mRefused["too_large"].Inc()
	return problem.New(fiber.StatusRequestEntityTooLarge, "too-large", "Request body too large",
		fmt.Sprintf("this route accepts bodies of at most %d bytes (%s) once decompressed; send less per request", limit, human(limit)))
}

func human(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

const bytesInKey = "freshtrack.bytes_in"

// BytesIn is how many bytes of c's body Read took from the connection (0
// when it read none), for request logs: calling c.Request().Body() for that
// would read an unread body without a limit.
func BytesIn(c *fiber.Ctx) int { n, _ := c.Locals(bytesInKey).(int); return n }

// HasBody reports whether the request announces a body: a positive
// Content-Length or chunked transfer (fasthttp's -1; -2 is a request with
// neither header, which has no body).
func HasBody(c *fiber.Ctx) bool {
	n := c.Request().Header.ContentLength()
	return n > 0 || n == -1
}
