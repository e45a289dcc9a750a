-- Listings of one state, newest first: a case system asking for the messages it has not taken
-- yet, an operator for those that failed. Without these, such a listing reads every message
-- ever received or sent.
CREATE INDEX inbox_by_state ON inbox (state, received_at);
CREATE INDEX outbox_by_state ON outbox (state, created_at);
