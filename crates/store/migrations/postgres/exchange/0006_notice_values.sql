-- The values a notice carried (see the SQLite schema's 0010).
ALTER TABLE received_notices ADD COLUMN notice_values TEXT NOT NULL DEFAULT '{}'
    CHECK (notice_values::jsonb IS NOT NULL);
