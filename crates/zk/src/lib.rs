//! loft's ZK rollup: an account-based payments rollup whose every block carries a Groth16
//! proof (BN254) that L1 checks before it accepts the block's new state root.
//!
//! This crate holds the rules that the native operator and the circuit share:
//! - [`amount`]: packed amounts and fees of the public data;
//! - [`poseidon`]: the one hash of the state, natively and as a gadget;
//! - [`tree`]: sparse Merkle trees (accounts, and each account's balances) under it;
//! - [`state`]: the accounts and balances, natively, with the paths the circuit takes;
//! - [`ops`]: the operations, their signed messages, public data and checks;
//! - [`block`]: the operator's blocks: lanes, fee payout, the witnesses of every slot;
//! - [`replay`]: the state rebuilt from L1's public data alone (for exits without the operator);
//! - [`eddsa`]: EdDSA over BabyJubjub with Poseidon, the L2 keys' signatures;
//! - [`rules`]: the state-transition rules, written once over field elements or constraints;
//! - [`circuit`]: the block circuit (the rules as R1CS, the public input);
//! - [`exit`]: the exit circuit of exodus mode (a balance under the last executed root);
//! - [`groth16`]: keys (a deterministic setup for devnets), proving and verifying;
//! - [`solidity`]: the Solidity verifier generated from a verifying key.
//!
//! Each rule is written once natively and once as an R1CS gadget from the same parameters,
//! and property tests check that the two agree.

/// The version of the circuits' constraints: keys are made for one version (a cache of keys
/// names it), so it goes up with every change to what the block or exit circuit enforces.
/// 2: packed amounts in their one encoding, ids within their public-data fields.
pub const CIRCUIT_VERSION: u32 = 2;

pub mod amount;
pub mod block;
pub mod circuit;
pub mod eddsa;
pub mod exit;
pub mod groth16;
pub mod ops;
pub mod poseidon;
pub mod replay;
pub mod rules;
pub mod solidity;
pub mod state;
pub mod tree;
