-- Recovery of exchanges in flight (a node that crashed between sending a request and recording
-- its answer drives it to an end when it starts again).
--
-- outgoing gains the state `failed`, with the problem (RFC 9457, as JSON) the exchange ended
-- with, for the case system to read. SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt; `callbacks` refers to it and is rebuilt with it, in the order that keeps
-- every foreign key satisfied inside this one transaction (the child is copied against the new
-- parent, the old child dropped before the old parent, then both renamed, which rewrites the
-- reference).
CREATE TABLE outgoing_new (
    key                TEXT    NOT NULL PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 256),
    request_hash       TEXT    NOT NULL CHECK (length(request_hash) BETWEEN 1 AND 256),
    request_id         TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    provider           TEXT    NOT NULL CHECK (length(provider) BETWEEN 1 AND 256),
    officer            TEXT             CHECK (length(officer) BETWEEN 1 AND 256),
    request_json       TEXT    NOT NULL CHECK (json_valid(request_json)),
    callback           TEXT             CHECK (length(callback) BETWEEN 1 AND 2048),
    state              TEXT    NOT NULL
                               CHECK (state IN ('in_flight', 'answered', 'in_review', 'failed')),
    answer_json        TEXT             CHECK (json_valid(answer_json)),
    ticket             TEXT             CHECK (length(ticket) BETWEEN 1 AND 256),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    callback_delivered INTEGER NOT NULL DEFAULT 0 CHECK (callback_delivered IN (0, 1)),
    failure_json       TEXT             CHECK (json_valid(failure_json)),
    CHECK (state <> 'answered' OR answer_json IS NOT NULL),
    CHECK (state <> 'in_review' OR ticket IS NOT NULL),
    CHECK ((state = 'failed') = (failure_json IS NOT NULL)),
    CHECK (callback_delivered = 0 OR (state = 'answered' AND callback IS NOT NULL))
) STRICT;

INSERT INTO outgoing_new (key, request_hash, request_id, provider, officer, request_json, callback,
                          state, answer_json, ticket, created_at, updated_at, callback_delivered)
SELECT key, request_hash, request_id, provider, officer, request_json, callback,
       state, answer_json, ticket, created_at, updated_at, callback_delivered
  FROM outgoing;

CREATE TABLE callbacks_new (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    key             TEXT    NOT NULL UNIQUE REFERENCES outgoing_new (key),
    url             TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER,
    last_error      TEXT             CHECK (length(last_error) BETWEEN 1 AND 512),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
) STRICT;

INSERT INTO callbacks_new SELECT id, key, url, state, attempts, next_attempt_at, last_error,
                                 created_at, updated_at
                            FROM callbacks;

DROP TABLE callbacks;
DROP TABLE outgoing;
ALTER TABLE outgoing_new RENAME TO outgoing;
ALTER TABLE callbacks_new RENAME TO callbacks;

CREATE INDEX outgoing_by_created ON outgoing (created_at);
CREATE INDEX outgoing_by_officer ON outgoing (officer, created_at) WHERE officer IS NOT NULL;
CREATE INDEX outgoing_in_review ON outgoing (created_at) WHERE state = 'in_review';
-- Recovery takes the requests left in flight, oldest first.
CREATE INDEX outgoing_in_flight ON outgoing (created_at) WHERE state = 'in_flight';
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_by_state ON callbacks (state, created_at);

-- seen_requests, the provider's replay guard, also keeps what it answered: SHA-256 (hex) of the
-- request (without its `sent_at`), whether the answer was final or a ticket for review, and the
-- signed answer (a JWS, as JSON). A request with a known id and the same hash is answered from
-- here, again, without a new decision or ledger entry; another body with that id is a replay.
-- The three are set together, once the answer is signed; an id claimed but never answered (the
-- node stopped in between) has none of them.
ALTER TABLE seen_requests ADD COLUMN request_hash TEXT
    CHECK (length(request_hash) BETWEEN 1 AND 256);
ALTER TABLE seen_requests ADD COLUMN answer_status TEXT
    CHECK (answer_status IN ('answered', 'review'));
ALTER TABLE seen_requests ADD COLUMN answer_json TEXT CHECK (json_valid(answer_json));
