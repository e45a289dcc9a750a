-- Who is recording a reviewer's decision now: a review (by ticket) or a notice held for review
-- (by message id), claimed by one decider until `claimed_until`, so that of instances of one node
-- deciding the same thing at once exactly one records a decision. A decider that stops leaves
-- its claim to lapse.
CREATE TABLE decision_claims (
    what          TEXT    NOT NULL CHECK (what IN ('review', 'held')),
    key           TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 256),
    holder        TEXT    NOT NULL CHECK (length(holder) BETWEEN 1 AND 256),
    claimed_until INTEGER NOT NULL,
    PRIMARY KEY (what, key)
);
