-- received_notices.notice_values: the values a notice carried (a JSON object of field → value),
-- where the provider's pre-assessment lets its notices carry them; '{}' for a thin notice.
ALTER TABLE received_notices ADD COLUMN notice_values TEXT NOT NULL DEFAULT '{}'
    CHECK (json_valid(notice_values));
