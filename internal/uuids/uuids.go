package uuids

// Valid reports whether s is a UUID in its canonical 36-character form
// (8-4-4-4-12 hex digits). Every public id in FreshTrack is one; anything
// else is answered as "not found" without asking the database, so a
// malformed id can never abort a transaction with a cast error.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
