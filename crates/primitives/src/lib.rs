//! Types, hashing and the keccak binary sparse Merkle tree shared by every loft crate.
//!
//! Ethereum types are re-exported from `alloy-primitives` so that every crate speaks
//! the same `Address`, `B256` and `U256`.

pub use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

pub mod smt;
