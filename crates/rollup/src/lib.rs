//! loft's optimistic rollup: an EVM-equivalent L2 whose data lives on L1.
//!
//! This crate holds the rules every node of the rollup applies identically (they are
//! consensus; `docs/rollup.md` is their reference):
//!
//! - [`block`]: attributes to engine blocks, and L2 blocks back to batches;
//! - [`config`]: the rollup's parameters and well-known addresses;
//! - [`deposits`]: turning the L1 portal's `TransactionDeposited` events into L2 deposit
//!   transactions, and the L1-info system deposit that opens every L2 block.
//!
//! The sequencer, batcher, derivation pipeline and proposer build on these.

pub mod block;
pub mod config;
pub mod deposits;
pub mod derive;
pub mod genesis;

pub use config::RollupConfig;
pub use deposits::{DepositError, L1BlockInfo};
