package httpbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/internal/problem"
)

// MediaType returns a Content-Type's type/subtype, lower-cased, and
// whether the body may be read as UTF-8 text: false when the header does
// not parse or names another charset. A header without parameters, as
// devices send on every request, is not handed to mime.ParseMediaType,
// which allocates a map per call.
func MediaType(contentType string) (string, bool) {
	mt, params, hasParams := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if !hasParams || strings.TrimSpace(params) == "" {
		return mt, true
	}
	_, ps, err := mime.ParseMediaType(contentType)
	if err != nil {
		return mt, false
	}
	if cs, ok := ps["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return mt, false
	}
	return mt, true
}

// IsJSON reports whether a Content-Type names JSON: application/json or a
// +json type, with any parameters; charset, when given, must be UTF-8.
func IsJSON(contentType string) bool {
	mt, ok := MediaType(contentType)
	return ok && isJSONType(mt)
}

func isJSONType(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// WrongContentType is the 415 for a body that is not of an accepted type.
func WrongContentType(got, want string) error {
	if got == "" {
		got = "none"
	}
	return problem.New(fiber.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		fmt.Sprintf("send the body as %s (Content-Type was %s)", want, got))
}

// CheckJSON accepts one JSON text that is valid UTF-8 and has no escaped
// lone UTF-16 surrogate and no \u0000 (PostgreSQL refuses all three in text
// and jsonb, and encoding/json would silently replace the first two). Its error is a 400
// problem naming where the body is wrong: the offset of a syntax error, or
// the field holding text that is not UTF-8.
func CheckJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return syntaxProblem(body, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.BadRequest(fmt.Sprintf("the body is not valid JSON: more data after the value at offset %d", dec.InputOffset()))
	}
	if validText(body) {
		return nil
	}
	field, bad := badTextField(body)
	if !bad {
		return nil // not expected: the whole body failed, so some part does
	}
	if field == "" {
		field = "(body)"
	}
	return problem.Validation(problem.FieldError{Field: field, Reason: "must be valid UTF-8 text"})
}

func syntaxProblem(body []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return problem.BadRequest("the body is empty; this route needs a JSON value")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest(fmt.Sprintf("the body is not valid JSON: it ends after %d bytes, in the middle of a value (truncated?)", len(body)))
	case errors.As(err, &se):
		return problem.BadRequest(fmt.Sprintf("the body is not valid JSON at offset %d: %s", se.Offset, se.Error()))
	}
	return problem.BadRequest("the body is not valid JSON: " + err.Error())
}

// badTextField walks valid JSON and returns the path of the first key or
// string value whose text is not valid UTF-8, e.g. "name" or
// "settings.ttn.temperature[2]" ("" when it is the top-level value), and
// whether there is one.
func badTextField(body []byte) (string, bool) {
	w := textWalker{body: body, dec: json.NewDecoder(bytes.NewReader(body))}
	return w.value("")
}

type textWalker struct {
	body []byte
	dec  *json.Decoder
	prev int64
}

// next returns the next token and the bytes it came from (with the
// separators before it, which do not matter to validText).
func (w *textWalker) next() (json.Token, []byte, bool) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, nil, false
	}
	end := w.dec.InputOffset()
	raw := w.body[w.prev:end]
	w.prev = end
	return tok, raw, true
}

func (w *textWalker) value(path string) (string, bool) {
	tok, raw, ok := w.next()
	if !ok {
		return path, true
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			for w.dec.More() {
				k, raw, ok := w.next()
				key, _ := k.(string)
				if !ok {
					return path, true
				}
				sub := join(path, key)
				if !validText(raw) {
					return join(path, strconv.QuoteToASCII(key)), true
				}
				if bad, found := w.value(sub); found {
					return bad, true
				}
			}
		case '[':
			for i := 0; w.dec.More(); i++ {
				if bad, found := w.value(path + "[" + strconv.Itoa(i) + "]"); found {
					return bad, true
				}
			}
		}
		w.next() // the closing delimiter
	case string:
		if !validText(raw) {
			return path, true
		}
	}
	return "", false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// validText reports whether JSON text is valid UTF-8 and has no \u escape
// of an unpaired surrogate or of NUL.
func validText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i+5 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped byte, which may be a backslash
			continue
		}
		r := hex4(raw[i+2 : i+6])
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return false
			}
			if lo := hex4(raw[i+8 : i+12]); lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF, r == 0:
			return false
		default:
			i += 5
		}
	}
	return true
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return -1
		}
	}
	return r
}
