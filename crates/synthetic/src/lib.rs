//! Deterministic synthetic registers for the demo.
//!
//! One [`Population`] (a seed and a number of persons) describes one synthetic Sweden: persons
//! with valid personnummer or samordningsnummer (about 2 % with protected identity), living in
//! households at addresses in Stockholm, Göteborg, Malmö and Umeå; aktiebolag with valid
//! organisationsnummer and boards drawn from the persons; and what each authority knows of them
//! (salaries and employers, benefits, pensions and payments, debts, economic assistance in Malmö,
//! a few police suspicions). Each authority's node holds only its own offerings, so the demo
//! calls [`populate`] once per provider with that provider's offerings and the same population:
//! every register then tells of the same people, consistently.
//!
//! # Determinism
//!
//! The same population gives byte-identical data (`serde_json` of the [`RegisterBatch`]) in every
//! version of utbyte: randomness comes only from a SplitMix64 stream seeded with the seed and
//! drawn in a fixed order (see `rng`), the world is generated whole before any offering is read
//! off it, and no clock is read — the registers describe the state on 2025-06-30. Changing the
//! word lists or the drawing order changes the data for a seed; that is a deliberate edit.
//!
//! # Coverage
//!
//! Every field of an offering must have a generator ([`GENERATORS`]); a field without one fails
//! [`batch`] and [`populate`] with [`SyntheticError::NoGenerator`] before anything is written.

mod calendar;
mod facts;
mod fields;
mod identifiers;
pub mod material;
mod rng;
mod vocabulary;
mod world;

use std::collections::BTreeSet;

use utbyte_domain::IdentifierError;

pub use fields::{has_generator, GENERATORS};

use utbyte_store::{Register, RegisterBatch, StoreError};

/// The synthetic Sweden to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    /// Selects the world; any value is fine.
    pub seed: u64,
    /// How many persons to generate (companies follow: one per 25 persons).
    pub persons: usize,
}

/// One offering to fill and the fields the rulebook gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferingFields {
    /// The offering id, as in the rulebook.
    pub offering: String,
    /// Its field ids, as in the rulebook.
    pub fields: Vec<String>,
}

/// What [`populate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Populated {
    /// Persons and companies the register now holds records about.
    pub subjects: usize,
    /// Values written.
    pub records: usize,
}

/// An error generating synthetic registers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyntheticError {
    /// The rulebook has a field (or a whole offering) the generator cannot fill.
    #[error(
        "no synthetic data generator for field `{field}` of offering `{offering}`; add one in \
         crates/synthetic/src/fields"
    )]
    NoGenerator {
        /// The offering id.
        offering: String,
        /// The field id.
        field: String,
    },
    /// The generator made an identifier the domain refuses: a bug in the generator.
    #[error(
        "the synthetic generator made an identifier the domain refuses (a generator bug): {0}"
    )]
    Identifier(#[from] IdentifierError),
    /// Writing the register failed.
    #[error("cannot write the synthetic register: {0}")]
    Store(#[from] StoreError),
}

/// The register contents of `offerings` for `population`, as one batch: each subject the
/// offerings hold (with its protected-identity flag), then every applicable field of every
/// subject, offering by offering.
pub fn batch(
    offerings: &[OfferingFields],
    population: Population,
) -> Result<RegisterBatch, SyntheticError> {
    for offering in offerings {
        if let Some(field) = offering
            .fields
            .iter()
            .find(|field| !has_generator(&offering.offering, field))
        {
            return Err(SyntheticError::NoGenerator {
                offering: offering.offering.clone(),
                field: field.clone(),
            });
        }
    }
    let world = world::World::generate(population.seed, population.persons)?;
    let mut batch = RegisterBatch::new();
    let mut added = BTreeSet::new();
    let mut records = Vec::new();
    for offering in offerings {
        for subject in fields::subjects(&world, &offering.offering) {
            let id = subject.id();
            if added.insert(id) {
                batch.subject(id, subject.protected_identity());
            }
            for field in &offering.fields {
                if let Some(value) = fields::value(&world, &offering.offering, field, subject) {
                    records.push((offering.offering.as_str(), id, field.as_str(), value));
                }
            }
        }
    }
    for (offering, id, field, value) in records {
        batch.record(offering, id, field, value);
    }
    Ok(batch)
}

/// Fills `register` with `offerings` for `population`, in one transaction.
///
/// Call it once per provider authority, with only that authority's offerings, to give each node
/// its own register of the same synthetic Sweden.
pub async fn populate(
    register: &(impl Register + ?Sized),
    offerings: &[OfferingFields],
    population: Population,
) -> Result<Populated, SyntheticError> {
    let batch = batch(offerings, population)?;
    register.insert(&batch).await?;
    Ok(Populated {
        subjects: batch.subjects().len(),
        records: batch.records().len(),
    })
}
