-- A reviewer's decision on a review batch, kept until it has been applied to every review it
-- covers: the batch's reviews pending when it was taken (up to the newest of them, by
-- `created_at` and `rowid`) but those it excepts. A node that stops midway applies the rest
-- when it starts again.
CREATE TABLE batch_decisions (
    id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    batch            TEXT    NOT NULL CHECK (length(batch) BETWEEN 1 AND 256),
    decision_json    TEXT    NOT NULL CHECK (json_valid(decision_json)),
    until_created_at INTEGER NOT NULL,
    until_rowid      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);
