//! The rulebook: secrecy-breaking provisions as Cedar policies, deciding each requested field.
//!
//! A [`Rulebook`] is a directory of data and Cedar policies ([`rulebook`] describes the layout)
//! validated against the exchange schema. [`Rulebook::decide`] gives every requested field one of
//! three [`Outcome`]s — disclose, review, refuse — with the policies and statutory citations that
//! determined it and the hash of the rulebook version. Pre-assessments (förhandsbedömningar) are
//! data compiled into policies. [`Rulebook::decide_notice`] decides an own-initiative notice
//! ([`Notice`]) at its sender the same way. Only the law in force on an exchange's Swedish day
//! takes part, and a request needs the asker's competence. Scenario files test a rulebook;
//! [`analyze`] finds rules that can never apply, overlapping or contradicted pre-assessments,
//! and any way to auto-disclose information about a subject with protected identity.
//!
//! This crate knows nothing of HTTP or storage.

pub mod analyze;
pub mod competence;
mod containment;
mod dates;
mod decide;
pub mod decision;
pub mod diff;
mod entities;
pub mod explain;
mod footprint;
mod index;
pub mod notice;
pub mod paths;
pub mod policy;
pub mod preassessment;
mod reach;
pub mod request;
pub mod rulebook;
pub mod scenario;
pub mod source;
pub mod vocabulary;

pub use decision::{Cited, Decision, FieldDecision, Ground, Outcome};
pub use notice::Notice;
pub use paths::{DisclosurePath, RequestOption};
pub use policy::{Citation, Class};
pub use preassessment::PreAssessment;
pub use request::{subject_kind, subject_on, DisclosureRequest, RequestError, Subject, VouchedBy};
pub use rulebook::Rulebook;
pub use source::{LoadError, Problem};
