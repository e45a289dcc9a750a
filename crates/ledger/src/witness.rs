//! A witness: another node that cosigns a log's checkpoints only if each is consistent with the
//! last one it cosigned. With witnesses, a log cannot show one history to one auditor and a
//! different one to another: the second history would need a cosignature no honest witness gives.

use crate::checkpoint::{cosign, open_checkpoint, Checkpoint, CheckpointError};
use crate::hash::Hash;
use crate::note::{NoteSignature, SignerKey, VerifierKey};
use crate::proof::{ConsistencyProof, ProofError};

/// Why a witness refused to cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "checkpoint size {offered} is smaller than {seen}, which this witness already cosigned"
    )]
    Rollback { seen: u64, offered: u64 },
    #[error("the consistency proof is for sizes {proof_old}→{proof_new}, not {seen}→{offered}")]
    ProofForOtherSizes {
        proof_old: u64,
        proof_new: u64,
        seen: u64,
        offered: u64,
    },
    #[error(
        "checkpoint is not consistent with the one this witness cosigned at size {seen}: {source}"
    )]
    Inconsistent { seen: u64, source: ProofError },
}

/// A witness for one log: its own cosigning key, the log's key, and the latest tree it cosigned.
#[derive(Debug)]
pub struct Witness {
    key: SignerKey,
    log: VerifierKey,
    latest: Option<(u64, Hash)>,
}

impl Witness {
    /// A witness that has not yet seen the log.
    pub fn new(key: SignerKey, log: VerifierKey) -> Self {
        Witness {
            key,
            log,
            latest: None,
        }
    }

    /// The latest size and root this witness has cosigned, to persist between runs.
    pub fn latest(&self) -> Option<(u64, Hash)> {
        self.latest
    }

    /// Resumes a witness that has already cosigned the tree `(size, root)`.
    pub fn resume(key: SignerKey, log: VerifierKey, size: u64, root: Hash) -> Self {
        Witness {
            key,
            log,
            latest: Some((size, root)),
        }
    }

    /// Verifies the log's signature on `checkpoint_text`, checks that it extends the last
    /// cosigned tree using `proof`, and returns the cosignature line to add to the note.
    pub fn cosign(
        &mut self,
        checkpoint_text: &str,
        proof: &ConsistencyProof,
        timestamp: u64,
    ) -> Result<NoteSignature, WitnessError> {
        let (checkpoint, note) = open_checkpoint(checkpoint_text, &self.log)?;
        self.check_extends(&checkpoint, proof)?;
        let signature = cosign(&note, &self.key, timestamp)?;
        self.latest = Some((checkpoint.size, checkpoint.root));
        Ok(signature)
    }

    fn check_extends(
        &self,
        checkpoint: &Checkpoint,
        proof: &ConsistencyProof,
    ) -> Result<(), WitnessError> {
        let Some((seen, seen_root)) = self.latest else {
            return Ok(());
        };
        let offered = checkpoint.size;
        if offered < seen {
            return Err(WitnessError::Rollback { seen, offered });
        }
        if proof.old_size != seen || proof.new_size != offered {
            return Err(WitnessError::ProofForOtherSizes {
                proof_old: proof.old_size,
                proof_new: proof.new_size,
                seen,
                offered,
            });
        }
        proof
            .verify(&seen_root, &checkpoint.root)
            .map_err(|source| WitnessError::Inconsistent { seen, source })
    }
}
