package ingest

// The strict JSON syntax checker every decoder runs: RFC 8259 text, UTF-8
// throughout, nesting bounded, errors with their offset and the path of the
// value they are in; and the unescaping of the strings it has checked.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

func isLowSurrogate(h []byte) bool {
	for _, ch := range h {
		if !isHexDigit(ch) {
			return false
		}
	}
	r := hex4(h)
	return r >= 0xDC00 && r <= 0xDFFF
}

func isHexDigit(c byte) bool {
	return isDecDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimJSONSpace removes leading and trailing JSON whitespace.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// describeJSONValue names the type of the JSON value starting with c, for
// an error message: "an array", "a string".
func describeJSONValue(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// describeJSONByte names a byte for an error message.
func describeJSONByte(c byte) string {
	if c > ' ' && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02X", c)
}

// Eight-bytes-at-a-time (SWAR) constants.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// jsonSyntax reports the first place where b is not one JSON text as RFC 8259
// defines it, nesting at most 300 levels: off is the byte offset and msg says
// what is wrong, or off is -1 when b is valid. Unlike encoding/json it
// refuses strings that are not UTF-8 or hold an unpaired surrogate escape.
// It does not allocate unless b is invalid.
func jsonSyntax(b []byte) (off int, msg string) {
	c := syntaxChecker{b: b}
	i := c.value(c.ws(0), 1)
	if i < 0 {
		return c.off, c.describe()
	}
	if i = c.ws(i); i < len(b) {
		return i, "unexpected " + describeJSONByte(b[i]) + " after the end of the JSON value"
	}
	return -1, ""
}

// syntaxChecker scans JSON text b strictly. Its methods take the offset of
// a token and return the offset after it, or -1 after recording in off and
// msg where and what the first error is.
type syntaxChecker struct {
	b   []byte
	off int
	msg string
	// where is the path of the value holding the error, built as the
	// error unwinds (".readings[3].note"): only errors pay for it.
	where string
}

// within prefixes the error's path with a member key (b[start:end], raw)
// or, for start < 0, with array index end.
func (c *syntaxChecker) within(start, end int) {
	if start < 0 {
		c.where = "[" + strconv.Itoa(end) + "]" + c.where
		return
	}
	c.where = "." + quoteKey(c.b[start:end]) + c.where
}

func quoteKey(k []byte) string {
	if plainKey(k) {
		return string(k)
	}
	return strconv.QuoteToASCII(string(k))
}

func plainKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, ch := range k {
		if !(ch == '_' || ch == '-' || isDecDigit(ch) || (ch|0x20 >= 'a' && ch|0x20 <= 'z')) {
			return false
		}
	}
	return true
}

func (c *syntaxChecker) whereSuffix() string {
	if c.where == "" {
		return ""
	}
	return " (in " + strings.TrimPrefix(c.where, ".") + ")"
}

// describe is the error's message with its path, if it lies in a value.
func (c *syntaxChecker) describe() string {
	if c.where == "" {
		return c.msg
	}
	return c.msg + " (in " + strings.TrimPrefix(c.where, ".") + ")"
}

func (c *syntaxChecker) fail(i int, msg string) int {
	c.off, c.msg = i, msg
	return -1
}

func (c *syntaxChecker) expected(i int, what string) int {
	if i >= len(c.b) {
		return c.fail(i, "unexpected end of input, expected "+what)
	}
	return c.fail(i, "unexpected "+describeJSONByte(c.b[i])+", expected "+what)
}

func (c *syntaxChecker) ws(i int) int {
	for i < len(c.b) && c.b[i] <= ' ' && isJSONSpace(c.b[i]) {
		i++
	}
	return i
}

// value checks the value at b[i] (no leading space), at nesting depth depth.
func (c *syntaxChecker) value(i, depth int) int {
	if i >= len(c.b) {
		return c.expected(i, "a value")
	}
	if depth > maxJSONDepth {
		return c.fail(i, fmt.Sprintf("nesting deeper than %d levels", maxJSONDepth))
	}
	switch c.b[i] {
	case '{':
		return c.object(i+1, depth)
	case '[':
		return c.array(i+1, depth)
	case '"':
		end, _ := c.str(i + 1)
		return end
	case 't':
		return c.literal(i, "true")
	case 'f':
		return c.literal(i, "false")
	case 'n':
		return c.literal(i, "null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return c.number(i)
	}
	return c.expected(i, "a value")
}

// rawValue is value, recording where a string, number or null lies in v.
func (c *syntaxChecker) rawValue(i, depth int, v *rawValue) int {
	if i >= len(c.b) {
		return c.expected(i, "a value")
	}
	switch ch := c.b[i]; {
	case ch == '"':
		end, esc := c.str(i + 1)
		v.start, v.end, v.kind = i+1, end-1, rawString
		if esc {
			v.kind = rawEscString
		}
		return end
	case ch == '-' || isDecDigit(ch):
		end := c.number(i)
		v.start, v.end, v.kind = i, end, rawNumber
		return end
	case ch == 'n':
		v.kind = rawNull
		return c.literal(i, "null")
	}
	v.start, v.kind = i, rawOther
	return c.value(i, depth)
}

func (c *syntaxChecker) object(i, depth int) int {
	b := c.b
	if i = c.ws(i); i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return c.expected(i, "a string (an object key)")
		}
		keyStart := i + 1
		if i, _ = c.str(i + 1); i < 0 {
			return -1
		}
		keyEnd := i - 1
		if i = c.ws(i); i >= len(b) || b[i] != ':' {
			return c.expected(i, "':' after an object key")
		}
		if i = c.value(c.ws(i+1), depth+1); i < 0 {
			c.within(keyStart, keyEnd)
			return -1
		}
		switch i = c.ws(i); {
		case i < len(b) && b[i] == ',':
			i = c.ws(i + 1)
		case i < len(b) && b[i] == '}':
			return i + 1
		default:
			return c.expected(i, "',' or '}' after an object value")
		}
	}
}

func (c *syntaxChecker) array(i, depth int) int {
	b := c.b
	if i = c.ws(i); i < len(b) && b[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		if i = c.value(i, depth+1); i < 0 {
			c.within(-1, idx)
			return -1
		}
		switch i = c.ws(i); {
		case i < len(b) && b[i] == ',':
			i = c.ws(i + 1)
		case i < len(b) && b[i] == ']':
			return i + 1
		default:
			return c.expected(i, "',' or ']' after an array element")
		}
	}
}

// str checks the string whose opening quote is at b[i-1]. It returns the
// offset after the closing quote and whether the string has escapes.
func (c *syntaxChecker) str(i int) (int, bool) {
	b := c.b
	start := i - 1
	esc := false
	for {
		// Skip eight plain ASCII bytes at a time; stop at the first '"',
		// '\\', control character or non-ASCII byte (the lowest flagged
		// byte is exact).
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			q := w ^ ('"' * swarOnes)
			bs := w ^ ('\\' * swarOnes)
			if m := ((q-swarOnes)&^q | (bs-swarOnes)&^bs | (w-0x20*swarOnes)&^w | w) & swarHighs; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] < utf8.RuneSelf && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return c.fail(start, "unterminated string"), false
		}
		if b[i] >= utf8.RuneSelf {
			// JSON text is UTF-8 (RFC 8259 §8.1): anything else is refused
			// here rather than stored or passed on altered.
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return c.fail(i, fmt.Sprintf("invalid UTF-8 byte 0x%02X in string (JSON text must be UTF-8)", b[i])), false
			}
			i += size
			continue
		}
		switch ch := b[i]; ch {
		case '"':
			return i + 1, esc
		case '\\':
			if i+1 >= len(b) {
				return c.fail(start, "unterminated string"), false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) || !isHexDigit(b[k]) {
						return c.fail(i, `invalid \u escape in string (want 4 hex digits)`), false
					}
				}
				// A UTF-16 surrogate escape must be a high one followed by
				// a low one: alone it is no character, and PostgreSQL
				// refuses it.
				switch r := hex4(b[i+2 : i+6]); {
				case r >= 0xD800 && r <= 0xDBFF:
					if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' || !isLowSurrogate(b[i+8:i+12]) {
						return c.fail(i, "unpaired UTF-16 surrogate "+string(b[i:i+6])+" in string"), false
					}
					i += 12
				case r >= 0xDC00 && r <= 0xDFFF:
					return c.fail(i, "unpaired UTF-16 surrogate "+string(b[i:i+6])+" in string"), false
				default:
					i += 6
				}
			default:
				return c.fail(i, "invalid escape "+strconv.QuoteToASCII(string(b[i:i+2]))+" in string"), false
			}
			esc = true
		default:
			return c.fail(i, fmt.Sprintf("control character 0x%02X in string (must be escaped)", ch)), false
		}
	}
}

func (c *syntaxChecker) literal(i int, lit string) int {
	b := c.b
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return c.expected(i, "a value")
		}
	}
	return i + len(lit)
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (c *syntaxChecker) number(i int) int {
	b := c.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
		if i < len(b) && isDecDigit(b[i]) {
			return c.fail(i, "unexpected digit after a leading zero")
		}
	case i < len(b) && isDecDigit(b[i]):
		for i < len(b) && isDecDigit(b[i]) {
			i++
		}
	default:
		return c.expected(i, "a digit")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDecDigit(b[i]) {
			return c.expected(i, "a digit after the decimal point")
		}
		for i < len(b) && isDecDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDecDigit(b[i]) {
			return c.expected(i, "a digit in the exponent")
		}
		for i < len(b) && isDecDigit(b[i]) {
			i++
		}
	}
	return i
}

// appendUnescaped appends the content of a JSON string, whose escapes
// syntaxChecker.str has validated, unescaped. An unpaired surrogate becomes
// U+FFFD, as with encoding/json.
func appendUnescaped(dst, s []byte) []byte {
	for len(s) > 0 {
		n := bytes.IndexByte(s, '\\')
		if n < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:n]...)
		s = s[n:]
		switch s[1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[2:6])
			s = s[6:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2 = hex4(s[2:6])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					s = s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[1])
		}
		s = s[2:]
	}
	return dst
}

// hex4 decodes four validated hex digits.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
