//! loft's state-channel protocol (docs/channels.md), pure and deterministic: no tokio, no disk,
//! no L1. A node (`loft-channel-node`) wraps it with I/O; tests run whole networks of it.
//!
//! - [`signature`]: secp256k1 signing and strict recovery (65-byte `r ‖ s ‖ v`, low `s`,
//!   `v ∈ {27, 28}`), as the `ChannelManager` contract checks them;
//! - [`eip712`]: the domain and the typed structs whose digests are signed;
//! - [`lock`]: 56-byte hash-time locks, ordered lock lists and their locksroot;
//! - [`proof`]: balance proofs, signed and verified, and their 177-byte encoding;
//! - [`channel`]: one channel as seen by one participant, with every check on what is sent
//!   and received;
//! - [`route`]: amounts, fees and expirations of a mediated payment, from the target back;
//! - [`settle`]: the contract's settle arithmetic, mirrored;
//! - [`wire`]: the peer messages and their fixed big-endian layouts.

pub mod channel;
pub mod eip712;
pub mod gossip;
pub mod lock;
pub mod proof;
pub mod route;
pub mod settle;
pub mod signature;
pub mod wire;

pub use channel::{Channel, ChannelError, ChannelStatus};
pub use eip712::ChannelDomain;
pub use lock::{Lock, LockList};
pub use proof::{BalanceProof, SignedBalanceProof, VerifiedBalanceProof};
pub use signature::{Signature65, SignatureError, SigningKey};
