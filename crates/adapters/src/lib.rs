//! Register adapters behind provider offerings.
//!
//! A provider node backs an offering with one of three kinds of register: the built-in SQLite
//! register (`utbyte_store::RegisterStore`), the authority's own REST backend, or tables and views
//! in the authority's own PostgreSQL database. This crate owns the last two — the REST backend on
//! both sides of the wire:
//!
//! - [`HttpRegister`] — a [`Register`](utbyte_store::Register) that asks the authority's backend
//!   over HTTP/1.1 (`https://` to the agency's CA), with a timeout on every call, a cap on every
//!   answer, and a check that the backend returned no field that was not requested.
//! - [`PgTableRegister`] — a [`Register`](utbyte_store::Register) that reads an offering's fields
//!   straight from a table or view of the authority's PostgreSQL database, through a
//!   [`PgMapping`] from field ids to columns: read-only, selecting only the columns of the
//!   requested fields, with the mapping checked against the catalog when it connects
//!   (`docs/register-postgres.md`).
//! - [`AgencyClient`] — the one plain HTTP client of a node towards its own authority's services
//!   (register backends, case systems' callbacks): rustls with ring, trusting only the agency CA
//!   bundle ([`AgencyTrust`]), no proxy from the environment, no redirects.
//! - [`backend`] — the reference backend: the same contract served over any `Register`, for
//!   tests, for the load benchmark and as a template for authorities.
//!
//! The REST contract itself is `docs/register-backend.md`; what both sides must agree on in code
//! (the paths, how ids are encoded in them, the limits) is in one private module, `contract`.
//!
//! Subject identifiers and register values are personal data: no error, log line or `Debug`
//! output of this crate contains them, and the adapters never quote what a backend said in an
//! error body, because that text is outside utbyte's control.

pub mod backend;
mod client;
mod contract;
mod error;
mod http_register;
mod pg_register;

pub use client::{describe, AgencyClient, AgencyTrust};
pub use contract::{MAX_FIELDS, MAX_RESPONSE_BYTES};
pub use error::AdapterError;
pub use http_register::HttpRegister;
pub use pg_register::{PgMapping, PgOffering, PgProtected, PgTableRegister};
