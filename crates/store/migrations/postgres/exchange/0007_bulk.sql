-- Bulk exchanges asked as the consumer (see the SQLite schema's 0011 for what each holds).

-- bulks: one per idempotency key, with how far it has come.
CREATE TABLE bulks (
    key        TEXT    NOT NULL PRIMARY KEY,
    bulk_id    TEXT    NOT NULL,
    client     TEXT,
    provider   TEXT    NOT NULL,
    offering   TEXT    NOT NULL,
    unit       TEXT    NOT NULL,
    request    TEXT    NOT NULL CHECK (request::jsonb IS NOT NULL),
    subjects   BIGINT  NOT NULL CHECK (subjects >= 0),
    parts      BIGINT  NOT NULL CHECK (parts >= 0),
    answered   BIGINT  NOT NULL CHECK (answered >= 0),
    held       BIGINT  NOT NULL CHECK (held >= 0),
    created_at BIGINT  NOT NULL,
    CHECK (answered + held = subjects)
);

-- bulk_parts: each part of a bulk as its provider answered it, with the signed answer.
CREATE TABLE bulk_parts (
    key      TEXT    NOT NULL REFERENCES bulks (key) ON DELETE CASCADE,
    first    BIGINT  NOT NULL CHECK (first >= 0),
    count    BIGINT  NOT NULL CHECK (count >= 1),
    answered BIGINT  NOT NULL CHECK (answered >= 0),
    held     BIGINT  NOT NULL CHECK (held >= 0),
    answer   TEXT    NOT NULL CHECK (answer::jsonb IS NOT NULL),
    PRIMARY KEY (key, first),
    CHECK (answered + held = count)
);
