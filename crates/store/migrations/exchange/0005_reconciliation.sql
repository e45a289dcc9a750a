-- Reconciliation of this node's receipts with what its providers recorded. Per provider (peer):
-- how far into the provider's ledger every entry addressed to this node is settled (received,
-- or recorded on both sides as never delivered), the provider's ledger size at the last round,
-- running counts, the entries still pending, and the last round's error, if it failed.
CREATE TABLE reconciliation (
    peer          TEXT    NOT NULL PRIMARY KEY CHECK (length(peer) BETWEEN 1 AND 256),
    settled_to    INTEGER NOT NULL CHECK (settled_to >= 0),
    provider_size INTEGER NOT NULL CHECK (provider_size >= 0),
    matched       INTEGER NOT NULL CHECK (matched >= 0),
    undelivered   INTEGER NOT NULL CHECK (undelivered >= 0),
    pending       INTEGER NOT NULL CHECK (pending >= 0),
    checked_at    INTEGER NOT NULL,
    error         TEXT             CHECK (length(error) BETWEEN 1 AND 512)
) STRICT;

-- What reconciliation cannot close: a receipt whose digest differs from the provider's record,
-- or a receipt naming an entry the provider did not record for this node. Kept for auditors.
CREATE TABLE reconciliation_findings (
    peer           TEXT    NOT NULL CHECK (length(peer) BETWEEN 1 AND 256),
    provider_index INTEGER NOT NULL CHECK (provider_index >= 0),
    kind           TEXT    NOT NULL CHECK (kind IN ('digest_mismatch', 'unknown_entry')),
    found_at       INTEGER NOT NULL,
    PRIMARY KEY (peer, provider_index, kind)
) STRICT;

-- Whether a request to a provider is still open (in flight or in review) since a given time.
CREATE INDEX outgoing_open_by_provider ON outgoing (provider, state, created_at)
    WHERE state IN ('in_flight', 'in_review');
