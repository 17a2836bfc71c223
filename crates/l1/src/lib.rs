//! loft's settlement client: what every family uses to talk to L1, with alloy alone (no chain
//! engine, no RPC server: the embedded devnet is `loft-devnet`).
//!
//! - [`client`]: one client over alloy's provider for any Ethereum JSON-RPC node (the embedded
//!   devnet, anvil, geth): every component talks to L1 through it, whichever node it is;
//! - [`contracts`]: bindings to loft's Solidity contracts (committed artifacts) and their
//!   deployment;
//! - [`signers`]: the dev accounts of the well-known test mnemonic;
//! - [`binding`]: records bound to one deployment (chain, contract, an L1 block), set aside
//!   when they do not match, and written atomically.

pub mod binding;
pub mod client;
pub mod contracts;
pub mod signers;

pub use client::{Fees, L1Client, L1Error};
pub use signers::{DEV_MNEMONIC, dev_signers};
