//! Derivation's [`ChannelBank`] (the batcher's encoder is in `encoder.rs`).

use alloc::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    vec::Vec,
};

use super::frame::{Frame, FrameError, parse_tx_data};
use super::{BatchError, ChannelId, L2BlockBatch, decode_channel};
use alloy_primitives::Bytes;

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
    index: BTreeMap<ChannelId, u64>,
    next_seq: u64,
    /// Bytes charged by `pending`.
    buffered: usize,
    /// Ids of completed channels still within their timeout, ordered for expiry.
    completed: BTreeSet<(u64, ChannelId)>,
    completed_ids: BTreeMap<ChannelId, u64>,
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
            index: BTreeMap::new(),
            next_seq: 0,
            buffered: 0,
            completed: BTreeSet::new(),
            completed_ids: BTreeMap::new(),
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
