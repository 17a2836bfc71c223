//! loft's optimistic rollup node: an EVM-equivalent L2 whose data lives on L1.
//!
//! The consensus rules are `loft-rollup-rules`' (re-exported here as [`batch`], [`config`],
//! [`deposits`] and [`derive`]); this crate holds what runs them against an engine and L1:
//!
//! - [`block`]: derived attributes to engine blocks, and L2 blocks back to batches;
//! - [`genesis`]: the L2 genesis with its predeploys;
//! - [`contracts`]: bindings to the L1 contracts and their deployment;
//! - [`l1_source`]: reading L1 blocks (deposits, batcher data, blobs) over JSON-RPC;
//! - [`sequencer`]: building L2 blocks from the pool at the configured interval;
//! - [`batcher`]: posting L2 blocks to L1 as compressed, framed batches (when: [`channel_policy`]);
//! - [`replica`]: rebuilding the chain from L1 alone (the safe head);
//! - [`proposer`]: output roots posted to L1, withdrawals proven against them;
//! - [`bridge`], [`backing`]: the standard bridge, and the check that the portal backs L2;
//! - [`service`]: every role as background tasks (what `loft devnet` runs).

pub mod backing;
pub mod batcher;
pub mod block;
pub mod bridge;
pub mod channel_policy;
pub mod contracts;
pub mod genesis;
pub mod l1_source;
pub mod proposer;
pub mod replica;
pub mod sequencer;
pub mod service;

// The rules, where the node's users have always found them.
pub use loft_rollup_rules::{batch, config, deposits, derive};

pub use config::RollupConfig;
pub use deposits::{DepositError, L1BlockInfo};
