-- Bulk exchanges this node (the consumer) asks of providers: one request for many subjects,
-- taken part by part.
--
-- bulks: one per idempotency key of the case system that asked; `request` the bulk request
-- (JSON); how far it has come: the subjects taken (where the next part starts), the parts, and
-- of the subjects how many were answered and how many held for review. `created_at` in seconds.
CREATE TABLE bulks (
    key        TEXT    NOT NULL PRIMARY KEY,
    bulk_id    TEXT    NOT NULL,
    client     TEXT,
    provider   TEXT    NOT NULL,
    offering   TEXT    NOT NULL,
    unit       TEXT    NOT NULL,
    request    TEXT    NOT NULL CHECK (json_valid(request)),
    subjects   INTEGER NOT NULL CHECK (subjects >= 0),
    parts      INTEGER NOT NULL CHECK (parts >= 0),
    answered   INTEGER NOT NULL CHECK (answered >= 0),
    held       INTEGER NOT NULL CHECK (held >= 0),
    created_at INTEGER NOT NULL,
    CHECK (answered + held = subjects)
) STRICT;

-- bulk_parts: each part of a bulk as its provider answered it, subjects `first` up to
-- `first + count`, with the provider's signed answer (JSON). Not WITHOUT ROWID: an answer may
-- be megabytes, and SQLite keeps such rows best in a rowid table.
CREATE TABLE bulk_parts (
    key      TEXT    NOT NULL REFERENCES bulks (key) ON DELETE CASCADE,
    first    INTEGER NOT NULL CHECK (first >= 0),
    count    INTEGER NOT NULL CHECK (count >= 1),
    answered INTEGER NOT NULL CHECK (answered >= 0),
    held     INTEGER NOT NULL CHECK (held >= 0),
    answer   TEXT    NOT NULL CHECK (json_valid(answer)),
    PRIMARY KEY (key, first),
    CHECK (answered + held = count)
) STRICT;
