-- Sign-in through the agency's identity provider (OpenID Connect) beside local passwords, and
-- sessions that end when left idle.

-- Where an account comes from: 'local' (a password set here) or 'oidc' (vouched for by the
-- identity provider; no password, its profile the provider's claims at the last sign-in).
ALTER TABLE account ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
    CHECK (source IN ('local', 'oidc'));

-- When the session was last used (unix seconds): a session idle longer than the portal's idle
-- timeout ends, whatever its absolute expiry.
ALTER TABLE session ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
UPDATE session SET last_seen = created_at;

-- A sign-in under way at the identity provider: what the browser's flow cookie (its SHA-256
-- here) binds the provider's redirect back to. Taken (deleted) when the provider answers.
CREATE TABLE sign_in_flow (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    -- The OAuth 2.0 state, the OpenID Connect nonce and the PKCE code verifier.
    state       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    -- The portal path to go to once signed in.
    next        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX sign_in_flow_by_expiry ON sign_in_flow (expires_at);
