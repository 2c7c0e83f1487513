package compliance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
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
func CanonicalBody(r *Report) ([]byte, error) {
	c := *r
	c.Header.GeneratedAt = time.Time{}
	c.Header.ContentSHA256 = ""
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	delete(tree, "footer")
	delete(tree, "review")
	if h, ok := tree["header"].(map[string]any); ok {
		delete(h, "generated_at")
		delete(h, "content_sha256")
	}
	var buf bytes.Buffer
	if err := canonical(&buf, tree); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// canonical writes v (as decoded with UseNumber) in RFC 8785 form.
func canonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return fmt.Errorf("canonical report: number %s: %w", x, err)
		}
		b, err := json.Marshal(f) // ES6 number formatting
		if err != nil {
			return fmt.Errorf("canonical report: number %s: %w", x, err)
		}
		buf.Write(b)
	case string:
		canonicalString(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := canonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			canonicalString(buf, k)
			buf.WriteByte(':')
			if err := canonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonical report: unexpected %T", v)
	}
	return nil
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
