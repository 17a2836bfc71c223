//! Derivation: from L1 blocks alone (their deposits and the batcher's data) to the
//! attributes of every L2 block, deterministically. The sequencer follows the same rules
//! when it picks epochs, so that its batches are accepted; a replica runs this to rebuild
//! the chain without ever talking to the sequencer.
//!
//! The rules (`docs/rollup.md`, "Derivation"):
//! - L2 block `n` has timestamp `l2_genesis_time + n * block_time` and an epoch: an L1
//!   block, the same as its parent's or the next one, whose timestamp is not after the L2
//!   block's and at most `max_sequencer_drift` seconds before it.
//! - Every L2 block starts with the L1-info deposit; the first block of an epoch then holds
//!   all the epoch's user deposits.
//! - A batch for the next L2 block is accepted when its parent hash is the safe head's, its
//!   epoch is valid as above with a matching hash, it landed on L1 within
//!   `sequencing_window` blocks of its epoch, and none of its transactions is a deposit.
//!   Batches for later blocks wait (bounded); batches for earlier ones are dropped.
//! - When the sequencing window of the safe head's epoch has passed without a valid batch,
//!   the next block is derived without one: deposits only, in the next epoch when that L1
//!   block's timestamp allows it. That is how deposits land even if the sequencer censors
//!   them or stops.

use alloc::{collections::BTreeMap, vec, vec::Vec};

use crate::batch::{ChannelBank, L2BlockBatch};
use alloy_primitives::{B256, Bytes};
use loft_evm::{TxDeposit, deposit::DEPOSIT_TX_TYPE};

use crate::{config::RollupConfig, deposits::L1BlockInfo};

/// Most batches waiting for their turn.
pub const MAX_QUEUED_BATCHES: usize = 10_000;

/// An L1 block as derivation reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L1Block {
    /// Number, hash, timestamp and fees.
    pub info: L1BlockInfo,
    /// Its parent's hash (to notice reorgs).
    pub parent_hash: B256,
    /// The user deposits it holds, in log order.
    pub deposits: Vec<TxDeposit>,
    /// The data of the batcher's transactions to the inbox (calldata or blob contents), in
    /// block order.
    pub batcher_data: Vec<Bytes>,
}

/// The safe head: the last L2 block derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Head {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its timestamp.
    pub timestamp: u64,
    /// Its epoch's L1 block number.
    pub epoch: u64,
    /// Its position within the epoch (0 for the epoch's first block).
    pub sequence_number: u64,
}

/// What the next L2 block is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadAttributes {
    /// The block's timestamp.
    pub timestamp: u64,
    /// Its epoch.
    pub epoch: L1BlockInfo,
    /// Its position within the epoch.
    pub sequence_number: u64,
    /// The L1-info deposit, then (first block of an epoch) the epoch's user deposits.
    pub deposits: Vec<TxDeposit>,
    /// The sequenced transactions (EIP-2718 bytes), empty for a block derived without a batch.
    pub transactions: Vec<Bytes>,
    /// Whether a batch supplied it.
    pub from_batch: bool,
}

/// Why derivation can not go on from an L1 block.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeriveError {
    /// The L1 block does not extend the last one read: L1 reorganised (or blocks were skipped).
    #[error("L1 block {number} does not extend the derived L1 chain (expected parent {expected}, got {got})")]
    L1Mismatch {
        /// The block offered.
        number: u64,
        /// The hash derivation has for its parent.
        expected: B256,
        /// Its parent hash.
        got: B256,
    },
    /// An L1 block was skipped.
    #[error("L1 block {got} offered, {expected} expected")]
    L1Gap {
        /// Next block derivation needs.
        expected: u64,
        /// Block offered.
        got: u64,
    },
    /// The safe head's epoch is not among the L1 blocks read.
    #[error("epoch {0} is unknown")]
    UnknownEpoch(u64),
}

/// Counters of what derivation threw away, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeriveStats {
    /// Batches accepted.
    pub accepted: u64,
    /// Batches refused by a rule.
    pub invalid: u64,
    /// Batches for blocks already derived.
    pub stale: u64,
    /// Channels that failed to decode.
    pub bad_channels: u64,
    /// Batcher transactions whose frames were malformed.
    pub bad_frames: u64,
    /// Blocks derived without a batch (sequencing window passed).
    pub forced: u64,
}

/// The derivation pipeline's state: the L1 blocks read since the safe head's epoch, the
/// channel bank and the queue of decoded batches.
pub struct Deriver {
    config: RollupConfig,
    l1: BTreeMap<u64, L1Block>,
    bank: ChannelBank,
    /// Batches by timestamp, each with the L1 block where its channel completed.
    queue: BTreeMap<u64, Vec<(L2BlockBatch, u64)>>,
    queued: usize,
    stats: DeriveStats,
}

impl Deriver {
    /// A pipeline that has read L1 up to and including `epoch_block`, the safe head's epoch.
    pub fn new(config: RollupConfig, epoch_block: L1Block) -> Self {
        let bank = ChannelBank::new(config.channel_timeout, crate::batch::DEFAULT_MAX_BANK_BYTES);
        let mut l1 = BTreeMap::new();
        l1.insert(epoch_block.info.number, epoch_block);
        Self { config, l1, bank, queue: BTreeMap::new(), queued: 0, stats: DeriveStats::default() }
    }

    /// The last L1 block read.
    pub fn l1_head(&self) -> Option<&L1Block> {
        self.l1.values().next_back()
    }

    /// What has been thrown away so far.
    pub fn stats(&self) -> DeriveStats {
        self.stats
    }

    /// Reads the next L1 block: its batcher data goes through the channel bank into the batch
    /// queue. The block must extend the last one read.
    pub fn add_l1_block(&mut self, block: L1Block) -> Result<(), DeriveError> {
        if let Some(head) = self.l1_head() {
            if block.info.number != head.info.number + 1 {
                return Err(DeriveError::L1Gap { expected: head.info.number + 1, got: block.info.number });
            }
            if block.parent_hash != head.info.hash {
                return Err(DeriveError::L1Mismatch {
                    number: block.info.number,
                    expected: head.info.hash,
                    got: block.parent_hash,
                });
            }
        }
        let number = block.info.number;
        for data in &block.batcher_data {
            if self.bank.ingest(number, data).is_err() {
                self.stats.bad_frames += 1;
            }
        }
        self.bank.prune(number);
        while let Some(channel) = self.bank.next_ready() {
            match channel.decode_batches() {
                Ok(batches) => {
                    for batch in batches {
                        if self.queued >= MAX_QUEUED_BATCHES {
                            self.stats.invalid += 1;
                            continue;
                        }
                        self.queued += 1;
                        self.queue.entry(batch.timestamp).or_default().push((batch, channel.completed_at));
                    }
                }
                Err(_) => self.stats.bad_channels += 1,
            }
        }
        self.l1.insert(number, block);
        Ok(())
    }

    /// The attributes of the block after `safe`, or `None` until L1 says more.
    pub fn next_attributes(&mut self, safe: &L2Head) -> Result<Option<PayloadAttributes>, DeriveError> {
        let next_ts = safe.timestamp + self.config.block_time;
        // Batches for blocks already derived can never apply.
        while let Some((&ts, _)) = self.queue.first_key_value() {
            if ts >= next_ts {
                break;
            }
            if let Some((_, old)) = self.queue.pop_first() {
                self.queued -= old.len();
                self.stats.stale += old.len() as u64;
            }
        }
        let epoch = self.l1.get(&safe.epoch).ok_or(DeriveError::UnknownEpoch(safe.epoch))?.clone();
        if let Some(candidates) = self.queue.remove(&next_ts) {
            self.queued -= candidates.len();
            let mut chosen = None;
            for (batch, included_at) in candidates {
                if chosen.is_none() && self.batch_is_valid(&batch, included_at, safe) {
                    chosen = Some(batch);
                } else {
                    self.stats.invalid += 1;
                }
            }
            if let Some(batch) = chosen {
                self.stats.accepted += 1;
                let block_epoch = self.l1.get(&batch.epoch_number).cloned().unwrap_or(epoch);
                return Ok(Some(attributes(safe, &block_epoch, next_ts, batch.transactions, true)));
            }
        }
        // No batch: wait while the epoch's sequencing window is open.
        let l1_head = self.l1_head().map(|b| b.info.number).unwrap_or_default();
        if l1_head < safe.epoch + self.config.sequencing_window {
            return Ok(None);
        }
        let block_epoch = match self.l1.get(&(safe.epoch + 1)) {
            Some(next) if next.info.timestamp <= next_ts => next.clone(),
            _ => epoch,
        };
        self.stats.forced += 1;
        Ok(Some(attributes(safe, &block_epoch, next_ts, vec![], false)))
    }

    /// Forgets L1 blocks older than the safe head's epoch (they can no longer be an epoch).
    pub fn prune_below(&mut self, epoch: u64) {
        self.l1 = self.l1.split_off(&epoch);
    }

    fn batch_is_valid(&self, batch: &L2BlockBatch, included_at: u64, safe: &L2Head) -> bool {
        if batch.parent_hash != safe.hash {
            return false;
        }
        if batch.epoch_number != safe.epoch && batch.epoch_number != safe.epoch + 1 {
            return false;
        }
        let Some(epoch) = self.l1.get(&batch.epoch_number) else {
            return false;
        };
        epoch.info.hash == batch.epoch_hash
            && epoch.info.timestamp <= batch.timestamp
            && batch.timestamp <= epoch.info.timestamp + self.config.max_sequencer_drift
            && included_at <= batch.epoch_number + self.config.sequencing_window
            && batch.transactions.iter().all(|tx| !tx.is_empty() && tx[0] != DEPOSIT_TX_TYPE)
    }
}

/// The attributes of the block after `parent` in `epoch` (the parent's epoch or the next):
/// the L1-info deposit, the epoch's user deposits when it is new, then `transactions`. The
/// sequencer and derivation both build blocks from this.
pub fn attributes(
    parent: &L2Head,
    epoch: &L1Block,
    timestamp: u64,
    transactions: Vec<Bytes>,
    from_batch: bool,
) -> PayloadAttributes {
    let new_epoch = epoch.info.number != parent.epoch;
    let sequence_number = if new_epoch { 0 } else { parent.sequence_number + 1 };
    let mut deposits = vec![epoch.info.deposit(sequence_number)];
    if new_epoch {
        deposits.extend(epoch.deposits.iter().cloned());
    }
    PayloadAttributes { timestamp, epoch: epoch.info, sequence_number, deposits, transactions, from_batch }
}
