package ingest

// JSON numbers: the grammar check and a parser that neither allocates nor
// accepts what RFC 8259 does not.

import (
	"errors"
	"strconv"
)

// parseJSONFloat parses the text of a JSON number (RFC 8259 grammar only: no
// NaN, Infinity, leading '+' or '.'); it reports false for anything else.
// Out-of-range values become ±Inf, negative zero becomes zero. It does not
// allocate.
func parseJSONFloat(num []byte) (float64, bool) {
	// Fast path, exact: at most 15 digits and no exponent, so the digits
	// form an integer below 2^53 and one division by an exact power of ten
	// rounds correctly (Clinger's fast path).
	i := 0
	neg := len(num) > 0 && num[0] == '-'
	if neg {
		i++
	}
	var mant uint64
	start := i
	for i < len(num) && isDecDigit(num[i]) {
		mant = mant*10 + uint64(num[i]-'0')
		i++
	}
	nd := i - start
	frac := 0
	if i < len(num) && num[i] == '.' {
		i++
		for i < len(num) && isDecDigit(num[i]) {
			mant = mant*10 + uint64(num[i]-'0')
			i++
			frac++
		}
	}
	if i == len(num) && nd > 0 && (num[start] != '0' || nd == 1) &&
		(frac > 0 || num[len(num)-1] != '.') && nd+frac <= 15 {
		f := float64(mant)
		if frac > 0 {
			f /= exactPow10[frac]
		}
		if neg && f != 0 {
			f = -f
		}
		return f, true
	}

	if !isJSONNumber(num) {
		return 0, false
	}
	// string(num) does not allocate: ParseFloat does not keep its argument,
	// and numbers short enough to matter fit the compiler's stack buffer.
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	return f, true
}

var exactPow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// isJSONNumber reports whether num is exactly one JSON number.
func isJSONNumber(num []byte) bool {
	if len(num) == 0 {
		return false
	}
	c := syntaxChecker{b: num}
	return c.number(0) == len(num)
}
