-- The exchange state of one agency node. Times are whole unix seconds (UTC). Every table keeps
-- SQLite's rowid: it is the insertion order, which breaks ties between rows of the same second.
--
-- outgoing: the consumer side's requests, one per idempotency key. `callback_delivered` only
-- means something for an answered request with a callback.
CREATE TABLE outgoing (
    key                TEXT    NOT NULL PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 256),
    request_hash       TEXT    NOT NULL CHECK (length(request_hash) BETWEEN 1 AND 256),
    request_id         TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    provider           TEXT    NOT NULL CHECK (length(provider) BETWEEN 1 AND 256),
    officer            TEXT             CHECK (length(officer) BETWEEN 1 AND 256),
    request_json       TEXT    NOT NULL CHECK (json_valid(request_json)),
    callback           TEXT             CHECK (length(callback) BETWEEN 1 AND 2048),
    state              TEXT    NOT NULL CHECK (state IN ('in_flight', 'answered', 'in_review')),
    answer_json        TEXT             CHECK (json_valid(answer_json)),
    ticket             TEXT             CHECK (length(ticket) BETWEEN 1 AND 256),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    callback_delivered INTEGER NOT NULL DEFAULT 0 CHECK (callback_delivered IN (0, 1)),
    CHECK (state <> 'answered' OR answer_json IS NOT NULL),
    CHECK (state <> 'in_review' OR ticket IS NOT NULL),
    CHECK (callback_delivered = 0 OR (state = 'answered' AND callback IS NOT NULL))
) STRICT;

-- Listings, newest first: all requests, and one officer's.
CREATE INDEX outgoing_by_created ON outgoing (created_at);
CREATE INDEX outgoing_by_officer ON outgoing (officer, created_at) WHERE officer IS NOT NULL;

-- The pollers: requests in review, and answers still to be delivered. Partial, so each stays as
-- small as the work it points at.
CREATE INDEX outgoing_in_review ON outgoing (created_at) WHERE state = 'in_review';
CREATE INDEX outgoing_undelivered ON outgoing (updated_at)
    WHERE state = 'answered' AND callback IS NOT NULL AND callback_delivered = 0;

-- seen_requests: the provider side's replay guard, the request ids each peer sent recently.
-- Forgetting deletes by age, hence the index on `seen_at`.
CREATE TABLE seen_requests (
    peer       TEXT    NOT NULL CHECK (length(peer) BETWEEN 1 AND 256),
    request_id TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (peer, request_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX seen_requests_by_age ON seen_requests (seen_at);

-- reviews: the provider side's review queue. A review is pending until a reviewer decides it,
-- and the decision's columns are set exactly when it is decided.
CREATE TABLE reviews (
    ticket               TEXT    NOT NULL PRIMARY KEY CHECK (length(ticket) BETWEEN 1 AND 256),
    requester            TEXT    NOT NULL CHECK (length(requester) BETWEEN 1 AND 256),
    request_id           TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    request_json         TEXT    NOT NULL CHECK (json_valid(request_json)),
    decision_json        TEXT    NOT NULL CHECK (json_valid(decision_json)),
    ledger_index         INTEGER NOT NULL CHECK (ledger_index >= 0),
    created_at           INTEGER NOT NULL,
    state                TEXT    NOT NULL CHECK (state IN ('pending', 'decided')),
    reviewer             TEXT             CHECK (length(reviewer) BETWEEN 1 AND 256),
    review_json          TEXT             CHECK (json_valid(review_json)),
    answer_json          TEXT             CHECK (json_valid(answer_json)),
    decided_ledger_index INTEGER          CHECK (decided_ledger_index >= 0),
    decided_at           INTEGER,
    CHECK ((state = 'pending') = (reviewer IS NULL AND review_json IS NULL AND answer_json IS NULL
                                  AND decided_ledger_index IS NULL AND decided_at IS NULL)),
    CHECK ((state = 'decided') = (reviewer IS NOT NULL AND review_json IS NOT NULL
                                  AND answer_json IS NOT NULL
                                  AND decided_ledger_index IS NOT NULL
                                  AND decided_at IS NOT NULL))
) STRICT;

-- The listings: pending oldest first (the queue), decided newest first.
CREATE INDEX reviews_pending ON reviews (created_at) WHERE state = 'pending';
CREATE INDEX reviews_decided ON reviews (decided_at) WHERE state = 'decided';
