-- The portal's people in PostgreSQL: the schema of the SQLite accounts database
-- (migrations/accounts/) as it stands after its migration 0002, shared by every instance of a
-- node. Times are whole unix seconds.
CREATE TABLE account (
    username        TEXT    PRIMARY KEY NOT NULL,
    display_name    TEXT    NOT NULL,
    unit            TEXT    NOT NULL,
    officer_role    TEXT    NOT NULL,
    -- The portal roles, space-separated: officer, reviewer, auditor, admin.
    roles           TEXT    NOT NULL,
    -- A PHC string (argon2id); the store never sees a password. '!' for an account without one.
    password_hash   TEXT    NOT NULL,
    failed_attempts BIGINT  NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    BIGINT,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT  NOT NULL,
    source          TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'oidc'))
);

CREATE TABLE session (
    -- SHA-256 of the cookie's token: a stolen database signs no one in.
    token_hash  BYTEA  PRIMARY KEY NOT NULL,
    username    TEXT   NOT NULL REFERENCES account (username) ON DELETE CASCADE,
    csrf        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);

CREATE INDEX session_by_user ON session (username);
CREATE INDEX session_by_expiry ON session (expires_at);

CREATE TABLE sign_in_flow (
    token_hash  BYTEA  PRIMARY KEY NOT NULL,
    state       TEXT   NOT NULL,
    nonce       TEXT   NOT NULL,
    verifier    TEXT   NOT NULL,
    next        TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX sign_in_flow_by_expiry ON sign_in_flow (expires_at);
