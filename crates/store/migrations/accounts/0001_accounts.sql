-- The portal's people: local accounts and their sign-in sessions, one database per node.

CREATE TABLE account (
    username        TEXT PRIMARY KEY NOT NULL,
    display_name    TEXT NOT NULL,
    -- The unit of the node's authority the person works in (a rulebook unit id).
    unit            TEXT NOT NULL,
    -- The person's role as the rulebook knows it (context.role), e.g. "handlaggare".
    officer_role    TEXT NOT NULL,
    -- The portal roles, space-separated: officer, reviewer, auditor, admin.
    roles           TEXT NOT NULL,
    -- A PHC string (argon2id); the store never sees a password.
    password_hash   TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    -- Unix seconds until which sign-in is refused after repeated failures.
    locked_until    INTEGER,
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE session (
    -- SHA-256 of the cookie's token: a stolen database file signs no one in.
    token_hash  BLOB PRIMARY KEY NOT NULL,
    username    TEXT NOT NULL REFERENCES account (username) ON DELETE CASCADE,
    -- The synchronizer token every form of the session must carry.
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX session_by_user ON session (username);
CREATE INDEX session_by_expiry ON session (expires_at);
