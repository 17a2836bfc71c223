//! The node runtime of a loft EVM chain (the devnet's L1, a rollup's sequencer and replicas):
//! the chain engine behind a lock, how and when blocks are mined, snapshots for `evm_revert`,
//! the accounts `eth_sendTransaction` signs for, the events that subscriptions and filters
//! follow, and where sent transactions go. The JSON-RPC server (`loft-rpc`) serves a [`Node`];
//! the rollup's roles drive one directly.

pub mod node;
pub mod route;

pub use node::{MiningMode, Node, NodeEvent};
pub use route::TxRoute;
