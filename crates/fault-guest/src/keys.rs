//! Preimage keys (docs/fault-proofs.md): what the program writes and what its host, the VM
//! (`loft_fault_vm::oracle` re-exports these), answers.

use alloy_primitives::{B256, keccak256};

/// Key type of a dispute's local boot data.
pub const LOCAL_KEY: u8 = 1;
/// Key type of a keccak-256 preimage.
pub const KECCAK_KEY: u8 = 2;
/// Key type of a blob's field element.
pub const BLOB_KEY: u8 = 5;

/// The key of local boot datum `index`.
pub fn local_key(index: u64) -> B256 {
    let mut k = B256::ZERO;
    k.0[0] = LOCAL_KEY;
    k.0[24..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The key of `preimage` as a keccak-256 preimage: its hash, first byte replaced by 2.
pub fn keccak_key(preimage: &[u8]) -> B256 {
    let mut k = keccak256(preimage);
    k.0[0] = KECCAK_KEY;
    k
}
