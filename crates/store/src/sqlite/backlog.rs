//! How much work waits in the exchange state: the levels a node reports as metrics. Counted in
//! SQL, so a scrape costs two index lookups however long the queues grow.

use super::ExchangeStore;
use crate::StoreError;

impl ExchangeStore {
    /// Reviews still waiting for a reviewer.
    pub async fn pending_review_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM reviews WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::exchange("counting pending reviews"))
    }

    /// Answered requests with a callback whose answer has not been delivered yet (what
    /// [`ExchangeStore::undelivered_callbacks`] lists).
    pub async fn undelivered_callback_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM outgoing \
             WHERE state = 'answered' AND callback IS NOT NULL AND callback_delivered = 0",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::exchange("counting undelivered callbacks"))
    }
}
