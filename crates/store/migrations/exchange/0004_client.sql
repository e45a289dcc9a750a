-- The local API client that made a request (`portal`, or a case system's configured id). A
-- request is read back by that client only, and by callers with the audit duty; requests made
-- before the local API authenticated its callers have none and stay readable by every client
-- that may request.
ALTER TABLE outgoing ADD COLUMN client TEXT;

CREATE INDEX outgoing_by_client ON outgoing (client, created_at);
