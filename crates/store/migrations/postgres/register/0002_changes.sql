-- The change feed (see migrations/sqlite/0002_changes.sql). Writers that add changes hold a
-- transaction-level advisory lock from the first change row to their commit, so changes commit
-- in `seq` order and a reader following `seq` never skips one committed late.
CREATE TABLE changes (
    seq      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offering TEXT    NOT NULL CHECK (length(offering) BETWEEN 1 AND 128),
    subject  TEXT    NOT NULL,
    fields   TEXT    NOT NULL CHECK (fields::jsonb IS NOT NULL),
    at       BIGINT  NOT NULL,
    protected BOOLEAN NOT NULL
);
