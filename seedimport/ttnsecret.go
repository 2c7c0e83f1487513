package seedimport

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// DefaultTTNEncryptionSalt is the salt FreshTrack Pro used when its
// TTN_ENCRYPTION_SALT was unset.
const DefaultTTNEncryptionSalt = "default-salt"

// ttnSecret reads a secret FreshTrack Pro stored obfuscated
// (ttn_connections.ttn_webhook_secret_encrypted and its API keys): "b64:"
// and base64, "v2:" and base64 of the bytes XORed with the salt's bytes, or
// (the oldest form) base64 of the characters XORed with the salt's. It is
// obfuscation, not encryption: the salt is all it takes. ok is false when
// the value does not decode to printable ASCII, which a wrong salt usually
// gives (not always: nothing in the value says which salt made it).
func ttnSecret(stored, salt string) (secret string, ok bool) {
	xor := func(b []byte) []byte {
		if salt == "" {
			return nil
		}
		out := make([]byte, len(b))
		for i := range b {
			out[i] = b[i] ^ salt[i%len(salt)]
		}
		return out
	}
	var plain []byte
	switch {
	case strings.HasPrefix(stored, "b64:"):
		b, err := base64.StdEncoding.DecodeString(stored[4:])
		if err != nil {
			return "", false
		}
		plain = b
	case strings.HasPrefix(stored, "v2:"):
		b, err := base64.StdEncoding.DecodeString(stored[3:])
		if err != nil {
			return "", false
		}
		plain = xor(b)
	default:
		// Latin-1 characters XORed with the salt's UTF-16 code units; for
		// the ASCII salts and secrets the seed made, byte-wise.
		b, err := base64.StdEncoding.DecodeString(stored)
		if err != nil {
			return "", false
		}
		plain = xor(b)
	}
	s := string(plain)
	if s == "" || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return "", false
		}
	}
	return s, true
}
