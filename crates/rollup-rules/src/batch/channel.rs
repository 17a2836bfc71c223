//! Channels: the batcher's [`ChannelEncoder`] and derivation's [`ChannelBank`].

use super::compress::{Compression, Compressor};
use super::frame::{Frame, FrameError, encode_tx_data, parse_tx_data};
use super::{BatchError, ChannelId, L2BlockBatch, MAX_CHANNEL_BYTES, MAX_FRAME_LEN, decode_channel};
use alloy_primitives::Bytes;
use alloy_rlp::Encodable;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

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

impl std::fmt::Debug for ChannelEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
                encode_tx_data(std::slice::from_ref(f)).map_err(|e| EncodeError::Compress(e.to_string()))
            })
            .collect()
    }
}

/// Bank bytes charged per frame on top of its data, so that a flood of empty frames
/// is bounded by [`ChannelBank`]'s `max_bank_bytes` too (OP charges the same).
pub const FRAME_BANK_OVERHEAD: usize = 200;

/// Default channel timeout in L1 blocks (10 minutes of 12-second blocks).
pub const DEFAULT_CHANNEL_TIMEOUT: u64 = 50;

/// Default bound on the bytes a [`ChannelBank`] buffers for incomplete channels.
pub const DEFAULT_MAX_BANK_BYTES: usize = 100_000_000;

/// A complete channel taken out of the [`ChannelBank`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyChannel {
    /// The channel id.
    pub id: ChannelId,
    /// L1 block of the channel's first frame.
    pub opened_at: u64,
    /// L1 block of the frame that completed it.
    pub completed_at: u64,
    /// The compressed channel: every frame's data, in frame order.
    pub data: Bytes,
}

impl ReadyChannel {
    /// Decompresses (bounded by [`MAX_CHANNEL_BYTES`]) and decodes the channel's batches.
    /// An error means the whole channel is invalid: derivation skips it.
    pub fn decode_batches(&self) -> Result<Vec<L2BlockBatch>, BatchError> {
        decode_channel(&self.data)
    }
}

/// Counters of what a [`ChannelBank`] dropped and completed, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BankStats {
    /// Frames ignored: duplicate numbers, past the last frame, a second last frame,
    /// or of a channel already complete.
    pub frames_ignored: u64,
    /// Channels completed.
    pub channels_completed: u64,
    /// Channels dropped for not completing within the timeout.
    pub channels_timed_out: u64,
    /// Channels dropped to keep the bank under its byte bound.
    pub channels_evicted: u64,
}

/// An incomplete channel.
#[derive(Clone, Debug)]
struct PendingChannel {
    id: ChannelId,
    opened_at: u64,
    frames: BTreeMap<u16, Bytes>,
    /// Number of the `is_last` frame, once seen.
    last: Option<u16>,
    /// Bank bytes charged: data plus [`FRAME_BANK_OVERHEAD`] per frame.
    size: usize,
}

fn frame_cost(data: &Bytes) -> usize {
    data.len() + FRAME_BANK_OVERHEAD
}

impl PendingChannel {
    /// Adds a frame following the bank's rules; returns whether it was kept.
    fn add(&mut self, frame: Frame) -> bool {
        if self.frames.contains_key(&frame.number) {
            return false; // first one wins
        }
        if let Some(last) = self.last
            && (frame.number > last || frame.is_last)
        {
            return false; // past the end, or a second end
        }
        if frame.is_last {
            self.last = Some(frame.number);
            // Frames buffered past the new end can never be part of the channel.
            let dropped = self.frames.split_off(&frame.number);
            self.size -= dropped.values().map(frame_cost).sum::<usize>();
        }
        self.size += frame_cost(&frame.data);
        self.frames.insert(frame.number, frame.data);
        true
    }

    fn is_complete(&self) -> bool {
        self.last.is_some_and(|last| self.frames.len() == usize::from(last) + 1)
    }
}

/// Derivation's reassembly of channels from frames.
///
/// Deterministic: the same calls with the same arguments in the same order give the same
/// results on every node. The rules (a consensus matter, see `docs/rollup.md`):
///
/// * [`Self::ingest`] takes one L1 payload: all its frames or none.
/// * A frame of a channel id the bank does not hold opens a channel, recorded with the
///   L1 block of that frame.
/// * A frame whose number the channel already has is ignored (the first one wins); so
///   is a frame numbered past the channel's `is_last` frame, and a second `is_last`
///   frame. An `is_last` frame drops buffered frames numbered past it.
/// * A channel is complete when it has its `is_last` frame and every frame before it;
///   it then moves to the ready queue, which [`Self::next_ready`] drains in completion
///   order. Its id stays known for the rest of its timeout: frames for it (a re-post)
///   are ignored rather than opening a second channel.
/// * A channel opened at L1 block `o` that is not complete once the bank reaches block
///   `o + channel_timeout + 1` is dropped; it may complete in block `o + channel_timeout`.
/// * Incomplete channels may hold at most `max_bank_bytes` (frame data plus
///   [`FRAME_BANK_OVERHEAD`] per frame); past that the channel opened first is dropped,
///   then the next, until the bank is within bounds.
///
/// A reorg of L1 can not be undone frame by frame (evicted data is gone), so derivation
/// calls [`Self::reset`] and re-ingests L1 from `reorg_block - channel_timeout`: every
/// channel that can complete at or after the reorg block opened at or after that
/// block, so it is rebuilt whole.
#[derive(Clone, Debug)]
pub struct ChannelBank {
    channel_timeout: u64,
    max_bank_bytes: usize,
    /// Incomplete channels by opening sequence number (oldest first).
    pending: BTreeMap<u64, PendingChannel>,
    /// Channel id → opening sequence number in `pending`.
    index: HashMap<ChannelId, u64>,
    next_seq: u64,
    /// Bytes charged by `pending`.
    buffered: usize,
    /// Ids of completed channels still within their timeout, ordered for expiry.
    completed: BTreeSet<(u64, ChannelId)>,
    completed_ids: HashMap<ChannelId, u64>,
    ready: VecDeque<ReadyChannel>,
    /// Highest L1 block seen since the last reset.
    head: Option<u64>,
    stats: BankStats,
}

impl Default for ChannelBank {
    fn default() -> Self {
        Self::new(DEFAULT_CHANNEL_TIMEOUT, DEFAULT_MAX_BANK_BYTES)
    }
}

impl ChannelBank {
    /// An empty bank.
    pub fn new(channel_timeout: u64, max_bank_bytes: usize) -> Self {
        Self {
            channel_timeout,
            max_bank_bytes,
            pending: BTreeMap::new(),
            index: HashMap::new(),
            next_seq: 0,
            buffered: 0,
            completed: BTreeSet::new(),
            completed_ids: HashMap::new(),
            ready: VecDeque::new(),
            head: None,
            stats: BankStats::default(),
        }
    }

    /// Channel timeout in L1 blocks.
    pub fn channel_timeout(&self) -> u64 {
        self.channel_timeout
    }

    /// Bound on the bytes of incomplete channels.
    pub fn max_bank_bytes(&self) -> usize {
        self.max_bank_bytes
    }

    /// Adds the frames of one L1 payload (calldata of a batcher transaction, or one
    /// blob's bytes) included in `l1_block`.
    ///
    /// The bank first advances to `l1_block` (as [`Self::prune`]), then parses: a
    /// malformed payload is refused whole and adds nothing. `l1_block` may repeat (many
    /// payloads per block) but not go below a block already seen.
    pub fn ingest(&mut self, l1_block: u64, tx_data: &[u8]) -> Result<(), FrameError> {
        if let Some(head) = self.head
            && l1_block < head
        {
            return Err(FrameError::L1BlockRegressed { head, got: l1_block });
        }
        self.prune(l1_block);
        let frames = parse_tx_data(tx_data)?;
        for frame in frames {
            self.add_frame(l1_block, frame);
        }
        Ok(())
    }

    fn add_frame(&mut self, l1_block: u64, frame: Frame) {
        let id = frame.channel_id;
        if self.completed_ids.contains_key(&id) {
            self.stats.frames_ignored += 1;
            return;
        }
        let seq = match self.index.get(&id) {
            Some(seq) => *seq,
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                let channel =
                    PendingChannel { id, opened_at: l1_block, frames: BTreeMap::new(), last: None, size: 0 };
                self.pending.insert(seq, channel);
                self.index.insert(id, seq);
                seq
            }
        };
        let Some(channel) = self.pending.get_mut(&seq) else {
            return; // `index` and `pending` always agree
        };
        let before = channel.size;
        if !channel.add(frame) {
            self.stats.frames_ignored += 1;
            return;
        }
        self.buffered = self.buffered - before + channel.size;
        if channel.is_complete() {
            self.complete(seq, l1_block);
        }
        while self.buffered > self.max_bank_bytes {
            let Some((_, evicted)) = self.pending.pop_first() else { break };
            self.forget(&evicted);
            self.stats.channels_evicted += 1;
        }
    }

    /// Moves the complete channel `seq` to the ready queue.
    fn complete(&mut self, seq: u64, l1_block: u64) {
        let Some(channel) = self.pending.remove(&seq) else { return };
        self.forget(&channel);
        let mut data = Vec::with_capacity(channel.size);
        for part in channel.frames.values() {
            data.extend_from_slice(part);
        }
        self.remember_completed(channel.id, channel.opened_at);
        self.stats.channels_completed += 1;
        self.ready.push_back(ReadyChannel {
            id: channel.id,
            opened_at: channel.opened_at,
            completed_at: l1_block,
            data: data.into(),
        });
    }

    /// Removes a channel taken out of `pending` from the index and the byte count.
    fn forget(&mut self, channel: &PendingChannel) {
        self.index.remove(&channel.id);
        self.buffered -= channel.size;
    }

    fn remember_completed(&mut self, id: ChannelId, opened_at: u64) {
        self.completed.insert((opened_at, id));
        self.completed_ids.insert(id, opened_at);
        // Bounded like the frames: one remembered id per FRAME_BANK_OVERHEAD bytes of
        // the bound. Forgetting an id early only means a re-post of it opens a new
        // channel, whose batches derivation drops as already derived.
        let cap = (self.max_bank_bytes / FRAME_BANK_OVERHEAD).max(1);
        while self.completed.len() > cap {
            let Some((_, old)) = self.completed.pop_first() else { break };
            self.completed_ids.remove(&old);
        }
    }

    /// Advances the bank to `l1_block`: drops the channels that can no longer complete
    /// (opened more than `channel_timeout` blocks before it) and forgets the ids of
    /// completed channels past their timeout. A block below the head does nothing.
    /// [`Self::ingest`] calls it; call it for L1 blocks without batcher data to free
    /// memory early (the results are the same either way).
    pub fn prune(&mut self, l1_block: u64) {
        let l1_block = self.head.map_or(l1_block, |h| h.max(l1_block));
        self.head = Some(l1_block);
        let timeout = self.channel_timeout;
        let expired = |opened_at: u64| opened_at.saturating_add(timeout) < l1_block;
        // Channels open in L1 block order between resets, so the oldest come first.
        while let Some(entry) = self.pending.first_entry() {
            if !expired(entry.get().opened_at) {
                break;
            }
            let channel = entry.remove();
            self.forget(&channel);
            self.stats.channels_timed_out += 1;
        }
        while let Some(&(opened_at, id)) = self.completed.first() {
            if !expired(opened_at) {
                break;
            }
            self.completed.pop_first();
            self.completed_ids.remove(&id);
        }
    }

    /// Empties the bank (channels, ready queue, remembered ids, head and counters), for
    /// an L1 reorg: derivation then re-ingests from `reorg_block - channel_timeout`.
    pub fn reset(&mut self) {
        *self = Self::new(self.channel_timeout, self.max_bank_bytes);
    }

    /// The next complete channel, in the order channels completed.
    pub fn next_ready(&mut self) -> Option<ReadyChannel> {
        self.ready.pop_front()
    }

    /// Complete channels waiting in the ready queue.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Incomplete channels held.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Bytes charged by incomplete channels (at most `max_bank_bytes`).
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Highest L1 block seen since the last reset.
    pub fn head(&self) -> Option<u64> {
        self.head
    }

    /// What the bank has dropped and completed since the last reset.
    pub fn stats(&self) -> BankStats {
        self.stats
    }
}
