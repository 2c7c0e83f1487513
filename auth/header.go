package auth

// ParseAuthorization returns the API key a request carries in
// "Authorization: Bearer <key>" (scheme case-insensitive) or, failing that,
// "X-API-Key: <key>", given the two header values (nil or empty when absent).
// The result is a subslice of its input, valid as long as the header buffer
// is; nothing is allocated. It does not check the key's format: Verify does.
func ParseAuthorization(authorizationHeader, xAPIKeyHeader []byte) ([]byte, bool) {
	if h := trimSpace(authorizationHeader); len(h) > len("Bearer") && isSpace(h[len("Bearer")]) && hasFoldPrefix(h, "bearer") {
		if key := trimSpace(h[len("Bearer"):]); len(key) > 0 && !containsSpace(key) {
			return key, true
		}
		return nil, false
	}
	if key := trimSpace(xAPIKeyHeader); len(key) > 0 && !containsSpace(key) {
		return key, true
	}
	return nil, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func containsSpace(b []byte) bool {
	for _, c := range b {
		if isSpace(c) {
			return true
		}
	}
	return false
}

// hasFoldPrefix reports whether b starts with the lowercase ASCII prefix,
// ignoring case.
func hasFoldPrefix(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if b[i]|0x20 != prefix[i] {
			return false
		}
	}
	return true
}
