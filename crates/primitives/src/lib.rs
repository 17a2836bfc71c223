//! Types, hashing and the keccak binary sparse Merkle tree shared by every loft crate, and
//! the optimistic rollup's L1 data format ([`batch`]: batches, channels and frames).
//!
//! Ethereum types are re-exported from `alloy-primitives` so that every crate speaks
//! the same `Address`, `B256` and `U256`.

pub use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

pub mod batch;
pub mod smt;
