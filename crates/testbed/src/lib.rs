//! The test bed: a whole federation on one machine, for `utbyte demo`, the end-to-end tests
//! (in `tests/`) and the load benchmark (`node-bench`). Nothing here runs in a real
//! deployment, where the CA, the directory and every node are started from their own
//! configuration files.

pub mod access;
pub mod loopback;
pub mod options;
