-- Messages between authorities (as migrations/exchange/0006 on SQLite). The outbox holds what this node sends, the inbox what it
-- received, each exactly as it travels: the envelope's text (routing data, no personal data)
-- and the content sealed for the recipient (HPKE), which this database never holds in clear.
-- Times are whole unix seconds (UTC).

-- outbox: a message is `held` (a notice field awaits the sender's reviewer), `pending` (with
-- its next attempt), `delivered` or `accepted` (with the recipient's signed receipts), or
-- `failed` (the sender gave up; `last_error` says why, without personal data).
CREATE TABLE outbox (
    message_id        TEXT    NOT NULL PRIMARY KEY CHECK (length(message_id) BETWEEN 1 AND 256),
    client            TEXT    NOT NULL CHECK (length(client) BETWEEN 1 AND 256),
    idempotency_key   TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 256),
    request_hash      TEXT    NOT NULL CHECK (length(request_hash) BETWEEN 1 AND 256),
    sender_unit       TEXT    NOT NULL CHECK (length(sender_unit) BETWEEN 1 AND 256),
    recipient         TEXT    NOT NULL CHECK (length(recipient) BETWEEN 1 AND 256),
    kind              TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 256),
    envelope          TEXT    NOT NULL CHECK (envelope::jsonb IS NOT NULL),
    sealed            BYTEA   NOT NULL,
    state             TEXT    NOT NULL
                              CHECK (state IN ('held', 'pending', 'delivered', 'accepted', 'failed')),
    attempts          BIGINT  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   BIGINT,
    give_up_at        BIGINT  NOT NULL,
    last_error        TEXT             CHECK (length(last_error) BETWEEN 1 AND 512),
    decision_index    BIGINT  NOT NULL CHECK (decision_index >= 0),
    delivered_receipt TEXT             CHECK (delivered_receipt IS NULL OR delivered_receipt::jsonb IS NOT NULL),
    accepted_receipt  TEXT             CHECK (accepted_receipt IS NULL OR accepted_receipt::jsonb IS NOT NULL),
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    rowid             BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    UNIQUE (client, idempotency_key),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
    CHECK (state NOT IN ('delivered', 'accepted') OR delivered_receipt IS NOT NULL
           OR accepted_receipt IS NOT NULL),
    CHECK (state <> 'accepted' OR accepted_receipt IS NOT NULL),
    CHECK (state <> 'failed' OR last_error IS NOT NULL)
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_by_unit ON outbox (sender_unit, created_at);
CREATE INDEX outbox_by_created ON outbox (created_at);

-- inbox: one row per sender and message id, however often it was delivered. `receiving` while
-- its receipt is recorded (`claimed_at` says since when, so a node that stopped meanwhile is
-- taken over), then `delivered`, then `accepted`; `return_at` is when the accepted receipt is
-- next to be returned to the sender (NULL once it was, or before acceptance). With an arrival
-- callback configured, `announce_state` is `pending` (due at `announce_at`) until the case
-- system took the announcement (`delivered`) or the node gave up (`dead`).
CREATE TABLE inbox (
    sender            TEXT    NOT NULL CHECK (length(sender) BETWEEN 1 AND 256),
    message_id        TEXT    NOT NULL CHECK (length(message_id) BETWEEN 1 AND 256),
    unit              TEXT             CHECK (length(unit) BETWEEN 1 AND 256),
    kind              TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 256),
    envelope          TEXT    NOT NULL CHECK (envelope::jsonb IS NOT NULL),
    sealed            BYTEA   NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('receiving', 'delivered', 'accepted')),
    claimed_at        BIGINT  NOT NULL,
    received_at       BIGINT  NOT NULL,
    delivered_receipt TEXT             CHECK (delivered_receipt IS NULL OR delivered_receipt::jsonb IS NOT NULL),
    accepted_receipt  TEXT             CHECK (accepted_receipt IS NULL OR accepted_receipt::jsonb IS NOT NULL),
    accepted_by       TEXT             CHECK (length(accepted_by) BETWEEN 1 AND 256),
    return_at         BIGINT,
    announce_state    TEXT             CHECK (announce_state IN ('pending', 'delivered', 'dead')),
    announce_at       BIGINT,
    announce_attempts BIGINT  NOT NULL DEFAULT 0 CHECK (announce_attempts >= 0),
    announce_error    TEXT             CHECK (length(announce_error) BETWEEN 1 AND 512),
    rowid             BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    PRIMARY KEY (sender, message_id),
    CHECK (state = 'receiving' OR delivered_receipt IS NOT NULL),
    CHECK ((state = 'accepted') = (accepted_receipt IS NOT NULL)),
    CHECK (return_at IS NULL OR state = 'accepted'),
    CHECK ((announce_state IS NOT DISTINCT FROM 'pending') = (announce_at IS NOT NULL))
);

CREATE INDEX inbox_by_unit ON inbox (unit, received_at);
CREATE INDEX inbox_by_received ON inbox (received_at);
CREATE INDEX inbox_returns ON inbox (return_at) WHERE return_at IS NOT NULL;
CREATE INDEX inbox_announcements ON inbox (announce_at) WHERE announce_at IS NOT NULL;
