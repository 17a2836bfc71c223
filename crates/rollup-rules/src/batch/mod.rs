//! The optimistic rollup's L1 data format: batches, channels and frames.
//!
//! The batcher posts the sequencer's L2 blocks to L1 so that anyone can derive the L2
//! chain from L1 alone. Modeled on the OP Stack's derivation (channels and frames), with
//! one batch format and two compression algorithms. Every byte format below is a
//! **consensus rule** (`docs/rollup.md`, "Batches, channels and frames").
//!
//! ```text
//! batch     = rlp([parent_hash, epoch_number, epoch_hash, timestamp, [tx, …]])  (L2BlockBatch)
//! channel   = tag ‖ compress(batch ‖ batch ‖ …)     tag 0x00 zstd, 0x01 brotli
//!             at most MAX_CHANNEL_BYTES once decompressed
//! frame     = channel_id (16) ‖ frame_number (u16 BE) ‖ frame_data_length (u32 BE)
//!             ‖ frame_data ‖ is_last (u8, 0 or 1)
//! tx_data   = 0x00 ‖ frame ‖ frame ‖ …   (calldata to the batch inbox, or one blob)
//! ```
//!
//! * Batcher: [`ChannelEncoder`] takes [`L2BlockBatch`]es, compresses them as they come,
//!   and cuts the closed channel into [`Frame`]s or whole L1 payloads.
//! * Derivation: [`ChannelBank`] takes L1 payloads in L1 order, reassembles channels
//!   whatever the order and duplication of their frames, drops channels that time out or
//!   overflow its byte bound, and yields complete channels; [`decode_channel`] turns one
//!   into its batches, or an error for the whole channel.
//!
//! Everything that reads L1 bytes returns typed errors and never panics, whatever the
//! input; decompression stops at [`MAX_CHANNEL_BYTES`] of output while streaming.
//!
//! # Compression measurements (why [`DEFAULT_COMPRESSION`] is zstd level 6)
//!
//! `tests/it/batch_compression.rs` builds channels of 4,000 really signed EIP-1559
//! transactions in 200 L2 blocks: 16 senders with increasing nonces, a random recipient
//! for every transfer, fees following a moving base fee. ETH transfers are 119 bytes
//! signed (125 bytes of channel RLP per transaction with the batch headers), ERC-20
//! `transfer` calls to one of 4 tokens 180 (186); the mixed channel is half of each (622
//! KB of RLP). Most of a transaction is incompressible (signature, random recipient,
//! amounts), so every algorithm lands within a few percent:
//!
//! | algorithm | level | bytes / ETH transfer | bytes / ERC-20 transfer | ratio (mixed) | compress MB/s |
//! | --- | --- | --- | --- | --- | --- |
//! | zstd | 1 | 104.2 | 109.2 | 1.44 | 300-420 |
//! | zstd | 3 | 102.9 | 108.3 | 1.46 | 140-250 |
//! | **zstd** | **6** | **102.2** | **107.5** | **1.47** | **70-97** |
//! | zstd | 9 | 102.1 | 107.4 | 1.47 | 35-60 |
//! | zstd | 12 | 102.3 | 107.7 | 1.47 | 7-13 |
//! | zstd | 19 | 101.4 | 106.1 | 1.49 | 2.6-3.8 |
//! | brotli | 1 | 111.5 | 121.6 | 1.28 | 55-100 |
//! | brotli | 4 | 102.7 | 109.4 | 1.46 | 44-57 |
//! | brotli | 6 | 101.2 | 106.6 | 1.49 | 13-17 |
//! | brotli | 9 | 101.3 | 106.8 | 1.49 | 3.4-5 |
//! | brotli | 11 | 100.3 | 105.3 | 1.50 | 0.8 |
//!
//! MB/s are of uncompressed RLP on one core of the 2-core development machine, ranges
//! over runs (the machine was shared with builds), brotli from a release build (the dev
//! profile's `opt-level = 2` runs rust-brotli 3-5 times slower; zstd is C and runs the
//! same). libzstd decompresses at 1-2 GB/s, brotli at 200-450 MB/s; derivation decodes
//! with ruzstd (pure Rust, `no_std`, for the fault-proof program), slower than libzstd but
//! far above what L1 can post.
//!
//! zstd 6 is as small as zstd 9 at twice the speed and within 2% of the smallest
//! (brotli 11, which needs a second per 800 KB); zstd 19 and brotli 6 save about 1% at
//! a fifth of the speed or less. Brotli is not clearly smaller on this data, so it stays
//! available (tag `0x01`) but is not the default. While a channel is open, zstd's running
//! output trails the final size by one block (50-90 KB here) and
//! [`ChannelEncoder::estimated_compressed_bytes`] lands within 1% of it; brotli emits
//! nothing before closing, so its estimate is the raw input size (too high by the
//! compression savings).

use alloc::{string::String, vec::Vec};
mod channel;
mod compress;
#[cfg(feature = "std")]
mod encoder;
mod frame;
#[cfg(test)]
mod tests;

pub use channel::{
    BankStats, ChannelBank, DEFAULT_CHANNEL_TIMEOUT, DEFAULT_MAX_BANK_BYTES, FRAME_BANK_OVERHEAD,
    ReadyChannel,
};
#[cfg(feature = "std")]
pub use compress::compress;
pub use compress::{BROTLI, BROTLI_LGWIN, Compression, MAX_WINDOW_LOG, ZSTD, decompress};
#[cfg(feature = "std")]
pub use encoder::{ChannelEncoder, EncodeError};
pub use frame::{Frame, FrameError, encode_tx_data, parse_tx_data};

use alloy_primitives::{B128, B256, Bytes};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};

/// A channel id: 16 bytes chosen by the batcher.
pub type ChannelId = B128;

/// First byte of every batcher L1 payload.
pub const DERIVATION_VERSION_0: u8 = 0x00;

/// Largest `frame_data_length` a frame may announce (OP's value).
pub const MAX_FRAME_LEN: usize = 1_000_000;

/// Largest decompressed size of a channel (the RLP of its batches). Decompression
/// stops past it and the channel is invalid; the encoder refuses batches beyond it.
pub const MAX_CHANNEL_BYTES: usize = 10_000_000;

/// Compression of [`Compression::default`]; see the module docs for the measurements.
pub const DEFAULT_COMPRESSION: Compression = Compression::Zstd { level: 6 };

/// One L2 block as the sequencer chose it: what derivation can not rebuild from L1.
///
/// Deposits are not included: derivation rebuilds them from the portal's events in the
/// epoch's L1 block (and the L1 info transaction from that block's header), and places
/// them before `transactions`.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    RlpEncodable,
    RlpDecodable,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct L2BlockBatch {
    /// Hash of the previous L2 block.
    pub parent_hash: B256,
    /// Number of the block's L1 origin (its epoch).
    pub epoch_number: u64,
    /// Hash of the block's L1 origin.
    pub epoch_hash: B256,
    /// The L2 block's timestamp.
    pub timestamp: u64,
    /// The sequenced transactions, EIP-2718 encoded (legacy RLP or `type ‖ payload`).
    pub transactions: Vec<Bytes>,
}

/// Errors decoding a channel into batches; any of them invalidates the whole channel.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The channel has no bytes (not even the algorithm tag).
    #[error("empty channel")]
    EmptyChannel,
    /// The algorithm tag is neither [`ZSTD`] nor [`BROTLI`].
    #[error("unknown compression tag {0:#04x}")]
    UnknownCompression(u8),
    /// A compression level out of range was asked for.
    #[error("invalid compression {0:?}")]
    InvalidCompression(Compression),
    /// The compressor failed (it writes to memory, so this is not expected).
    #[error("compressor: {0}")]
    Compress(String),
    /// The compressed stream is corrupt, truncated, followed by extra bytes, or needs a
    /// window above [`MAX_WINDOW_LOG`].
    #[error("corrupt channel: {0}")]
    Corrupt(String),
    /// Decompression passed the limit (a decompression bomb, or an oversized channel).
    #[error("channel decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The decompressed bytes are not a sequence of RLP batches.
    #[error("batch {index}: {error}")]
    Rlp {
        /// Position of the batch that failed (0 = first).
        index: usize,
        /// The RLP error.
        error: alloy_rlp::Error,
    },
}

/// A fresh random channel id (from the OS's random number generator; panics only if
/// the OS can not provide randomness).
#[cfg(feature = "std")]
pub fn random_channel_id() -> ChannelId {
    ChannelId::random()
}

/// Encodes `batches` as one uncompressed channel payload (their RLP, concatenated).
pub fn encode_batches(batches: &[L2BlockBatch]) -> Vec<u8> {
    let mut out = Vec::new();
    for b in batches {
        alloy_rlp::Encodable::encode(b, &mut out);
    }
    out
}

/// Decodes a concatenation of RLP batches. Anything that is not exactly a sequence of
/// well-formed batches is an error (the caller drops the whole channel).
pub fn decode_batches(mut raw: &[u8]) -> Result<Vec<L2BlockBatch>, BatchError> {
    let mut batches = Vec::new();
    while !raw.is_empty() {
        let batch = L2BlockBatch::decode(&mut raw)
            .map_err(|error| BatchError::Rlp { index: batches.len(), error })?;
        batches.push(batch);
    }
    Ok(batches)
}

/// Decompresses a channel (`tag ‖ stream`, bounded by [`MAX_CHANNEL_BYTES`]) and decodes
/// its batches. A channel of zero batches is valid and yields none.
pub fn decode_channel(channel: &[u8]) -> Result<Vec<L2BlockBatch>, BatchError> {
    decode_batches(&decompress(channel, MAX_CHANNEL_BYTES)?)
}
