-- Subscriptions, the subjects each covers, change cursors and queued notices: the layout of
-- migrations/exchange/0008_subscriptions.sql. Queuers of notices hold a transaction-level
-- advisory lock, so notices commit in `seq` order (as the register's changes do).
CREATE TABLE subscriptions (
    id             TEXT    NOT NULL PRIMARY KEY,
    subscriber     TEXT    NOT NULL,
    offering       TEXT    NOT NULL,
    events         TEXT    NOT NULL CHECK (events::jsonb IS NOT NULL),
    fields         TEXT    NOT NULL CHECK (fields::jsonb IS NOT NULL),
    request        TEXT    NOT NULL CHECK (request::jsonb IS NOT NULL),
    decision_index BIGINT  NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('active', 'cancelled')),
    created_at     BIGINT  NOT NULL,
    ends_at        BIGINT  NOT NULL,
    CHECK (ends_at > created_at)
);

CREATE INDEX subscriptions_by_subscriber ON subscriptions (subscriber, created_at);

CREATE TABLE subscribed (
    offering     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    subscription TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    PRIMARY KEY (offering, subject, subscription)
);

CREATE INDEX subscribed_by_subscription ON subscribed (subscription);

CREATE TABLE change_cursors (
    feed  TEXT   NOT NULL PRIMARY KEY,
    after BIGINT NOT NULL
);

CREATE TABLE notices (
    seq          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    subscriber   TEXT    NOT NULL,
    feed         TEXT    NOT NULL,
    change_seq   BIGINT  NOT NULL,
    offering     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    events       TEXT    NOT NULL CHECK (events::jsonb IS NOT NULL),
    fields       TEXT    NOT NULL CHECK (fields::jsonb IS NOT NULL),
    changed_at   BIGINT  NOT NULL,
    UNIQUE (subscription, feed, change_seq)
);

CREATE INDEX notices_by_subscriber ON notices (subscriber, seq);

CREATE TABLE notice_cursors (
    subscriber TEXT   NOT NULL PRIMARY KEY,
    through    BIGINT NOT NULL
);

CREATE TABLE received_notices (
    seq          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     TEXT    NOT NULL,
    provider_seq BIGINT  NOT NULL,
    subscription TEXT    NOT NULL,
    offering     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    events       TEXT    NOT NULL CHECK (events::jsonb IS NOT NULL),
    fields       TEXT    NOT NULL CHECK (fields::jsonb IS NOT NULL),
    changed_at   BIGINT  NOT NULL,
    received_at  BIGINT  NOT NULL,
    UNIQUE (provider, provider_seq)
);
