//! The optimistic rollup's consensus rules: what every node of the rollup applies
//! identically, with no I/O, so that the sequencer, a replica and (next) a fault proof run the
//! same code (`docs/rollup.md` is their reference).
//!
//! - [`config`]: the rollup's parameters and well-known addresses;
//! - [`batch`]: the L1 data format (batches, channels, frames) and the channel bank that
//!   reassembles it;
//! - [`deposits`]: the L1 portal's `TransactionDeposited` events to L2 deposit transactions,
//!   and the L1-info system deposit that opens every L2 block;
//! - [`derive`]: from L1 blocks alone to the attributes of every L2 block.
//!
//! `loft-rollup` (the node: sequencer, batcher, replica, proposer) re-exports these modules.
//!
//! Without its `std` feature (on by default) the crate is `no_std` + `alloc`: everything but
//! the batcher's compressors builds for a bare RISC-V target, for the fault-proof program.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod batch;
pub mod config;
pub mod deposits;
pub mod derive;

pub use config::RollupConfig;
