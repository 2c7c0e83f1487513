package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// maxSensorIDBytes is the longest sensor id accepted, in bytes
// (sensors.external_id allows 128 characters; 128 bytes is never more).
const maxSensorIDBytes = 128

// maxJSONDepth is the deepest nesting accepted, counting the top-level value
// as depth 1: fastjson's limit, used for every body so that the endpoints
// agree.
const maxJSONDepth = fastjson.MaxDepth

// maxPooledParserBuffer is the largest buffer a pooled Parser may keep;
// ParserPool.Put drops a Parser that grew one beyond it, so that the pool
// does not pin the memory of an unusually large request.
const maxPooledParserBuffer = 4 << 20

// Rejection reasons. Clients see them: keep them stable.
const (
	reasonNotObject     = "reading must be a JSON object"
	reasonMissingSensor = `missing "sensor"`
	reasonBadSensor     = `"sensor" must be a non-empty string of at most 128 bytes`
	reasonSensorChars   = `"sensor" must be valid UTF-8 without control characters`
	reasonMissingTime   = `missing "time"`
	reasonBadTime       = `"time" must be an RFC 3339 timestamp or unix milliseconds`
	reasonMissingTemp   = `missing "temp_c"`
	reasonBadTemp       = `"temp_c" must be a number`
	reasonTempNotFinite = `"temp_c" must be finite`
	reasonBadHumidity   = `"humidity" must be a number`
	reasonHumNotFinite  = `"humidity" must be finite`
	reasonBadBattery    = `"battery" must be a number`
	reasonBatNotFinite  = `"battery" must be finite`
	reasonBadDoorOpen   = `"door_open" must be true or false`
)

var (
	errEmptyReadingsBody = errors.New(`empty body: expected an object with a "readings" array`)
	errNotReadings       = errors.New(`body must be an object with a "readings" array`)
)

// Parser decodes request bodies into a Batch. Not safe for concurrent use;
// take one from a ParserPool per request.
//
// All three Parse methods accept exactly the JSON of RFC 8259 (as
// encoding/json does, nesting limited to 300 levels): a body that is not,
// is an error naming the byte offset of the first problem, or for NDJSON a
// rejection of the line. ParseJSON and ParseNDJSON decode in a single pass
// that checks the syntax as it goes; ParseTTN checks the syntax, then decodes
// the message with fastjson. Every value used is checked: sensor ids are
// non-empty valid UTF-8 of at most 128 bytes without control characters,
// times are valid, numbers are finite. A member set to null is the same as
// a missing one; when a name appears twice in an object, the last one counts
// (as with encoding/json).
//
// Memory: the Sensor of every Reading a Parse method appends is a sub-slice
// of an arena owned by the Parser, into which ids are copied (unescaped,
// and for TTN upper-cased); it never points into the body, which the caller
// may reuse as soon as the call returns. Within a call the bytes of an
// accepted id are never written again, and growing the arena leaves earlier
// ids in the old array, so every Sensor of a Batch stays valid and unchanged
// until the next Parse call on the same Parser or until the Parser is
// returned to its pool. Copy an id (or resolve it to a sensor key) before
// then.
//
// Allocation: a Parser and a Batch that are reused allocate nothing per
// reading once their buffers have grown to the size of the bodies; only
// reasons built from the input (a malformed NDJSON line, some TTN
// rejections) and errors allocate their text.
type Parser struct {
	// fj decodes TTN messages.
	fj fastjson.Parser
	// arena holds the sensor ids of the current body.
	arena []byte
	// scratch holds an unescaped object key or timestamp, or a number's text.
	scratch []byte
	// fjSize is the largest body given to fj since the Parser was created.
	fjSize int
}

// ParserPool pools Parsers, so that their buffers are reused across
// requests. The zero ParserPool is ready to use; it is safe for concurrent
// use.
type ParserPool struct {
	pool sync.Pool
}

// Get returns a Parser from the pool, or a new one.
func (pp *ParserPool) Get() *Parser {
	if p, ok := pp.pool.Get().(*Parser); ok {
		return p
	}
	return new(Parser)
}

// Put returns p to the pool. p, and the Sensor of every Reading it produced,
// must not be used afterwards. A Parser whose buffers grew beyond 4 MiB (for
// an unusually large body) is dropped instead, so that the pool does not
// keep that memory alive.
func (pp *ParserPool) Put(p *Parser) {
	if p == nil || cap(p.arena) > maxPooledParserBuffer || cap(p.scratch) > maxPooledParserBuffer ||
		p.fjSize > maxPooledParserBuffer {
		return
	}
	pp.pool.Put(p)
}

// reset prepares p for a new body; earlier Sensor slices become invalid.
func (p *Parser) reset() {
	p.arena = p.arena[:0]
}

// ParseJSON decodes a body of the form {"readings":[{...},...]}, appending
// to b (resetting b is the caller's job). Each reading is an object with
//
//	"sensor"    the sensor's external id: a non-empty string of at most 128 bytes
//	"time"      an RFC 3339 timestamp ("2026-11-26T03:04:05.123Z"; any number
//	            of fraction digits, offsets, lower-case t/z) or a number of unix
//	            milliseconds, integral or fractional
//	"temp_c"    a number (required)
//	"humidity"  a number, optional
//	"battery"   a number, optional
//	"door_open" true or false, optional: the door state of a contact
//	            sensor at that time, stored apart from the reading
//
// Other members, of the readings and of the body, are ignored (but must be
// valid JSON). Times are kept to the microsecond, finer digits truncated
// toward negative infinity.
//
// A body that is not valid JSON, or whose top level is not an object with a
// "readings" array, returns an error whose text is meant for the client
// (e.g. `malformed JSON at offset 17: unexpected '}', expected a value`), and
// leaves b as it was. Otherwise every reading is accounted for: decoded
// readings are appended to b.Readings, with their positions in the array in
// b.Index, and bad ones to b.Rejected with their position and a reason; one
// bad reading never fails the call. See Parser for how long Sensor is valid.
func (p *Parser) ParseJSON(body []byte, b *Batch) error {
	p.reset()
	c := syntaxChecker{b: body}
	start := c.ws(0)
	if start == len(body) {
		return errEmptyReadingsBody
	}
	m := markBatch(b)
	readings, end := p.readingsObject(&c, start, b, m)
	if end >= 0 {
		if end = c.ws(end); end < len(body) {
			end = c.fail(end, "unexpected "+describeJSONByte(body[end])+" after the end of the JSON value")
		}
	}
	if end < 0 {
		truncateBatch(b, m)
		return fmt.Errorf("malformed JSON at offset %d: %s", c.off, c.describe())
	}
	switch {
	case body[start] != '{':
		return fmt.Errorf("%w, not %s", errNotReadings, describeJSONValue(body[start]))
	case readings == 0:
		return fmt.Errorf(`%w; "readings" is missing`, errNotReadings)
	case readings != '[':
		truncateBatch(b, m)
		return fmt.Errorf(`%w; "readings" is %s`, errNotReadings, describeJSONValue(readings))
	}
	return nil
}

// ParseNDJSON decodes newline-delimited JSON: one reading object (as for
// ParseJSON) per line, appending to b. Lines end in "\n" or "\r\n"; blank
// lines (empty or only whitespace) are skipped and not counted, so a
// Rejection's Index, like b.Index, is the 0-based position among the
// non-blank lines. A line that is not valid JSON is a rejection of that line
// with a reason such as `malformed JSON: unexpected end of input, expected
// ',' or '}' after an object value at offset 52` (the offset is from the
// start of the line), not an error for the body.
//
// ParseNDJSON never returns an error: every line becomes a reading or a
// rejection, and an empty body yields neither (the caller decides whether
// that is acceptable). The error result is there for symmetry with ParseJSON.
func (p *Parser) ParseNDJSON(body []byte, b *Batch) error {
	p.reset()
	idx := 0
	for len(body) > 0 {
		var line []byte
		if nl := bytes.IndexByte(body, '\n'); nl >= 0 {
			line, body = body[:nl], body[nl+1:]
		} else {
			line, body = body, nil
		}
		c := syntaxChecker{b: line}
		start := c.ws(0)
		if start == len(line) {
			continue
		}
		m := markBatch(b)
		arena := len(p.arena)
		end := p.reading(&c, start, idx, b, 1)
		if end >= 0 {
			if end = c.ws(end); end < len(line) {
				end = c.fail(end, "unexpected "+describeJSONByte(line[end])+" after the end of the JSON value")
			}
		}
		if end < 0 {
			truncateBatch(b, m)
			p.arena = p.arena[:arena]
			rejectAt(b, idx, "malformed JSON: "+c.msg+" at offset "+strconv.Itoa(c.off)+c.whereSuffix())
		}
		idx++
	}
	return nil
}

// batchMark records the lengths of a Batch's slices, to undo appends.
type batchMark struct{ readings, index, rejected int }

func markBatch(b *Batch) batchMark {
	return batchMark{len(b.Readings), len(b.Index), len(b.Rejected)}
}

func truncateBatch(b *Batch, m batchMark) {
	b.Readings, b.Index, b.Rejected = b.Readings[:m.readings], b.Index[:m.index], b.Rejected[:m.rejected]
}

// readingsObject decodes the body's top-level value at b[i], which must be an
// object with a "readings" array, and returns the offset after it (or -1 on
// a syntax error, described in c) and the first byte of the last "readings"
// member's value (0 if the value is not an object or has no such member).
func (p *Parser) readingsObject(c *syntaxChecker, i int, b *Batch, m batchMark) (readings byte, end int) {
	body := c.b
	if body[i] != '{' {
		return 0, c.value(i, 1)
	}
	if i = c.ws(i + 1); i < len(body) && body[i] == '}' {
		return 0, i + 1
	}
	for {
		key, j := p.key(c, i)
		if j < 0 {
			return 0, -1
		}
		isReadings := string(key) == "readings"
		if isReadings && j < len(body) {
			truncateBatch(b, m) // the last "readings" counts
			readings = body[j]
			if readings == '[' {
				j = p.readingsArray(c, j+1, b)
			} else {
				j = c.value(j, 2)
			}
		} else {
			j = c.value(j, 2)
		}
		if j < 0 {
			if isReadings {
				c.where = ".readings" + c.where
			} else {
				c.where = "." + quoteKey(key) + c.where
			}
			return 0, -1
		}
		switch i = c.ws(j); {
		case i < len(body) && body[i] == ',':
			i = c.ws(i + 1)
		case i < len(body) && body[i] == '}':
			return readings, i + 1
		default:
			return 0, c.expected(i, "',' or '}' after an object value")
		}
	}
}

// readingsArray decodes the elements of the array whose '[' precedes b[i].
func (p *Parser) readingsArray(c *syntaxChecker, i int, b *Batch) int {
	body := c.b
	if i = c.ws(i); i < len(body) && body[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		if i = p.reading(c, i, idx, b, 3); i < 0 {
			c.within(-1, idx)
			return -1
		}
		switch i = c.ws(i); {
		case i < len(body) && body[i] == ',':
			i = c.ws(i + 1)
		case i < len(body) && body[i] == ']':
			return i + 1
		default:
			return c.expected(i, "',' or ']' after an array element")
		}
	}
}

// rawValue is where a member's value lies in the body.
type rawValue struct {
	start, end int // the value's text; for a string, without the quotes
	kind       byte
}

// rawValue kinds; the zero kind is a missing member.
const (
	rawString    = 's' // a string without escapes
	rawEscString = 'e' // a string with escapes
	rawNumber    = 'n'
	rawNull      = 'z'
	rawOther     = 'x' // an object, an array, true or false
)

// reading decodes the reading at b[i] (at nesting depth depth) as item idx,
// appending a Reading or a Rejection to b, and returns the offset after it,
// or -1 on a syntax error (described in c), in which case b may hold a
// partial result for the item.
func (p *Parser) reading(c *syntaxChecker, i, idx int, b *Batch, depth int) int {
	body := c.b
	if i >= len(body) || body[i] != '{' {
		if i = c.value(i, depth); i >= 0 {
			rejectAt(b, idx, reasonNotObject)
		}
		return i
	}
	var sensor, tm, temp, hum, bat, door rawValue
	if i = c.ws(i + 1); i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			key, j := p.key(c, i)
			if j < 0 {
				return -1
			}
			var v *rawValue
			switch string(key) {
			case "sensor":
				v = &sensor
			case "time":
				v = &tm
			case "temp_c":
				v = &temp
			case "humidity":
				v = &hum
			case "battery":
				v = &bat
			case "door_open":
				v = &door
			}
			if v != nil {
				j = c.rawValue(j, depth+1, v)
			} else {
				j = c.value(j, depth+1)
			}
			if j < 0 {
				c.where = "." + quoteKey(key) + c.where
				return -1
			}
			switch i = c.ws(j); {
			case i < len(body) && body[i] == ',':
				i = c.ws(i + 1)
				continue
			case i < len(body) && body[i] == '}':
				i++
			default:
				return c.expected(i, "',' or '}' after an object value")
			}
			break
		}
	}
	if reason := p.decodeReading(body, b, &sensor, &tm, &temp, &hum, &bat, &door); reason != "" {
		rejectAt(b, idx, reason)
	} else {
		b.Index = append(b.Index, idx)
	}
	return i
}

// key scans the object key at b[i] and the colon after it, returning the
// key (unescaped, in p.scratch, if it has escapes) and the offset of the
// value, or -1.
func (p *Parser) key(c *syntaxChecker, i int) ([]byte, int) {
	body := c.b
	if i >= len(body) || body[i] != '"' {
		return nil, c.expected(i, "a string (an object key)")
	}
	// Fast path: a reading's own member names, followed by their closing
	// quote, need no scanning.
	if known := knownKey(body[i+1:]); known != "" {
		end := i + 1 + len(known)
		if j := c.ws(end + 1); j < len(body) && body[j] == ':' {
			return body[i+1 : end], c.ws(j + 1)
		}
	}
	end, esc := c.str(i + 1)
	if end < 0 {
		return nil, -1
	}
	key := body[i+1 : end-1]
	if esc {
		p.scratch = appendUnescaped(p.scratch[:0], key)
		key = p.scratch
	}
	if i = c.ws(end); i >= len(body) || body[i] != ':' {
		return nil, c.expected(i, "':' after an object key")
	}
	return key, c.ws(i + 1)
}

// knownKey returns the member name of a reading that s starts with,
// followed by its closing quote, or "". It compares eight bytes at a time
// (little-endian words of the names, see TestKnownKeyWords), so s must have
// at least nine bytes, which it has whenever a value follows.
func knownKey(s []byte) string {
	if len(s) < 9 {
		return ""
	}
	const (
		sensorQ   = 0x22726f736e6573   // `sensor"`
		timeQ     = 0x22656d6974       // `time"`
		tempCQ    = 0x22635f706d6574   // `temp_c"`
		humidity  = 0x79746964696d7568 // `humidity`
		batteryQ  = 0x2279726574746162 // `battery"`
		sevenByte = 0x00ffffffffffffff // mask of a 7-byte word
		fiveByte  = 0x000000ffffffffff // mask of a 5-byte word
	)
	switch w := binary.LittleEndian.Uint64(s); {
	case w&sevenByte == sensorQ:
		return "sensor"
	case w&fiveByte == timeQ:
		return "time"
	case w&sevenByte == tempCQ:
		return "temp_c"
	case w == humidity && s[8] == '"':
		return "humidity"
	case w == batteryQ:
		return "battery"
	}
	return ""
}

// decodeReading checks and converts the members of one reading; it appends
// the Reading to b, or returns why not.
func (p *Parser) decodeReading(body []byte, b *Batch, sensor, tm, temp, hum, bat, door *rawValue) string {
	r := Reading{Humidity: Absent, Battery: Absent}
	switch sensor.kind {
	case 0, rawNull:
		return reasonMissingSensor
	case rawString, rawEscString:
	default:
		return reasonBadSensor
	}
	start := len(p.arena)
	if sensor.kind == rawEscString {
		p.arena = appendUnescaped(p.arena, body[sensor.start:sensor.end])
	} else {
		p.arena = append(p.arena, body[sensor.start:sensor.end]...)
	}
	id := p.arena[start:len(p.arena):len(p.arena)]
	if reason := checkSensorID(id); reason != "" {
		p.arena = p.arena[:start]
		return reason
	}
	r.Sensor = id
	if reason := p.decodeValues(body, &r, tm, temp, hum, bat); reason != "" {
		p.arena = p.arena[:start]
		return reason
	}
	switch {
	case door.kind == 0 || door.kind == rawNull:
	case door.kind == rawOther && body[door.start] == 't':
		r.Door = DoorOpen
	case door.kind == rawOther && body[door.start] == 'f':
		r.Door = DoorClosed
	default:
		p.arena = p.arena[:start]
		return reasonBadDoorOpen
	}
	b.Readings = append(b.Readings, r)
	return ""
}

// decodeValues converts the time and the numbers of a reading into r, or
// returns why it cannot.
func (p *Parser) decodeValues(body []byte, r *Reading, tm, temp, hum, bat *rawValue) string {
	var ok bool
	switch tm.kind {
	case 0, rawNull:
		return reasonMissingTime
	case rawString:
		r.TimeMicros, ok = parseRFC3339Micros(body[tm.start:tm.end])
	case rawEscString:
		p.scratch = appendUnescaped(p.scratch[:0], body[tm.start:tm.end])
		r.TimeMicros, ok = parseRFC3339Micros(p.scratch)
	case rawNumber:
		r.TimeMicros, ok = parseUnixMillisMicros(body[tm.start:tm.end])
	}
	if !ok {
		return reasonBadTime
	}
	var reason string
	if r.TempC, reason = numberMember(body, temp, true, reasonMissingTemp, reasonBadTemp, reasonTempNotFinite); reason != "" {
		return reason
	}
	if r.Humidity, reason = numberMember(body, hum, false, "", reasonBadHumidity, reasonHumNotFinite); reason != "" {
		return reason
	}
	r.Battery, reason = numberMember(body, bat, false, "", reasonBadBattery, reasonBatNotFinite)
	return reason
}

// numberMember converts a numeric member: a missing or null one is Absent,
// or the missing reason when required; one of another type gets notNumber,
// and one beyond float64's range notFinite.
func numberMember(body []byte, v *rawValue, required bool, missing, notNumber, notFinite string) (float64, string) {
	switch v.kind {
	case 0, rawNull:
		if required {
			return 0, missing
		}
		return Absent, ""
	case rawNumber:
		f, ok := parseJSONFloat(body[v.start:v.end])
		if !ok || math.IsInf(f, 0) {
			return 0, notFinite
		}
		return f, ""
	}
	return 0, notNumber
}

// checkSensorID returns why id cannot be a sensor id, or "".
func checkSensorID(id []byte) string {
	switch {
	case len(id) == 0:
		return reasonBadSensor
	case !sensorIDPrintable(id):
		return reasonSensorChars
	case len(id) > maxSensorIDBytes:
		return reasonBadSensor
	}
	return ""
}

// sensorIDPrintable reports whether id is valid UTF-8 without control
// characters (C0, DEL or C1), so that it can be stored as PostgreSQL text and
// printed.
func sensorIDPrintable(id []byte) bool {
	// Fast path: eight printable ASCII bytes at a time. With no high bit
	// set, subtracting 0x20 from each byte borrows into its high bit exactly
	// when the byte is below 0x20, and adding 1 sets it exactly when the
	// byte is 0x7f.
	for len(id) >= 8 {
		w := binary.LittleEndian.Uint64(id)
		if (w|(w-0x20*swarOnes)|(w+swarOnes))&swarHighs != 0 {
			break
		}
		id = id[8:]
	}
	for i := 0; i < len(id); {
		c := id[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(id[i:])
		if (r == utf8.RuneError && size == 1) || (r >= 0x80 && r <= 0x9f) {
			return false
		}
		i += size
	}
	return true
}

func rejectAt(b *Batch, idx int, reason string) {
	b.Rejected = append(b.Rejected, Rejection{Index: idx, Reason: reason})
}
