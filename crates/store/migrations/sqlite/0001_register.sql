-- The generic register: any offering of any rulebook is backed without a schema change.
--
-- subjects: every person or organisation the register holds, with the protected-identity flag
-- (skyddad folkbokföring / sekretessmarkering), which only a person can carry.
CREATE TABLE subjects (
    subject            TEXT    NOT NULL PRIMARY KEY,
    kind               TEXT    NOT NULL
        CHECK (kind IN ('personnummer', 'samordningsnummer', 'organisationsnummer')),
    protected_identity INTEGER NOT NULL DEFAULT 0
        CHECK (protected_identity IN (0, 1)),
    CHECK (kind <> 'organisationsnummer' OR protected_identity = 0)
) STRICT, WITHOUT ROWID;

-- records: one value (JSON text) per offering, subject (canonical form) and field. The primary
-- key serves fetch, which reads one (offering, subject) prefix.
CREATE TABLE records (
    offering TEXT NOT NULL CHECK (length(offering) BETWEEN 1 AND 128),
    subject  TEXT NOT NULL REFERENCES subjects (subject) ON DELETE CASCADE,
    field    TEXT NOT NULL CHECK (length(field) BETWEEN 1 AND 128),
    value    TEXT NOT NULL CHECK (json_valid(value)),
    PRIMARY KEY (offering, subject, field)
) STRICT, WITHOUT ROWID;

-- The foreign key's child index: deleting a subject must not scan every record.
CREATE INDEX records_by_subject ON records (subject);
