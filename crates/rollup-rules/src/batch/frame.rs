//! Frames and the L1 transaction data that carries them.
//!
//! ```text
//! tx_data = 0x00 (derivation version) ‖ frame ‖ frame ‖ …   (at least one frame)
//! frame   = channel_id (16 bytes) ‖ frame_number (u16 BE) ‖ frame_data_length (u32 BE)
//!           ‖ frame_data ‖ is_last (u8, 0 or 1)
//! ```
//!
//! Parsing is all-or-nothing: one malformed frame rejects every frame of the payload,
//! so the frames derivation takes from a transaction never depend on how far a parser
//! got before giving up.

use super::{ChannelId, DERIVATION_VERSION_0, MAX_FRAME_LEN};
use alloc::vec::Vec;
use alloy_primitives::Bytes;

/// Errors of L1 transaction data and of [`super::ChannelBank::ingest`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The transaction data is empty (no version byte).
    #[error("empty transaction data")]
    Empty,
    /// The version byte is not [`DERIVATION_VERSION_0`].
    #[error("unknown derivation version {0:#04x}")]
    UnknownVersion(u8),
    /// The version byte is not followed by any frame.
    #[error("no frame after the version byte")]
    NoFrames,
    /// A frame ends early (this is also what trailing bytes after the last frame are).
    #[error("frame {index} truncated: need {needed} more bytes, have {available}")]
    Truncated {
        /// Position of the frame in the transaction data (0 = first).
        index: usize,
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A frame's data length is above [`MAX_FRAME_LEN`].
    #[error("frame {index} data length {len} exceeds {MAX_FRAME_LEN}")]
    FrameTooLarge {
        /// Position of the frame in the transaction data.
        index: usize,
        /// The announced length.
        len: usize,
    },
    /// A frame's `is_last` byte is neither 0 nor 1.
    #[error("frame {index} has is_last byte {byte:#04x}")]
    InvalidIsLast {
        /// Position of the frame in the transaction data.
        index: usize,
        /// The byte found.
        byte: u8,
    },
    /// [`super::ChannelBank::ingest`] was given an L1 block below one it has already seen
    /// (a reorg must go through [`super::ChannelBank::reset`]).
    #[error("L1 block {got} is below the bank's head {head}")]
    L1BlockRegressed {
        /// Highest L1 block the bank has seen.
        head: u64,
        /// The block given.
        got: u64,
    },
}

/// One piece of a channel, as carried in L1 transaction data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The channel the frame belongs to.
    pub channel_id: ChannelId,
    /// Position of the frame in its channel, from 0.
    pub number: u16,
    /// A slice of the compressed channel; at most [`MAX_FRAME_LEN`] bytes to be valid.
    pub data: Bytes,
    /// Whether this is the channel's last frame.
    pub is_last: bool,
}

impl Frame {
    /// Bytes of a frame besides its data: 16 (id) + 2 (number) + 4 (length) + 1 (is_last).
    pub const OVERHEAD: usize = 16 + 2 + 4 + 1;

    /// Length of the encoding.
    pub fn encoded_len(&self) -> usize {
        Self::OVERHEAD + self.data.len()
    }

    /// Appends the encoding to `out`. Frames longer than [`MAX_FRAME_LEN`] are refused
    /// since no parser would accept them.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        let len = self.data.len();
        let len32 = match u32::try_from(len) {
            Ok(l) if len <= MAX_FRAME_LEN => l,
            _ => return Err(FrameError::FrameTooLarge { index: 0, len }),
        };
        out.reserve(self.encoded_len());
        out.extend_from_slice(self.channel_id.as_slice());
        out.extend_from_slice(&self.number.to_be_bytes());
        out.extend_from_slice(&len32.to_be_bytes());
        out.extend_from_slice(&self.data);
        out.push(u8::from(self.is_last));
        Ok(())
    }

    /// Decodes one frame from the front of `buf` and advances it. `index` only labels
    /// errors.
    pub fn decode(buf: &mut &[u8], index: usize) -> Result<Self, FrameError> {
        let channel_id = ChannelId::from(take_array::<16>(buf, index)?);
        let number = u16::from_be_bytes(take_array::<2>(buf, index)?);
        let len = u32::from_be_bytes(take_array::<4>(buf, index)?) as usize;
        // Checked before the data is looked at: a length above the maximum is an error
        // even when that many bytes follow.
        if len > MAX_FRAME_LEN {
            return Err(FrameError::FrameTooLarge { index, len });
        }
        let data = Bytes::copy_from_slice(take(buf, len, index)?);
        let is_last = match take_array::<1>(buf, index)? {
            [0] => false,
            [1] => true,
            [byte] => return Err(FrameError::InvalidIsLast { index, byte }),
        };
        Ok(Self { channel_id, number, data, is_last })
    }
}

fn take<'a>(buf: &mut &'a [u8], n: usize, index: usize) -> Result<&'a [u8], FrameError> {
    match buf.split_at_checked(n) {
        Some((head, rest)) => {
            *buf = rest;
            Ok(head)
        }
        None => Err(FrameError::Truncated { index, needed: n, available: buf.len() }),
    }
}

fn take_array<const N: usize>(buf: &mut &[u8], index: usize) -> Result<[u8; N], FrameError> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(buf, N, index)?);
    Ok(out)
}

/// Parses L1 transaction data (calldata, or the bytes of one blob) into its frames.
///
/// All or nothing: any malformed frame, a bad version byte, or bytes after the last
/// complete frame reject the whole payload.
pub fn parse_tx_data(data: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let (&version, mut rest) = data.split_first().ok_or(FrameError::Empty)?;
    if version != DERIVATION_VERSION_0 {
        return Err(FrameError::UnknownVersion(version));
    }
    if rest.is_empty() {
        return Err(FrameError::NoFrames);
    }
    let mut frames = Vec::new();
    while !rest.is_empty() {
        frames.push(Frame::decode(&mut rest, frames.len())?);
    }
    Ok(frames)
}

/// Encodes `frames` as L1 transaction data: the version byte, then every frame.
///
/// Frames of different channels may share a payload. Refuses an empty list and frames
/// longer than [`MAX_FRAME_LEN`] (what [`parse_tx_data`] would reject).
pub fn encode_tx_data(frames: &[Frame]) -> Result<Bytes, FrameError> {
    if frames.is_empty() {
        return Err(FrameError::NoFrames);
    }
    let mut out = Vec::with_capacity(1 + frames.iter().map(Frame::encoded_len).sum::<usize>());
    out.push(DERIVATION_VERSION_0);
    for (index, frame) in frames.iter().enumerate() {
        frame.encode(&mut out).map_err(|e| match e {
            FrameError::FrameTooLarge { len, .. } => FrameError::FrameTooLarge { index, len },
            other => other,
        })?;
    }
    Ok(out.into())
}
