package ingest

// Timestamps arrive as RFC 3339 strings (POST /v1/readings, TTN's received_at)
// or as unix milliseconds (POST /v1/readings). Both become TimeMicros, unix
// microseconds: PostgreSQL's timestamptz resolution. Digits finer than a
// microsecond are truncated toward negative infinity (floor), so a reading
// never moves later in time; for RFC 3339 input that is plain truncation of
// the fraction, which is never negative.

const (
	rfcMicrosPerSecond = 1_000_000
	rfcSecondsPerDay   = 86_400

	// minReadingMicros and maxReadingMicros bound the times this package accepts:
	// 0000-01-01T00:00:00Z through 9999-12-31T23:59:59.999999Z, the range a
	// four-digit RFC 3339 year can name in UTC. Unix milliseconds outside it
	// are rejected too, so every accepted time can be printed as RFC 3339 and
	// stored in a timestamptz.
	minReadingMicros = -62_167_219_200 * rfcMicrosPerSecond
	maxReadingMicros = 253_402_300_800*rfcMicrosPerSecond - 1
)

// parseRFC3339Micros parses an RFC 3339 timestamp such as
// "2026-11-26T03:04:05Z" or "2026-11-26T03:04:05.123456789+01:00" and returns
// it as unix microseconds. It does not allocate.
//
// It accepts what time.Parse(time.RFC3339Nano, s) accepts on its strict path,
// and agrees with it on the instant: a four-digit year (0000-9999), a day valid
// for its month (leap years included), hours 00-23, minutes and seconds 00-59
// (no leap second), an optional fraction of one or more digits (digits past
// the ninth are ignored, as time.Parse does; digits past the sixth are
// truncated), and "Z" or a ±hh:mm offset with hh 00-23 and mm 00-59. Unlike
// time.Parse it also accepts a lower-case "t" and "z", as RFC 3339 section 5.6
// allows. It rejects what time.Parse accepts only through its lenient layout
// fallback (a one-digit hour, a comma before the fraction, an offset of 24
// hours or more).
func parseRFC3339Micros(b []byte) (int64, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") {
		return 0, false
	}
	if b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y1, ok1 := rfcDigits2(b[0], b[1])
	y2, ok2 := rfcDigits2(b[2], b[3])
	month, ok3 := rfcDigits2(b[5], b[6])
	day, ok4 := rfcDigits2(b[8], b[9])
	hour, ok5 := rfcDigits2(b[11], b[12])
	minute, ok6 := rfcDigits2(b[14], b[15])
	sec, ok7 := rfcDigits2(b[17], b[18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, false
	}
	year := y1*100 + y2
	if month < 1 || month > 12 || day < 1 || day > gregorianMonthDays(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}

	rest := b[19:]
	var frac int64 // microseconds
	if len(rest) >= 2 && rest[0] == '.' && isDecDigit(rest[1]) {
		n := 1
		scale := int64(100_000)
		for ; n < len(rest) && isDecDigit(rest[n]); n++ {
			frac += int64(rest[n]-'0') * scale
			scale /= 10 // 0 after the sixth digit: finer digits are dropped
		}
		rest = rest[n:]
	}

	var offset int64 // seconds east of UTC
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == len("+07:00") && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := rfcDigits2(rest[1], rest[2])
		om, ok2 := rfcDigits2(rest[4], rest[5])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}

	secs := daysFromCivil(year, month, day)*rfcSecondsPerDay +
		int64(hour*3600+minute*60+sec) - offset
	return secs*rfcMicrosPerSecond + frac, true
}

func isDecDigit(c byte) bool { return c-'0' < 10 }

// rfcDigits2 decodes two ASCII decimal digits.
func rfcDigits2(a, b byte) (int, bool) {
	a -= '0'
	b -= '0'
	return int(a)*10 + int(b), a < 10 && b < 10
}

func gregorianLeap(year int) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

// gregorianMonthDays returns the length of month (1-12) in year.
func gregorianMonthDays(month, year int) int {
	switch month {
	case 2:
		if gregorianLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's days_from_civil). year >= 0.
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400 // [0, 399]
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1    // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468
}

// parseUnixMillisMicros converts the text of a JSON number holding unix
// milliseconds ("1764126245123", "1764126245123.456", "1.764126245123e12")
// to unix microseconds, exactly: digits below a microsecond are truncated
// toward negative infinity. It reports false when num is not a JSON number
// (RFC 8259 grammar) or the time is outside minReadingMicros..maxReadingMicros.
// It does not allocate.
func parseUnixMillisMicros(num []byte) (int64, bool) {
	intPart, fracPart, exp, neg, ok := splitJSONNumber(num)
	if !ok {
		return 0, false
	}
	// The value is D × 10^(exp-len(frac)) milliseconds, D being the integer
	// formed by all digits, so D × 10^q microseconds with:
	q := exp - int64(len(fracPart)) + 3
	nd := int64(len(intPart) + len(fracPart))
	keep := nd + q // digits of D that form the integral microseconds
	var v int64
	const limit = maxReadingMicros + 1 // > every accepted magnitude (|min| < max)
	var dropped bool                   // a non-zero digit was truncated
	for i := int64(0); i < nd; i++ {
		var c byte
		if i < int64(len(intPart)) {
			c = intPart[i]
		} else {
			c = fracPart[i-int64(len(intPart))]
		}
		d := int64(c - '0')
		if i >= keep {
			if d != 0 {
				dropped = true
			}
			continue
		}
		v = v*10 + d
		if v >= limit {
			return 0, false
		}
	}
	for ; q > 0 && v != 0; q-- { // trailing zeros of a positive exponent
		v *= 10
		if v >= limit {
			return 0, false
		}
	}
	if neg {
		v = -v
		if dropped {
			v-- // floor
		}
	}
	if v < minReadingMicros || v > maxReadingMicros {
		return 0, false
	}
	return v, true
}

// splitJSONNumber checks num against the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and splits it. An exponent
// whose magnitude exceeds 1e6 is reported as not ok (no timestamp needs it).
func splitJSONNumber(num []byte) (intPart, fracPart []byte, exp int64, neg, ok bool) {
	i := 0
	if i < len(num) && num[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(num) && isDecDigit(num[i]) {
		i++
	}
	if i == start || (num[start] == '0' && i-start > 1) {
		return nil, nil, 0, false, false
	}
	intPart = num[start:i]
	if i < len(num) && num[i] == '.' {
		i++
		start = i
		for i < len(num) && isDecDigit(num[i]) {
			i++
		}
		if i == start {
			return nil, nil, 0, false, false
		}
		fracPart = num[start:i]
	}
	if i < len(num) && (num[i] == 'e' || num[i] == 'E') {
		i++
		expNeg := false
		if i < len(num) && (num[i] == '+' || num[i] == '-') {
			expNeg = num[i] == '-'
			i++
		}
		start = i
		for i < len(num) && isDecDigit(num[i]) {
			if exp < 1e6 {
				exp = exp*10 + int64(num[i]-'0')
			}
			i++
		}
		if i == start || exp >= 1e6 {
			return nil, nil, 0, false, false
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(num) {
		return nil, nil, 0, false, false
	}
	return intPart, fracPart, exp, neg, true
}
