-- Browser sessions of the web app. The cookie holds a random token; only
-- its SHA-256 is stored, so a read of this table signs no one in.
CREATE TABLE web_sessions (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Sent back by the page in X-CSRF-Token on every state-changing call.
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Sign-ins under way: the OIDC state, PKCE verifier and nonce between the
-- redirect to the identity provider and its callback (minutes at most).
CREATE TABLE web_signins (
    state_sha256  bytea PRIMARY KEY CHECK (length(state_sha256) = 32),
    code_verifier text NOT NULL,
    nonce         text NOT NULL,
    return_to     text NOT NULL,
    expires_at    timestamptz NOT NULL
);
