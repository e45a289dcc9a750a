//! The generic register in PostgreSQL: the same layout and the same SQL as the built-in SQLite
//! register (`crate::sql::register`), for a node that keeps everything in one database.

use sqlx::PgPool;

use super::{open_register, Postgres};
use crate::StoreError;

/// A register in PostgreSQL, in the generic layout (one row per offering, subject and field).
///
/// Cheap to clone (the clones share one connection pool).
#[derive(Clone)]
pub struct PgRegister {
    pub(crate) pool: PgPool,
}

impl PgRegister {
    /// Connects to the register in the schema `<prefix>_register`, creating it and applying any
    /// migration not yet applied.
    pub async fn connect(postgres: &Postgres) -> Result<Self, StoreError> {
        Ok(Self {
            pool: open_register(postgres).await?,
        })
    }

    /// The version of the newest schema migration applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        super::schema_version(&self.pool, crate::error::REGISTER).await
    }
}
