//! The preimage oracle as the machine's host sees it: keys, their types, and where the
//! preimages come from (docs/fault-proofs.md, "Syscalls").

use std::collections::HashMap;

use alloy_primitives::B256;

pub use loft_fault_guest::keys::{BLOB_KEY, KECCAK_KEY, LOCAL_KEY, keccak_key, local_key};

/// Why the host could not answer the machine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OracleError {
    /// No preimage is known for the key.
    #[error("no preimage for key {0}")]
    Missing(B256),
    /// A keccak preimage that does not hash to its key.
    #[error("the preimage given for {key} hashes to {hashed}")]
    WrongPreimage {
        /// The key asked for.
        key: B256,
        /// The key the bytes given hash to.
        hashed: B256,
    },
}

/// Where the machine's preimages come from: a node's store and L1, a file, a map in a test.
pub trait PreimageSource {
    /// The preimage of `key`.
    fn get(&mut self, key: B256) -> Result<Vec<u8>, OracleError>;
    /// A hint the program wrote (fd 4): what it is about to ask for, so that the host can
    /// fetch it first. Hosts that have everything ignore it.
    fn hint(&mut self, _hint: &[u8]) {}
}

/// Checks a preimage against its key where the key says how (keccak keys): a host must
/// never hand the machine bytes that do not match, and neither will the L1 oracle.
pub fn check(key: B256, preimage: &[u8]) -> Result<(), OracleError> {
    if key[0] == KECCAK_KEY {
        let hashed = keccak_key(preimage);
        if hashed != key {
            return Err(OracleError::WrongPreimage { key, hashed });
        }
    }
    Ok(())
}

/// Preimages held in memory: what tests and a replayed dispute use.
#[derive(Clone, Debug, Default)]
pub struct MapOracle {
    preimages: HashMap<B256, Vec<u8>>,
    /// Hints the program wrote, in order.
    pub hints: Vec<Vec<u8>>,
}

impl MapOracle {
    /// An empty oracle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a keccak-256 preimage; returns its key.
    pub fn insert_keccak(&mut self, preimage: Vec<u8>) -> B256 {
        let key = keccak_key(&preimage);
        self.preimages.insert(key, preimage);
        key
    }

    /// Adds a preimage under `key`, checked as [`check`] does.
    pub fn insert(&mut self, key: B256, preimage: Vec<u8>) -> Result<(), OracleError> {
        check(key, &preimage)?;
        self.preimages.insert(key, preimage);
        Ok(())
    }
}

impl PreimageSource for MapOracle {
    fn get(&mut self, key: B256) -> Result<Vec<u8>, OracleError> {
        self.preimages.get(&key).cloned().ok_or(OracleError::Missing(key))
    }

    fn hint(&mut self, hint: &[u8]) {
        self.hints.push(hint.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preimage_that_does_not_hash_to_its_key_is_refused() {
        let mut o = MapOracle::new();
        let key = o.insert_keccak(b"hello".to_vec());
        assert_eq!(key[0], KECCAK_KEY);
        assert_eq!(o.get(key), Ok(b"hello".to_vec()));
        assert!(matches!(o.insert(key, b"hellO".to_vec()), Err(OracleError::WrongPreimage { .. })));
        assert_eq!(o.get(keccak_key(b"other")), Err(OracleError::Missing(keccak_key(b"other"))));
        // local keys hold whatever the dispute says
        o.insert(local_key(1), vec![7; 32]).expect("local data");
    }
}
