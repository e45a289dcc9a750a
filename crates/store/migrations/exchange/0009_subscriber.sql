-- Delivering notices and subscribing.
--
-- notice_cursors.recorded: the last notice to each subscriber this node (the provider) has
-- recorded in its ledger as sent; notices up to it are sent again after a failure without
-- being recorded again, in the parts (ledger entries) `parts` lists (JSON).
ALTER TABLE notice_cursors ADD COLUMN recorded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notice_cursors ADD COLUMN parts TEXT NOT NULL DEFAULT '[]';

-- held_subscriptions: the subscriptions this node holds at providers as a subscriber, with the
-- provider's signed verdict; who asked (unit, role, officer), why, which event types were granted,
-- until when (seconds), how many subjects the provider says it covers.
CREATE TABLE held_subscriptions (
    id          TEXT    NOT NULL PRIMARY KEY,
    provider    TEXT    NOT NULL,
    offering    TEXT    NOT NULL,
    unit        TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    officer     TEXT,
    purpose     TEXT    NOT NULL,
    legal_basis TEXT    NOT NULL,
    case_ref    TEXT    NOT NULL,
    events      TEXT    NOT NULL CHECK (json_valid(events)),
    subjects    INTEGER NOT NULL,
    verdict     TEXT    NOT NULL CHECK (json_valid(verdict)),
    state       TEXT    NOT NULL CHECK (state IN ('active', 'cancelled')),
    created_at  INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX held_subscriptions_by_unit ON held_subscriptions (unit, id);

-- notice_push: how far the notices taken have been pushed to a case system's webhook, and
-- the state of the next attempt: failures since the last success, when to try again, the last
-- error, and whether it was given up (`dead`, until re-enabled).
CREATE TABLE notice_push (
    name            TEXT    NOT NULL PRIMARY KEY,
    through         INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    error           TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('active', 'dead'))
) STRICT, WITHOUT ROWID;
