//! Types, hashing and the keccak binary sparse Merkle tree shared by every loft crate.
//!
//! `no_std` + `alloc` without its default feature `std` (which brings threads for hashing
//! large batches and assembly keccak): the tree a fault proof recomputes is this one.
//!
//! Ethereum types are re-exported from `alloy-primitives` so that every crate speaks
//! the same `Address`, `B256` and `U256`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

pub mod smt;
