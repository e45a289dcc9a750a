//! argon2id computed in memory the caller keeps: each hashing thread owns one [`Memory`] and
//! uses it for every computation it runs.
//!
//! argon2 asks for its 19 MiB afresh each time otherwise, and glibc's allocator keeps much of what
//! is given back — after the first free it serves such sizes from the heap rather than mapping
//! them, and the heap does not shrink under live small allocations. Measured
//! (`benches/sign_in_flood.rs`): five sign-ins one after another on one thread grew the process
//! by 78 MiB, and 48 at a cap of two by 210 MiB. With the memory kept per thread, argon2 takes
//! 19 MiB once per hashing thread and never again.
//!
//! The PHC strings are the crate's own format (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`); the
//! tests check both directions against the `argon2` crate's own hasher and verifier.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The blocks one argon2 computation works in, kept between computations.
#[derive(Default)]
pub(crate) struct Memory(Vec<Block>);

impl Memory {
    /// The first `count` blocks, grown to that once.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.0.capacity() * Block::SIZE
    }
}

/// Hashes `password` with argon2id (the crate's defaults: 19 MiB, two passes, one lane — the
/// OWASP recommendation) and a fresh random salt, as a PHC string.
pub(crate) fn hash(memory: &mut Memory, password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(|e| e.to_string())?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            raw_salt,
            &mut out,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed with the algorithm, version and
/// parameters `phc` names. A string that is not one matches nothing.
pub(crate) fn verify(memory: &mut Memory, password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(hash.algorithm),
        hash.version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&hash),
    ) else {
        return false;
    };
    let mut raw_salt = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut raw_salt) else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let blocks = memory.blocks(params.block_count());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, out, blocks)
        .is_ok()
        // `Output` compares in constant time.
        && Output::new(out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_the_argon2_crate_verifies_and_verifies_the_hashes_it_makes() {
        let mut memory = Memory::default();
        let ours = hash(&mut memory, "correct horse battery").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"correct horse batterY", &parsed)
            .is_err());

        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify(&mut memory, "correct horse battery", &theirs));
        assert!(!verify(&mut memory, "correct horse batter", &theirs));
        assert!(!verify(&mut memory, "", &theirs));
    }

    #[test]
    fn other_parameters_are_read_from_the_hash() {
        let mut memory = Memory::default();
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        for (algorithm, m, t, p, len) in [
            (Algorithm::Argon2id, 8 * 1024, 3, 2, 32),
            (Algorithm::Argon2i, 4096, 1, 1, 16),
            (Algorithm::Argon2d, 4096, 2, 4, 64),
        ] {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            let phc = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(verify(&mut memory, "pw", &phc), "{phc}");
            assert!(!verify(&mut memory, "pW", &phc), "{phc}");
        }
    }

    #[test]
    fn one_memory_serves_every_computation() {
        let mut memory = Memory::default();
        let phc = hash(&mut memory, "correct horse battery").unwrap();
        let kept = memory.bytes();
        assert_eq!(kept, 19 * 1024 * 1024);
        for _ in 0..3 {
            assert!(verify(&mut memory, "correct horse battery", &phc));
            assert!(!verify(&mut memory, "wrong", &phc));
        }
        assert_eq!(memory.bytes(), kept, "no new memory");
    }

    #[test]
    fn what_is_not_a_hash_matches_nothing() {
        let mut memory = Memory::default();
        for phc in [
            "",
            "not a phc string",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(!verify(&mut memory, "anything", phc), "{phc}");
        }
        assert_eq!(memory.bytes(), 0, "nothing computed");
    }
}
