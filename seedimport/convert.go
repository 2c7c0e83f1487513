package seedimport

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Pure conversions from the seed's values to FreshTrack's, shared by the
// import, the dry run and verify.

// toCelsius converts a temperature in unit (C or F) to °C.
func toCelsius(v float64, unit string) float64 {
	if unit == Fahrenheit {
		return (v - 32) * 5 / 9
	}
	return v
}

// unitKind maps the seed's unit_type to units.kind. A walk-in freezer is a
// freezer: FreshTrack's walk_in kind is a cold room with a fridge's range.
func unitKind(seedType string) (string, bool) {
	switch seedType {
	case "fridge":
		return "fridge", true
	case "freezer", "walk_in_freezer":
		return "freezer", true
	case "display_case":
		return "display", true
	case "walk_in_cooler":
		return "walk_in", true
	case "blast_chiller":
		return "blast_chiller", true
	}
	return "", false
}

// plausibleRange says what looks wrong with a unit's converted safe range,
// or "" when nothing does: a fridge outside −5…15 °C is usually a range read
// in the wrong unit (SEED-SYSTEM.md D3).
func plausibleRange(kind string, minC, maxC float64) string {
	switch {
	case math.IsNaN(minC) || math.IsNaN(maxC):
		return "no range"
	case minC >= maxC:
		return fmt.Sprintf("minimum %.1f °C is not below maximum %.1f °C", minC, maxC)
	}
	switch kind {
	case "fridge", "display", "walk_in":
		if minC < -5 || maxC > 15 {
			return fmt.Sprintf("%.1f…%.1f °C is outside −5…15 °C for a %s", minC, maxC, kind)
		}
	case "freezer":
		if maxC > 0 || minC < -60 {
			return fmt.Sprintf("%.1f…%.1f °C is not a freezer's range (−60…0 °C)", minC, maxC)
		}
	case "blast_chiller":
		if minC < -60 || maxC > 15 {
			return fmt.Sprintf("%.1f…%.1f °C is outside −60…15 °C for a blast chiller", minC, maxC)
		}
	}
	return ""
}

// normalizeEUI is a device EUI as FreshTrack's TTN adapter sees it: upper
// case hex without the ':' and '-' separators people type.
func normalizeEUI(s string) string {
	s = strings.TrimSpace(s)
	s = strings.NewReplacer(":", "", "-", "", " ", "").Replace(s)
	return strings.ToUpper(s)
}

var (
	e164Re  = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	emailRe = regexp.MustCompile(`^[^@[:space:]]+@[^@[:space:]]+$`)
)

// e164 returns a phone number in the E.164 form FreshTrack stores (spaces,
// dashes, dots and parentheses removed), or false when it is not one.
func e164(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if !e164Re.MatchString(s) {
		return "", false
	}
	return s, true
}

// validEmail is the users/contacts CHECK of FreshTrack's schema.
func validEmail(s string) bool { return emailRe.MatchString(s) }

// validZone reports whether s is an IANA time zone Go can load.
func validZone(s string) bool {
	if s == "" || s == "Local" {
		return false
	}
	_, err := time.LoadLocation(s)
	return err == nil
}

// clip trims s and cuts it to at most n characters (runes).
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// priorityRole is the contact role of a seed escalation contact without a
// person: its priority (0 first) read as the seed's escalation levels.
func priorityRole(p int) string {
	switch {
	case p <= 0:
		return "staff"
	case p == 1:
		return "manager"
	}
	return "owner"
}

// memberRole maps the seed's app_role to member_role (the same names).
func memberRole(s string) (string, bool) {
	switch s {
	case "owner", "admin", "manager", "staff", "viewer":
		return s, true
	}
	return "", false
}

// deriveID is a stable UUID (version 8, RFC 9562) for a row FreshTrack needs
// and the seed does not have (a unit's generated alert rule), so that every
// run of the import finds the row it made before.
func deriveID(parts ...string) string {
	h := sha256.Sum256([]byte("freshtrack.seedimport\x00" + strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// digestHour is the local hour of a seed digest time "HH:MM" (minutes are
// lost: FreshTrack sends digests on the hour).
func digestHour(s string) (int, bool) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return t.Hour(), true
}
