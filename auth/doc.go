// Package auth authenticates devices and manages the credentials they use.
//
// This package covers device credentials: organisations (the tenants that own
// everything) and API keys (what sensors, gateways and TTN webhooks present on
// every request). User sign-in (OIDC) will live here too.
//
// # API keys
//
// A key looks like
//
//	ftk_<8-char lookup prefix>_<32-char secret>
//
// with both parts drawn from crypto/rand in lowercase base32 (a-z, 2-7: URL-safe,
// no padding, no 0/1/8/9 to confuse with O/I/B/g), 160 bits of secret. The
// database keeps the prefix, to find the row, and the SHA-256 of the whole key;
// the plaintext is shown once, by [CreateAPIKey], and never stored or logged.
//
// [KeyVerifier] is the authenticator on the ingest hot path. A key it has
// verified is trusted for [KeyVerifierOptions.TTL] (5s by default) before the
// database is asked again, so a revoked key, or a key of a deleted
// organisation, stops working within TTL on every instance; revocation itself
// ([RevokeAPIKey]) only writes the database. With Redis configured the
// instances share verified keys, and the entries carry their expiry, so the
// bound stays TTL rather than growing with each layer of caching.
//
// Whoever can write to that Redis can make the instances accept a key of their
// choosing, so it must be as trusted as the database: a private network and
// AUTH.
//
// # Errors
//
// Store functions map a missing row to [ErrNotFound] and bad input to a
// [*ValidationError]; [KeyVerifier.Verify] answers [ErrUnauthorized] for any key
// it does not accept and another error only when it could not check the key
// (database unavailable), which callers answer with 503, not 401.
package auth
