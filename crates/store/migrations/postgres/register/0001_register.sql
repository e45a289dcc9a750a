-- The generic register in PostgreSQL: the layout of the SQLite register (migrations/sqlite/),
-- so any offering of any rulebook is backed without a schema change.
CREATE TABLE subjects (
    subject            TEXT    NOT NULL PRIMARY KEY,
    kind               TEXT    NOT NULL
        CHECK (kind IN ('personnummer', 'samordningsnummer', 'organisationsnummer')),
    protected_identity BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK (kind <> 'organisationsnummer' OR NOT protected_identity)
);

-- One value (JSON text) per offering, subject (canonical form) and field.
CREATE TABLE records (
    offering TEXT NOT NULL CHECK (length(offering) BETWEEN 1 AND 128),
    subject  TEXT NOT NULL REFERENCES subjects (subject) ON DELETE CASCADE,
    field    TEXT NOT NULL CHECK (length(field) BETWEEN 1 AND 128),
    value    TEXT NOT NULL CHECK (value::jsonb IS NOT NULL),
    PRIMARY KEY (offering, subject, field)
);

CREATE INDEX records_by_subject ON records (subject);
