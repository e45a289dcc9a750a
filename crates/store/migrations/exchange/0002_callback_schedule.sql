-- callbacks: the delivery schedule of the notices a node sends to its case systems, one per
-- answered request that named a callback URL. A notice is `pending` (with the time of its next
-- attempt) until the case system accepts it (`delivered`) or the node gives up on it (`dead`,
-- a dead letter an administrator can replay). `id` is the notice's id on the wire (the
-- `webhook-id` and the CloudEvent `id`), the same for every attempt, so a case system can
-- ignore a repeat. `last_error` says what went wrong the last time, never with personal data.
CREATE TABLE callbacks (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    key             TEXT    NOT NULL UNIQUE REFERENCES outgoing (key),
    url             TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER,
    last_error      TEXT             CHECK (length(last_error) BETWEEN 1 AND 512),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
) STRICT;

-- The delivery loop takes what is due, earliest first; the administrator lists by state,
-- newest first.
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_by_state ON callbacks (state, created_at);

-- Answers waiting for delivery before this migration are due at once; delivered ones are kept
-- as delivered. The id is drawn here because no notice was sent for them yet.
INSERT INTO callbacks (id, key, url, state, attempts, next_attempt_at, created_at, updated_at)
SELECT lower(hex(randomblob(16))), key, callback,
       CASE callback_delivered WHEN 1 THEN 'delivered' ELSE 'pending' END, 0,
       CASE callback_delivered WHEN 1 THEN NULL ELSE updated_at END,
       updated_at, updated_at
  FROM outgoing
 WHERE state = 'answered' AND callback IS NOT NULL;

-- The schedule replaces the old poller's index.
DROP INDEX outgoing_undelivered;
