//! Canonical audit records.
