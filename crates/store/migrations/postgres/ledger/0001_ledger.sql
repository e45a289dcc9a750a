-- The audit ledger's log in PostgreSQL, shared by every instance of one authority's node: the
-- entries in order, and the commits that made them part of the log. The Merkle tree, its tiles
-- and signed checkpoints are derived from these entries by each instance, as a ledger on a file
-- derives them from its log.
--
-- queue: entries any instance appended, durable, waiting for the sequencer to give them their
-- place. Taken (deleted) in the transaction that sequences them.
CREATE TABLE queue (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry     BYTEA  NOT NULL CHECK (length(entry) BETWEEN 1 AND 1048576),
    queued_at BIGINT NOT NULL
);

-- entries: the log. `idx` is dense from 0; `queue_id` tells an appender where its entry went;
-- `epoch` is the lease under which it was sequenced.
CREATE TABLE entries (
    idx      BIGINT PRIMARY KEY CHECK (idx >= 0),
    entry    BYTEA  NOT NULL,
    queue_id BIGINT NOT NULL UNIQUE,
    epoch    BIGINT NOT NULL CHECK (epoch > 0)
);

-- The log's size and the sequencer lease's epoch: one row. A sequencer that took the lease at
-- an older epoch can no longer commit (fencing).
CREATE TABLE state (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    size      BIGINT  NOT NULL CHECK (size >= 0),
    epoch     BIGINT  NOT NULL CHECK (epoch >= 0)
);

INSERT INTO state (singleton, size, epoch) VALUES (TRUE, 0, 0);

-- One row per sequenced batch: the log's size after it, under which lease, and when.
CREATE TABLE commits (
    size         BIGINT PRIMARY KEY CHECK (size > 0),
    epoch        BIGINT NOT NULL CHECK (epoch > 0),
    committed_at BIGINT NOT NULL
);
