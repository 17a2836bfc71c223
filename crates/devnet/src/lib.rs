//! The embedded L1 devnet and what every loft EVM chain starts with.
//!
//! - [`devnet`]: loft's chain engine with a miner, served over Ethereum JSON-RPC with anvil's
//!   devnet controls, its dev accounts funded at genesis;
//! - [`predeploys`]: contracts every loft EVM chain has from genesis (Multicall3), for the
//!   devnet's genesis and the rollup's.

pub mod devnet;
pub mod predeploys;

pub use devnet::{Devnet, DevnetConfig, DevnetError};
