//! loft's settlement layer.
//!
//! - [`devnet`]: the embedded L1, the chain engine with a miner and Ethereum JSON-RPC, funded
//!   dev accounts from the well-known test mnemonic;
//! - [`client`]: one client over alloy's provider for any Ethereum JSON-RPC node (the embedded
//!   devnet, anvil, geth): every component talks to L1 through it, whichever node it is;
//! - [`contracts`]: bindings to loft's Solidity contracts (committed artifacts) and their
//!   deployment;
//! - [`predeploys`]: contracts every loft EVM chain has from genesis (Multicall3);
//! - [`binding`]: records bound to one deployment (chain, contract, an L1 block), set aside
//!   when they do not match.

pub mod binding;
pub mod client;
pub mod contracts;
pub mod devnet;
pub mod predeploys;

pub use client::{Fees, L1Client, L1Error};
pub use devnet::{DEV_MNEMONIC, Devnet, DevnetConfig, dev_signers};
