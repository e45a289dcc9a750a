-- Delivering notices and subscribing (see the SQLite schema's 0009 for what each holds).
ALTER TABLE notice_cursors ADD COLUMN recorded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notice_cursors ADD COLUMN parts TEXT NOT NULL DEFAULT '[]';

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
    events      TEXT    NOT NULL CHECK (events::jsonb IS NOT NULL),
    subjects    BIGINT  NOT NULL,
    verdict     TEXT    NOT NULL CHECK (verdict::jsonb IS NOT NULL),
    state       TEXT    NOT NULL CHECK (state IN ('active', 'cancelled')),
    created_at  BIGINT  NOT NULL,
    ends_at     BIGINT  NOT NULL
);

CREATE INDEX held_subscriptions_by_unit ON held_subscriptions (unit, id);

CREATE TABLE notice_push (
    name            TEXT    NOT NULL PRIMARY KEY,
    through         BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT,
    error           TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('active', 'dead'))
);
