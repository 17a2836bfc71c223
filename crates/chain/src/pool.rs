//! The transaction pool: per-sender nonce ordering, replacement by a higher fee, and the
//! order in which a block builder takes transactions (highest tip first, never out of a
//! sender's nonce order).

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::Arc,
};

use alloy_primitives::{Address, B256};

use crate::{error::TxError, tx::RecoveredTx};

/// A replacement must raise both fee fields by at least this percentage (geth's default).
pub const PRICE_BUMP_PERCENT: u128 = 10;

/// Limits of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// How far ahead of an account's nonce a transaction may be queued.
    pub max_nonce_gap: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_txs: 200_000, max_nonce_gap: 1024 }
    }
}

/// Pending and queued transactions.
#[derive(Debug, Default)]
pub struct TxPool {
    config: PoolConfig,
    by_hash: HashMap<B256, Arc<RecoveredTx>>,
    by_sender: HashMap<Address, BTreeMap<u64, B256>>,
    /// Counts changes, so that what was computed from the pool (the pending block) knows
    /// when it is out of date.
    generation: u64,
}

/// What [`TxPool::add`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// A new transaction.
    New,
    /// It replaced the transaction with this hash.
    Replaced(B256),
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self { config, ..Default::default() }
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// A pooled transaction.
    pub fn get(&self, hash: &B256) -> Option<&Arc<RecoveredTx>> {
        self.by_hash.get(hash)
    }

    /// Every pooled transaction.
    pub fn all(&self) -> impl Iterator<Item = &Arc<RecoveredTx>> {
        self.by_hash.values()
    }

    /// The next nonce a sender would use counting its pooled transactions without a gap.
    pub fn next_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(txs) = self.by_sender.get(sender) {
            for nonce in txs.range(state_nonce..).map(|(n, _)| *n) {
                if nonce != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// Checks whether `tx` may enter the pool, given its sender's nonce in state.
    pub fn check(&self, tx: &RecoveredTx, state_nonce: u64) -> Result<Option<B256>, TxError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(TxError::AlreadyKnown);
        }
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(TxError::NonceTooLow { address: tx.sender, tx: nonce, state: state_nonce });
        }
        if nonce > state_nonce + self.config.max_nonce_gap {
            return Err(TxError::NonceTooHigh { address: tx.sender, tx: nonce, state: state_nonce });
        }
        let existing = self.by_sender.get(&tx.sender).and_then(|txs| txs.get(&nonce)).copied();
        if let Some(old_hash) = existing {
            let old = &self.by_hash[&old_hash];
            let bumped = |old: u128| old + old * PRICE_BUMP_PERCENT / 100;
            if tx.max_fee() < bumped(old.max_fee()) || tx.max_tip() < bumped(old.max_tip()) {
                return Err(TxError::ReplacementUnderpriced);
            }
            return Ok(Some(old_hash));
        }
        if self.by_hash.len() >= self.config.max_txs {
            return Err(TxError::PoolFull);
        }
        Ok(None)
    }

    /// Adds a transaction already accepted by [`Self::check`].
    pub fn insert(&mut self, tx: Arc<RecoveredTx>, replaces: Option<B256>) -> Added {
        self.generation += 1;
        if let Some(old) = replaces {
            self.by_hash.remove(&old);
        }
        self.by_sender.entry(tx.sender).or_default().insert(tx.nonce(), tx.hash);
        self.by_hash.insert(tx.hash, tx);
        match replaces {
            Some(old) => Added::Replaced(old),
            None => Added::New,
        }
    }

    /// Removes a transaction (mined, or dropped as invalid).
    pub fn remove(&mut self, hash: &B256) -> Option<Arc<RecoveredTx>> {
        let tx = self.by_hash.remove(hash)?;
        self.generation += 1;
        if let Some(txs) = self.by_sender.get_mut(&tx.sender) {
            if txs.get(&tx.nonce()) == Some(hash) {
                txs.remove(&tx.nonce());
            }
            if txs.is_empty() {
                self.by_sender.remove(&tx.sender);
            }
        }
        Some(tx)
    }

    /// Drops every transaction whose nonce is below its sender's state nonce; returns them.
    pub fn prune_stale(&mut self, state_nonce: impl Fn(&Address) -> u64) -> Vec<B256> {
        let mut stale = Vec::new();
        for (sender, txs) in &self.by_sender {
            let nonce = state_nonce(sender);
            stale.extend(txs.range(..nonce).map(|(_, h)| *h));
        }
        for hash in &stale {
            self.remove(hash);
        }
        stale
    }

    /// How many times the pool changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every sender with a transaction in the pool.
    pub fn senders(&self) -> impl Iterator<Item = &Address> {
        self.by_sender.keys()
    }

    /// Transactions in the order a block builder should try them: for every sender the run of
    /// consecutive nonces starting at its state nonce, merged across senders by highest
    /// effective tip at `base_fee`. Transactions that cannot pay the base fee stop their
    /// sender's run.
    pub fn best(&self, base_fee: u64, state_nonce: impl Fn(&Address) -> u64) -> BestTxs<'_> {
        let mut heap = BinaryHeap::new();
        for (sender, txs) in &self.by_sender {
            let nonce = state_nonce(sender);
            if let Some(hash) = txs.get(&nonce)
                && let Some(entry) = self.entry(hash, base_fee)
            {
                heap.push(entry);
            }
        }
        BestTxs { pool: self, heap, base_fee }
    }

    fn entry(&self, hash: &B256, base_fee: u64) -> Option<HeapEntry> {
        let tx = self.by_hash.get(hash)?;
        let tip = tx.effective_tip(base_fee)?;
        Some(HeapEntry { tip, nonce: tx.nonce(), tx: tx.clone() })
    }
}

struct HeapEntry {
    tip: u128,
    nonce: u64,
    tx: Arc<RecoveredTx>,
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest tip first; among equal tips the lower nonce, then the hash for determinism.
        self.tip
            .cmp(&other.tip)
            .then_with(|| other.nonce.cmp(&self.nonce))
            .then_with(|| other.tx.hash.cmp(&self.tx.hash))
    }
}

/// Iterator over executable transactions, best first.
pub struct BestTxs<'a> {
    pool: &'a TxPool,
    heap: BinaryHeap<HeapEntry>,
    base_fee: u64,
}

impl BestTxs<'_> {
    /// Marks the last transaction as failed: its sender's later transactions are skipped.
    pub fn skip_sender(&mut self, sender: &Address) {
        self.heap.retain(|e| &e.tx.sender != sender);
    }
}

impl Iterator for BestTxs<'_> {
    type Item = Arc<RecoveredTx>;
    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.heap.pop()?;
        let tx = entry.tx;
        if let Some(next_hash) = self.pool.by_sender.get(&tx.sender).and_then(|t| t.get(&(tx.nonce() + 1)))
            && let Some(next) = self.pool.entry(next_hash, self.base_fee)
        {
            self.heap.push(next);
        }
        Some(tx)
    }
}
