package seedimport

import (
	"encoding/base64"
	"testing"
)

func TestTTNSecretReadsEveryFormTheSeedWrote(t *testing.T) {
	const secret, salt = "whsec_2f9c1e7a44b0", "kitchen-salt"
	xored := make([]byte, len(secret))
	for i := range xored {
		xored[i] = secret[i] ^ salt[i%len(salt)]
	}
	for name, stored := range map[string]string{
		"b64": "b64:" + base64.StdEncoding.EncodeToString([]byte(secret)),
		"v2":  "v2:" + base64.StdEncoding.EncodeToString(xored),
		"v1":  base64.StdEncoding.EncodeToString(xored),
	} {
		got, ok := ttnSecret(stored, salt)
		if !ok || got != secret {
			t.Errorf("%s %q: %q %v, want %q", name, stored, got, ok, secret)
		}
	}
	// A wrong salt cannot give the secret; bytes that are not printable
	// text (the common outcome) are not taken for one.
	if got, ok := ttnSecret("v2:"+base64.StdEncoding.EncodeToString(xored), "another-salt"); ok && got == secret {
		t.Errorf("a wrong salt read the secret")
	}
	if got, ok := ttnSecret("v2:"+base64.StdEncoding.EncodeToString(xored), "\x80\x80"); ok {
		t.Errorf("non-text read as %q", got)
	}
	for _, bad := range []string{"", "b64:!!", "v2:%%%", "b64:" + base64.StdEncoding.EncodeToString([]byte("has space"))} {
		if got, ok := ttnSecret(bad, salt); ok {
			t.Errorf("%q read as %q", bad, got)
		}
	}
}
