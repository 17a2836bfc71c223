//! loft's ZK rollup node, around the rules and circuits of `loft-zk`:
//! - [`contracts`]: bindings to `ZkRollup` and `Groth16Verifier`, the rollup's configuration,
//!   genesis and deployment;
//! - [`keys`]: the circuits' proving keys: a deterministic setup for devnets cached on disk,
//!   or files from an MPC ceremony;
//! - [`wire`]: operations as JSON, for the API and the store;
//! - [`store`]: what the operator must not lose (accepted operations, sealed blocks), in redb;
//! - [`operator`]: the operator: takes operations and L1's priority requests, builds, proves
//!   and submits blocks;
//! - [`api`]: the operator's JSON-RPC API;
//! - [`service`]: the operator's start-up (deployment resumed or made, a store bound to it,
//!   the API, the loop), shared by the CLI and the tests;
//! - [`wallet`]: what a user does: L2 keys derived from an Ethereum signature, signed
//!   operations, and exits proven from the state rebuilt from L1 alone.

pub mod api;
pub mod contracts;
pub mod keys;
pub mod operator;
pub mod service;
pub mod store;
pub mod wallet;
pub mod wire;
