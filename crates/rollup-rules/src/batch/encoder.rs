//! The batcher's [`ChannelEncoder`] (needs `std`: it compresses with libzstd or brotli's
//! encoder).

use alloc::{string::String, vec::Vec};

use super::compress::{Compression, Compressor};
use super::frame::{Frame, encode_tx_data};
use super::{ChannelId, L2BlockBatch, MAX_CHANNEL_BYTES, MAX_FRAME_LEN};
use alloy_primitives::Bytes;
use alloy_rlp::Encodable;

/// Errors of the batcher-side [`ChannelEncoder`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The compression level is out of range (see [`Compression::validate`]).
    #[error("invalid compression {0:?}")]
    InvalidCompression(Compression),
    /// A batch was added after [`ChannelEncoder::close`].
    #[error("channel is closed")]
    Closed,
    /// Frames were asked for before [`ChannelEncoder::close`].
    #[error("channel is not closed")]
    NotClosed,
    /// The batch would take the channel's uncompressed size past [`MAX_CHANNEL_BYTES`],
    /// which derivation refuses to decompress. The batch was not added: close this
    /// channel and put it in the next.
    #[error("channel full: {size} + {batch} bytes of RLP exceed {MAX_CHANNEL_BYTES}")]
    ChannelFull {
        /// Uncompressed bytes already in the channel.
        size: usize,
        /// RLP length of the refused batch.
        batch: usize,
    },
    /// The size limit leaves no room for frame data.
    #[error("size limit {0} leaves no room for frame data")]
    SizeTooSmall(usize),
    /// The channel needs more than 65,536 frames at this frame size.
    #[error("channel needs {0} frames, more than 65536")]
    TooManyFrames(usize),
    /// The compressor failed (it writes to memory, so this is not expected).
    #[error("compressor: {0}")]
    Compress(String),
}

/// Builds one channel on the batcher side: batches in, frames or L1 payloads out.
///
/// Batches are RLP-encoded and streamed into the compressor as they are added, so the
/// batcher can watch [`Self::compressed_bytes`] and close the channel once it fills
/// the L1 space it targets (for example 6 blobs).
pub struct ChannelEncoder {
    id: ChannelId,
    compression: Compression,
    compressor: Option<Compressor>,
    /// The compressed channel, once closed.
    data: Option<Bytes>,
    input_bytes: usize,
    batches: usize,
    /// Compressor output and input when the output last grew, for the size estimate.
    seen_output: usize,
    seen_input: usize,
}

impl core::fmt::Debug for ChannelEncoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChannelEncoder")
            .field("id", &self.id)
            .field("compression", &self.compression)
            .field("batches", &self.batches)
            .field("input_bytes", &self.input_bytes)
            .field("compressed_bytes", &self.compressed_bytes())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ChannelEncoder {
    /// Opens a channel. `id` is the caller's: random ([`super::random_channel_id`]) or
    /// derived deterministically, so that a restarted batcher re-posts a channel under
    /// the same id. An id must name one channel's bytes: re-posting under an id means
    /// re-posting the same frames (same compressed bytes, same frame size).
    pub fn new(id: ChannelId, compression: Compression) -> Result<Self, EncodeError> {
        if !compression.validate() {
            return Err(EncodeError::InvalidCompression(compression));
        }
        let compressor = Compressor::new(compression).map_err(|e| EncodeError::Compress(e.to_string()))?;
        Ok(Self {
            id,
            compression,
            compressor: Some(compressor),
            data: None,
            input_bytes: 0,
            batches: 0,
            seen_output: 1,
            seen_input: 0,
        })
    }

    /// The channel id.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The compression in use.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Appends a batch (the next L2 block). Refused once closed, and when the channel's
    /// uncompressed size would pass [`MAX_CHANNEL_BYTES`] (the batch is then not added).
    pub fn add_batch(&mut self, batch: &L2BlockBatch) -> Result<(), EncodeError> {
        let Some(compressor) = self.compressor.as_mut() else {
            return Err(EncodeError::Closed);
        };
        let len = batch.length();
        if self.input_bytes.saturating_add(len) > MAX_CHANNEL_BYTES {
            return Err(EncodeError::ChannelFull { size: self.input_bytes, batch: len });
        }
        let mut rlp = Vec::with_capacity(len);
        batch.encode(&mut rlp);
        compressor.write(&rlp).map_err(|e| EncodeError::Compress(e.to_string()))?;
        self.input_bytes += len;
        self.batches += 1;
        let output = compressor.output_len();
        if output > self.seen_output {
            self.seen_output = output;
            self.seen_input = self.input_bytes;
        }
        Ok(())
    }

    /// Batches added.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Uncompressed bytes added (the RLP of every batch).
    pub fn input_bytes(&self) -> usize {
        self.input_bytes
    }

    /// Compressed bytes output so far, algorithm byte included; exact once closed.
    ///
    /// While open it trails the final size: zstd holds back the block it is working on
    /// (about 50-90 KB of output on transaction data), brotli with its 4 MiB window
    /// holds back everything up to a few MB of input. Use
    /// [`Self::estimated_compressed_bytes`] to decide when to close.
    pub fn compressed_bytes(&self) -> usize {
        match (&self.data, &self.compressor) {
            (Some(data), _) => data.len(),
            (None, Some(c)) => c.output_len(),
            (None, None) => 0,
        }
    }

    /// Estimate of the closed channel's size: the output so far plus the input not yet
    /// reflected in it, scaled by the ratio seen so far (1:1 before any output, so the
    /// estimate errs high and a batcher that closes on it does not overshoot its
    /// target by much). Exact once closed.
    pub fn estimated_compressed_bytes(&self) -> usize {
        if let Some(data) = &self.data {
            return data.len();
        }
        let pending = self.input_bytes - self.seen_input;
        let scaled = match self.seen_input {
            0 => pending,
            seen => {
                // u128: pending * output fits easily, and never overflows on 64-bit.
                let est = pending as u128 * (self.seen_output - 1) as u128 / seen as u128;
                usize::try_from(est).unwrap_or(usize::MAX)
            }
        };
        self.compressed_bytes().saturating_add(scaled)
    }

    /// Whether [`Self::close`] has been called.
    pub fn is_closed(&self) -> bool {
        self.data.is_some()
    }

    /// Ends the compressed stream; no batch can be added after. Calling it again does
    /// nothing.
    pub fn close(&mut self) -> Result<(), EncodeError> {
        if let Some(c) = self.compressor.take() {
            let data = c.finish().map_err(|e| EncodeError::Compress(e.to_string()))?;
            self.data = Some(data.into());
        }
        Ok(())
    }

    /// The compressed channel (`algorithm tag ‖ stream`), once closed.
    pub fn compressed_data(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }

    /// Cuts the closed channel into frames of at most `max_frame_size` encoded bytes
    /// each (frame overhead included; the data of one frame is also capped at
    /// [`MAX_FRAME_LEN`]). Every frame but the last is full; the last has `is_last`.
    pub fn frames(&self, max_frame_size: usize) -> Result<Vec<Frame>, EncodeError> {
        let data = self.data.as_ref().ok_or(EncodeError::NotClosed)?;
        let chunk = max_frame_size.saturating_sub(Frame::OVERHEAD).min(MAX_FRAME_LEN);
        if chunk == 0 {
            return Err(EncodeError::SizeTooSmall(max_frame_size));
        }
        let count = data.len().div_ceil(chunk).max(1);
        if count > usize::from(u16::MAX) + 1 {
            return Err(EncodeError::TooManyFrames(count));
        }
        let mut frames = Vec::with_capacity(count);
        let mut start = 0;
        for number in 0..=u16::MAX {
            let end = (start + chunk).min(data.len());
            let is_last = end == data.len();
            frames.push(Frame { channel_id: self.id, number, data: data.slice(start..end), is_last });
            if is_last {
                break;
            }
            start = end;
        }
        Ok(frames)
    }

    /// Closes the channel (if still open) and packs its frames into L1 transaction
    /// payloads of at most `max_tx_data_size` bytes each: the version byte and one
    /// frame that fills the rest. For calldata use about 120,000 bytes per
    /// transaction; for blobs, the usable bytes of one blob (about 126,000) per
    /// payload, one payload per blob and up to 6 blobs per transaction.
    pub fn into_tx_data(mut self, max_tx_data_size: usize) -> Result<Vec<Bytes>, EncodeError> {
        self.close()?;
        let frames = self.frames(max_tx_data_size.saturating_sub(1))?;
        frames
            .iter()
            .map(|f| {
                encode_tx_data(core::slice::from_ref(f)).map_err(|e| EncodeError::Compress(e.to_string()))
            })
            .collect()
    }
}
