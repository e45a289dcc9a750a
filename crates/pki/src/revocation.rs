//! The revoked node certificates, by fingerprint, shared between a node's TLS verifiers and
//! whatever applies new federation configurations.
//!
//! The set lives behind one `Arc<RwLock<…>>`: every clone of a [`Revocations`] is the same set,
//! so a node hands one clone to its TLS configurations and keeps another to replace the
//! contents when a newly signed federation configuration arrives. The next handshake sees the
//! new set; no restart, no new TLS configuration. Connections established before a revocation
//! are not torn down here: that is the node's job when it applies the configuration.

use crate::fingerprint::Fingerprint;
use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A runtime-updatable set of revoked certificate fingerprints. Clones share the set.
#[derive(Clone, Debug, Default)]
pub struct Revocations {
    revoked: Arc<RwLock<HashSet<Fingerprint>>>,
}

impl Revocations {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `fingerprints`.
    pub fn from_fingerprints(fingerprints: impl IntoIterator<Item = Fingerprint>) -> Self {
        let revocations = Self::new();
        revocations.replace(fingerprints);
        revocations
    }

    /// Replaces the whole set, as applying a new federation configuration does. Atomic: a
    /// handshake sees either the old set or the new one.
    pub fn replace(&self, fingerprints: impl IntoIterator<Item = Fingerprint>) {
        let new: HashSet<Fingerprint> = fingerprints.into_iter().collect();
        *self.write() = new;
    }

    /// Adds one fingerprint; returns whether it was new.
    pub fn revoke(&self, fingerprint: Fingerprint) -> bool {
        self.write().insert(fingerprint)
    }

    /// Whether `fingerprint` is revoked.
    pub fn is_revoked(&self, fingerprint: &Fingerprint) -> bool {
        self.read().contains(fingerprint)
    }

    /// How many certificates are revoked.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no certificate is revoked.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    // A panic while holding the lock cannot leave the set half-updated (`replace` assigns a
    // finished set, `revoke` inserts one element), so a poisoned lock still guards a whole set
    // and is safe to use. Refusing to read it would instead turn a panic elsewhere into
    // accepting no peer at all, or worse, into skipping the revocation check.
    fn read(&self) -> RwLockReadGuard<'_, HashSet<Fingerprint>> {
        self.revoked.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashSet<Fingerprint>> {
        self.revoked.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_set_and_replace_is_whole() {
        let a = Fingerprint::of_der(b"a");
        let b = Fingerprint::of_der(b"b");
        let node = Revocations::from_fingerprints([a]);
        let verifier = node.clone();
        assert!(verifier.is_revoked(&a));
        assert!(node.revoke(b));
        assert!(!node.revoke(b));
        assert!(verifier.is_revoked(&b));
        node.replace([b]);
        assert!(!verifier.is_revoked(&a));
        assert_eq!(verifier.len(), 1);
        node.replace([]);
        assert!(verifier.is_empty());
    }
}
