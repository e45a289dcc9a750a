-- The change feed: one row per (offering, subject) whose values a write changed, written in the
-- same transaction as the values (a transactional outbox), so a reader following `seq` misses
-- no change that was committed and sees none that was not. `fields` names the fields whose
-- value is new or different (a JSON array, sorted); values themselves are never copied here.
-- `at` is when the write was made, in milliseconds since the epoch; `protected` whether the
-- subject had protected identity after the write (no notice tells of such a subject).
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    offering  TEXT    NOT NULL CHECK (length(offering) BETWEEN 1 AND 128),
    subject   TEXT    NOT NULL,
    fields    TEXT    NOT NULL CHECK (json_valid(fields)),
    at        INTEGER NOT NULL,
    protected INTEGER NOT NULL CHECK (protected IN (0, 1))
) STRICT;
