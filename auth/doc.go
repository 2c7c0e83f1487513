// Package auth authenticates devices and people and owns who may do what:
// organisations (the tenants that own everything), their members and roles,
// API keys (what sensors, gateways and TTN webhooks present on every
// request), user sign-in (OIDC) and the audit trail.
//
// # Ownership
//
// auth owns the organizations, memberships, users, api_keys and
// legacy_secrets tables and
// writes audit_log rows ([WriteAudit]; [VerifyAudit] checks the chain). The
// api package answers /v1/orgs, /v1/orgs/:org/members and api-keys by
// calling this package ([ListUserOrganizations], [CreateOwnedOrganization],
// [UpdateOrganization], [DeleteOrganization], [AddMember], [SetMemberRole],
// [RemoveMember], [RenameAPIKey]...) and checks every organisation route with
// [MemberRole] and the permission [Matrix]; it runs none of their SQL. auth
// must not import api, fiber or internal/problem: it returns
// [ErrNotFound], [*ValidationError], [*ConflictError], [*ForbiddenError] and
// [ErrOrganizationChanged], which api maps to HTTP. It must not write the
// tables of other capabilities (fleet, alerting, notify), beyond the audit
// rows they ask it to write.
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
// # Legacy secrets
//
// FreshTrack Pro's devices and TTN webhooks authenticate with secrets of
// its own making (ttn_connections.webhook_secret, the secret of the TTN
// webhooks it provisioned), sent raw in X-API-Key, X-Webhook-Secret,
// X-Downlink-Apikey or Authorization. The importer keeps them with
// [CreateLegacySecret] as ingest credentials of their organisation, stored
// as SHA-256 only and found by it (they have no lookup prefix); the legacy
// routes check them with a [LegacySecretVerifier], which is a [KeyVerifier]
// over legacy_secrets: the same caching, the same TTL bound on revocation
// ([RevokeLegacySecret]), the same audit rows. No native route accepts
// them.
//
// # Errors
//
// Store functions map a missing row to [ErrNotFound] and bad input to a
// [*ValidationError]; those that write several rows take a [database.DB] and run in a
// transaction of their own; [KeyVerifier.Verify] answers [ErrUnauthorized] for any key
// it does not accept and another error only when it could not check the key
// (database unavailable), which callers answer with 503, not 401.
package auth
