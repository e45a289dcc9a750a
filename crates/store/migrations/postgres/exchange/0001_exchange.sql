-- The exchange state of one agency node in PostgreSQL, shared by every instance of the node: the
-- schema of the SQLite exchange database (migrations/exchange/) as it stands after its
-- migration 0005. Times are whole unix seconds (UTC). `rowid` is the insertion order, which
-- breaks ties between rows of the same second (SQLite's own rowid there).

CREATE TABLE outgoing (
    key                TEXT    NOT NULL PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 256),
    request_hash       TEXT    NOT NULL CHECK (length(request_hash) BETWEEN 1 AND 256),
    request_id         TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    provider           TEXT    NOT NULL CHECK (length(provider) BETWEEN 1 AND 256),
    officer            TEXT             CHECK (length(officer) BETWEEN 1 AND 256),
    request_json       TEXT    NOT NULL CHECK (request_json::jsonb IS NOT NULL),
    callback           TEXT             CHECK (length(callback) BETWEEN 1 AND 2048),
    state              TEXT    NOT NULL
                               CHECK (state IN ('in_flight', 'answered', 'in_review', 'failed')),
    answer_json        TEXT             CHECK (answer_json IS NULL OR answer_json::jsonb IS NOT NULL),
    ticket             TEXT             CHECK (length(ticket) BETWEEN 1 AND 256),
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    callback_delivered BOOLEAN NOT NULL DEFAULT FALSE,
    failure_json       TEXT             CHECK (failure_json IS NULL OR failure_json::jsonb IS NOT NULL),
    -- The local API client that made the request.
    client             TEXT,
    rowid              BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    CHECK (state <> 'answered' OR answer_json IS NOT NULL),
    CHECK (state <> 'in_review' OR ticket IS NOT NULL),
    CHECK ((state = 'failed') = (failure_json IS NOT NULL)),
    CHECK (NOT callback_delivered OR (state = 'answered' AND callback IS NOT NULL))
);

CREATE INDEX outgoing_by_created ON outgoing (created_at);
CREATE INDEX outgoing_by_officer ON outgoing (officer, created_at) WHERE officer IS NOT NULL;
CREATE INDEX outgoing_by_client ON outgoing (client, created_at);
CREATE INDEX outgoing_in_review ON outgoing (created_at) WHERE state = 'in_review';
CREATE INDEX outgoing_in_flight ON outgoing (created_at) WHERE state = 'in_flight';
CREATE INDEX outgoing_open_by_provider ON outgoing (provider, state, created_at)
    WHERE state IN ('in_flight', 'in_review');

-- The provider side's replay guard, with the answer kept for each claimed id once signed.
CREATE TABLE seen_requests (
    peer          TEXT   NOT NULL CHECK (length(peer) BETWEEN 1 AND 256),
    request_id    TEXT   NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    seen_at       BIGINT NOT NULL,
    request_hash  TEXT            CHECK (length(request_hash) BETWEEN 1 AND 256),
    answer_status TEXT            CHECK (answer_status IN ('answered', 'review')),
    answer_json   TEXT            CHECK (answer_json IS NULL OR answer_json::jsonb IS NOT NULL),
    PRIMARY KEY (peer, request_id)
);

CREATE INDEX seen_requests_by_age ON seen_requests (seen_at);

-- The provider side's review queue.
CREATE TABLE reviews (
    ticket               TEXT   NOT NULL PRIMARY KEY CHECK (length(ticket) BETWEEN 1 AND 256),
    requester            TEXT   NOT NULL CHECK (length(requester) BETWEEN 1 AND 256),
    request_id           TEXT   NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    request_json         TEXT   NOT NULL CHECK (request_json::jsonb IS NOT NULL),
    decision_json        TEXT   NOT NULL CHECK (decision_json::jsonb IS NOT NULL),
    ledger_index         BIGINT NOT NULL CHECK (ledger_index >= 0),
    created_at           BIGINT NOT NULL,
    state                TEXT   NOT NULL CHECK (state IN ('pending', 'decided')),
    reviewer             TEXT            CHECK (length(reviewer) BETWEEN 1 AND 256),
    review_json          TEXT            CHECK (review_json IS NULL OR review_json::jsonb IS NOT NULL),
    answer_json          TEXT            CHECK (answer_json IS NULL OR answer_json::jsonb IS NOT NULL),
    decided_ledger_index BIGINT          CHECK (decided_ledger_index >= 0),
    decided_at           BIGINT,
    rowid                BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    CHECK ((state = 'pending') = (reviewer IS NULL AND review_json IS NULL AND answer_json IS NULL
                                  AND decided_ledger_index IS NULL AND decided_at IS NULL)),
    CHECK ((state = 'decided') = (reviewer IS NOT NULL AND review_json IS NOT NULL
                                  AND answer_json IS NOT NULL
                                  AND decided_ledger_index IS NOT NULL
                                  AND decided_at IS NOT NULL))
);

CREATE INDEX reviews_pending ON reviews (created_at, rowid) WHERE state = 'pending';
CREATE INDEX reviews_decided ON reviews (decided_at, rowid) WHERE state = 'decided';

-- The delivery schedule of the notices a node sends to its case systems.
CREATE TABLE callbacks (
    id              TEXT   NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    key             TEXT   NOT NULL UNIQUE REFERENCES outgoing (key),
    url             TEXT   NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    state           TEXT   NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT,
    last_error      TEXT            CHECK (length(last_error) BETWEEN 1 AND 512),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);

CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_by_state ON callbacks (state, created_at);

-- Reconciliation of this node's receipts with what its providers recorded.
CREATE TABLE reconciliation (
    peer          TEXT   NOT NULL PRIMARY KEY CHECK (length(peer) BETWEEN 1 AND 256),
    settled_to    BIGINT NOT NULL CHECK (settled_to >= 0),
    provider_size BIGINT NOT NULL CHECK (provider_size >= 0),
    matched       BIGINT NOT NULL CHECK (matched >= 0),
    undelivered   BIGINT NOT NULL CHECK (undelivered >= 0),
    pending       BIGINT NOT NULL CHECK (pending >= 0),
    checked_at    BIGINT NOT NULL,
    error         TEXT            CHECK (length(error) BETWEEN 1 AND 512)
);

CREATE TABLE reconciliation_findings (
    peer           TEXT   NOT NULL CHECK (length(peer) BETWEEN 1 AND 256),
    provider_index BIGINT NOT NULL CHECK (provider_index >= 0),
    kind           TEXT   NOT NULL CHECK (kind IN ('digest_mismatch', 'unknown_entry')),
    found_at       BIGINT NOT NULL,
    rowid          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    PRIMARY KEY (peer, provider_index, kind)
);
