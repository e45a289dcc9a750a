-- Review batches: requests alike in everything but their subject — the same requester, unit,
-- role, officer, offering, fields, purpose, legal basis, case and operation, subjects of the
-- same kind and protection, the same fields under review — share a `batch` (a digest of what
-- they share), so a reviewer can decide them as one. Reviews queued before this have none.
ALTER TABLE reviews ADD COLUMN batch TEXT CHECK (batch IS NULL OR length(batch) BETWEEN 1 AND 256);

CREATE INDEX reviews_pending_batch ON reviews (batch, created_at) WHERE state = 'pending';
