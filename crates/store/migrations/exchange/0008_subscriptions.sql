-- Subscriptions this node (the provider) has granted, the subjects each covers, where the
-- matching of each register's change feed stands, and the notices matching queued.
--
-- subscriptions: one per lawful request a subscriber made and the rulebook granted; `events`
-- and `fields` are JSON arrays (the event types granted; the fields a notice may carry values
-- of); `request` the whole request as decided (JSON); times in seconds.
CREATE TABLE subscriptions (
    id             TEXT    NOT NULL PRIMARY KEY,
    subscriber     TEXT    NOT NULL,
    offering       TEXT    NOT NULL,
    events         TEXT    NOT NULL CHECK (json_valid(events)),
    fields         TEXT    NOT NULL CHECK (json_valid(fields)),
    request        TEXT    NOT NULL CHECK (json_valid(request)),
    decision_index INTEGER NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('active', 'cancelled')),
    created_at     INTEGER NOT NULL,
    ends_at        INTEGER NOT NULL,
    CHECK (ends_at > created_at)
) STRICT;

CREATE INDEX subscriptions_by_subscriber ON subscriptions (subscriber, created_at);

-- subscribed: the (offering, subject) pairs each subscription covers. Matching a change is one
-- lookup of its pair's prefix of the key, however many pairs there are.
CREATE TABLE subscribed (
    offering     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    subscription TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    PRIMARY KEY (offering, subject, subscription)
) STRICT, WITHOUT ROWID;

CREATE INDEX subscribed_by_subscription ON subscribed (subscription);

-- change_cursors: the `seq` of the last change of each feed matched, advanced in the same
-- transaction as the notices it queued, so a change is matched once.
CREATE TABLE change_cursors (
    feed  TEXT    NOT NULL PRIMARY KEY,
    after INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- notices: one per (subscription, change), in the order of the changes (so per subject too);
-- the names of the event types and fields, never values. `changed_at` in milliseconds.
CREATE TABLE notices (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    subscriber   TEXT    NOT NULL,
    feed         TEXT    NOT NULL,
    change_seq   INTEGER NOT NULL,
    offering     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    events       TEXT    NOT NULL CHECK (json_valid(events)),
    fields       TEXT    NOT NULL CHECK (json_valid(fields)),
    changed_at   INTEGER NOT NULL,
    UNIQUE (subscription, feed, change_seq)
) STRICT;

CREATE INDEX notices_by_subscriber ON notices (subscriber, seq);

-- notice_cursors: the last notice each subscriber's node acknowledged (provider side); notices
-- after it are owed.
CREATE TABLE notice_cursors (
    subscriber TEXT    NOT NULL PRIMARY KEY,
    through    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- received_notices: the notices this node took from providers as a subscriber, each once
-- (provider, provider_seq), in the order taken (`seq`, the feed case systems follow).
CREATE TABLE received_notices (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    provider     TEXT    NOT NULL,
    provider_seq INTEGER NOT NULL,
    subscription TEXT    NOT NULL,
    offering     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    events       TEXT    NOT NULL CHECK (json_valid(events)),
    fields       TEXT    NOT NULL CHECK (json_valid(fields)),
    changed_at   INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    UNIQUE (provider, provider_seq)
) STRICT;
