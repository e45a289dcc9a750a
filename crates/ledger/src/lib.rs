//! Tamper-evident audit ledger.
