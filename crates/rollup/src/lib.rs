//! loft's optimistic rollup: an EVM-equivalent L2 whose data lives on L1.
//!
//! This crate holds the rules every node of the rollup applies identically (they are
//! consensus; `docs/rollup.md` is their reference):
//!
//! - [`batch`]: the L1 data format (batches, channels, frames) and the channel bank that
//!   reassembles it;
//! - [`block`]: attributes to engine blocks, and L2 blocks back to batches;
//! - [`config`]: the rollup's parameters and well-known addresses;
//! - [`deposits`]: turning the L1 portal's `TransactionDeposited` events into L2 deposit
//!   transactions, and the L1-info system deposit that opens every L2 block.
//!
//! - [`contracts`]: bindings to the L1 contracts and their deployment;
//! - [`l1_source`]: reading L1 blocks (deposits, batcher data, blobs) over JSON-RPC;
//! - [`sequencer`]: building L2 blocks from the pool at the configured interval;
//! - [`batcher`]: posting L2 blocks to L1 as compressed, framed batches;
//! - [`replica`]: rebuilding the chain from L1 alone (the safe head);
//! - [`proposer`]: output roots posted to L1, withdrawals proven against them;
//! - [`service`]: every role as background tasks (what `loft devnet` runs).
//!
//! The sequencer, batcher, derivation pipeline and proposer build on these.

pub mod backing;
pub mod batch;
pub mod batcher;
pub mod block;
pub mod bridge;
pub mod channel_policy;
pub mod config;
pub mod contracts;
pub mod deposits;
pub mod derive;
pub mod genesis;
pub mod l1_source;
pub mod proposer;
pub mod replica;
pub mod sequencer;
pub mod service;

pub use config::RollupConfig;
pub use deposits::{DepositError, L1BlockInfo};
