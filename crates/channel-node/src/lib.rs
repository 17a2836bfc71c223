//! loft's state-channel node (docs/channels.md): the I/O around the `loft-channels` protocol.
//!
//! - [`transport`]: Noise XX over TCP, with identity proofs binding Noise keys to addresses.

pub mod transport;
