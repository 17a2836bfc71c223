//! loft's state-channel node (docs/channels.md): the I/O around the `loft-channels` protocol.
//!
//! - [`api`]: the local JSON-RPC API the CLI talks to, and its client;
//! - [`contracts`]: bindings to the channel contracts, deployment, L1 operations;
//! - [`node`]: the core loop, peers, reliable delivery, the L1 watcher, the handle;
//! - [`store`]: redb persistence with group commit;
//! - [`transport`]: Noise XX over TCP, with identity proofs binding Noise keys to addresses;
//! - [`watchtower`]: the service that submits a client's newest proof when its partner closes.

pub mod api;
pub mod contracts;
pub mod node;
pub mod store;
pub mod transport;
pub mod watchtower;
