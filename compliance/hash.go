package compliance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// ContentHash returns the hex SHA-256 that Header.ContentSHA256 carries: the
// hash of the report's canonical JSON with header.generated_at,
// header.content_sha256, the footer and the review (the signatures) removed.
//
// Canonical JSON is RFC 8785 (JCS) applied to the report's JSON encoding:
// object members sorted by key (byte order of their UTF-8, which equals
// UTF-16 order for the ASCII keys of a report), no whitespace, strings with
// only '"', '\\' and control characters escaped (\b \t \n \f \r, others
// \u00xx), numbers in the shortest form that round-trips (ECMAScript
// Number.toString, which encoding/json's float formatting implements), and
// literals true, false, null. Times are RFC 3339 UTC strings as
// encoding/json writes them. The body hashed excludes the generation time,
// so regenerating a report over unchanged data gives the same hash; the
// footer (the audit-trail head) is excluded because it is itself a hash of
// a separate chain.
func ContentHash(r *Report) (string, error) {
	body, err := CanonicalBody(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// CanonicalBody returns the bytes ContentHash hashes.
//
// A one-month report is megabytes of JSON, so the units, nearly all of it,
// are encoded and canonicalised side by side, one goroutine a CPU, and
// spliced into the canonical rest of the report: the bytes are the same as
// canonicalising the whole at once (compliance's tests compare the two).
func CanonicalBody(r *Report) ([]byte, error) {
	c := *r
	c.Header.GeneratedAt = time.Time{}
	c.Header.ContentSHA256 = ""
	c.Footer, c.Review = Footer{}, Review{}
	units := c.Units
	if units != nil {
		c.Units = []UnitReport{}
	}
	top, err := canonicalJSON(c, func(depth int, parent, key []byte) bool {
		switch depth {
		case 0:
			return string(key) == "footer" || string(key) == "review"
		case 1:
			return string(parent) == "header" && (string(key) == "generated_at" || string(key) == "content_sha256")
		}
		return false
	})
	if err != nil || units == nil {
		return top, err
	}
	parts := make([][]byte, len(units))
	errs := make([]error, len(units))
	eachOnCPUs(len(units), func(i int) { parts[i], errs[i] = canonicalJSON(units[i], nil) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// "units" is the report's last key in byte order, and a key's quotes
	// are never unescaped inside a canonical string, so this is its array.
	const empty = `"units":[]`
	at := bytes.LastIndex(top, []byte(empty))
	if at < 0 {
		return nil, fmt.Errorf("canonical report: no units member")
	}
	n := len(top) + len(units)
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	out = append(out, top[:at+len(empty)-1]...)
	for i, p := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, p...)
	}
	return append(out, top[at+len(empty)-1:]...), nil
}

// canonicalJSON encodes v with encoding/json and rewrites it in RFC 8785
// form, leaving out the object members drop names (depth 0 is v's own
// members; parent is the key holding the object, at depth 1).
func canonicalJSON(v any, drop func(depth int, parent, key []byte) bool) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	var p fastjson.Parser
	tree, err := p.ParseBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(raw)))
	if err := canonical(buf, tree, 0, nil, drop); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type member struct {
	key []byte
	v   *fastjson.Value
}

// canonical writes v in RFC 8785 form. Strings and numbers come from
// encoding/json, so most are canonical already and are copied: a string
// with nothing to escape, and a number that is a short integer or a
// float64's shortest form (which parsing and re-formatting give back).
func canonical(buf *bytes.Buffer, v *fastjson.Value, depth int, parent []byte, drop func(int, []byte, []byte) bool) error {
	switch v.Type() {
	case fastjson.TypeNull:
		buf.WriteString("null")
	case fastjson.TypeTrue:
		buf.WriteString("true")
	case fastjson.TypeFalse:
		buf.WriteString("false")
	case fastjson.TypeNumber:
		var tok [64]byte
		num := v.MarshalTo(tok[:0])
		if bytes.ContainsAny(num, "eE") || len(num) > 15 {
			f, err := strconv.ParseFloat(string(num), 64)
			if err != nil {
				return fmt.Errorf("canonical report: number %s: %w", num, err)
			}
			b, err := json.Marshal(f) // ES6 number formatting
			if err != nil {
				return fmt.Errorf("canonical report: number %s: %w", num, err)
			}
			num = b
		}
		buf.Write(num)
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if plainString(s) {
			buf.WriteByte('"')
			buf.Write(s)
			buf.WriteByte('"')
		} else {
			canonicalString(buf, string(s))
		}
	case fastjson.TypeArray:
		a, _ := v.Array()
		buf.WriteByte('[')
		for i, e := range a {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := canonical(buf, e, depth+1, nil, drop); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case fastjson.TypeObject:
		o, _ := v.Object()
		ms := make([]member, 0, o.Len())
		o.Visit(func(k []byte, e *fastjson.Value) {
			if drop == nil || !drop(depth, parent, k) {
				ms = append(ms, member{k, e})
			}
		})
		slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
		buf.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				buf.WriteByte(',')
			}
			if plainString(m.key) {
				buf.WriteByte('"')
				buf.Write(m.key)
				buf.WriteByte('"')
			} else {
				canonicalString(buf, string(m.key))
			}
			buf.WriteByte(':')
			if err := canonical(buf, m.v, depth+1, m.key, drop); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonical report: unexpected %s", v.Type())
	}
	return nil
}

// plainString reports whether s needs no escaping in canonical JSON.
func plainString(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(s)
}

func canonicalString(buf *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hexDigits[r>>4])
			buf.WriteByte(hexDigits[r&0xf])
		default:
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}
