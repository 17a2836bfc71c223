//! The chain: its state, pool and store, opened or created from genesis; submitting
//! transactions; the environment of the next block. Block building (`build`), calls
//! (`call`), queries (`query`), devnet controls (`controls`) and tracing (`trace`) are its
//! other parts.

use std::{collections::BTreeMap, sync::Arc};

use alloy::{
    consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, constants::EMPTY_WITHDRAWALS, proofs},
    eips::{eip7685::EMPTY_REQUESTS_HASH, eip7840::BlobParams},
};
use alloy_primitives::{B256, Bloom, Bytes, U256};
use alloy_rlp::{Decodable, Encodable};
use loft_evm::BlockRules;

use crate::{
    config::{ChainConfig, MAX_HISTORY, unix_now},
    deposit::{LoftReceipt, TxDeposit},
    error::{ChainError, TxError},
    journal::{PendingWrite, PoolJournal},
    l1_fee::{L1Prices, l1_fee},
    pool::TxPool,
    state::{BlockHashes, HistoricalOverlay, PastState, WorldState},
    store::{BlockWrite, Store, StoredTx},
    tx::RecoveredTx,
};

mod build;
mod call;
mod controls;
mod query;
mod trace;

pub use build::PendingBlock;
pub use call::{CallOutcome, CallRequest};
pub use controls::Snapshot;
pub use query::{LogEntry, LogQuery, MinedTx, ReceiptInfo};

pub use loft_evm::SealedHeader;
/// What building a block produced.
#[derive(Clone, Debug)]
pub struct BuiltBlock {
    /// The sealed header.
    pub header: SealedHeader,
    /// Hashes of the included transactions.
    pub tx_hashes: Vec<B256>,
    /// Receipts, in order.
    pub receipts: Vec<LoftReceipt>,
    /// Transactions dropped from the pool because they could no longer execute.
    pub dropped: Vec<(B256, String)>,
}

/// How [`Chain::build_block_with`] makes a block; the default is what a miner does.
#[derive(Clone, Debug, Default)]
pub struct BlockSpec {
    /// Timestamp, after the parent's; by default [`Chain::next_timestamp`].
    pub timestamp: Option<u64>,
    /// `mixHash` (the EVM's `prevrandao`); by default keccak256 of the parent's hash.
    pub prevrandao: Option<B256>,
    /// `extraData`; by default the configuration's.
    pub extra_data: Option<Bytes>,
    /// Deposits, run first and in order.
    pub deposits: Vec<TxDeposit>,
    /// `None`: the pool's best transactions. `Some`: exactly these, in order, leaving out
    /// (and reporting in [`BuiltBlock::dropped`]) those that can not execute.
    pub txs: Option<Vec<Arc<RecoveredTx>>>,
    /// A rollup block's L1 prices (its L1 origin's), which also become the prices the pool
    /// checks new transactions against; by default the last ones set.
    pub l1_prices: Option<L1Prices>,
}

/// Hashes of the last 256 blocks, for `BLOCKHASH`.
#[derive(Default, Debug, Clone)]
struct RecentHashes(BTreeMap<u64, B256>);

impl BlockHashes for RecentHashes {
    fn block_hash(&self, number: u64) -> B256 {
        self.0.get(&number).copied().unwrap_or_default()
    }
}

impl RecentHashes {
    fn push(&mut self, number: u64, hash: B256) {
        self.0.insert(number, hash);
        while self.0.len() > 256 {
            self.0.pop_first();
        }
    }
}

/// An EVM chain: state, pool, blocks and their store.
pub struct Chain {
    config: ChainConfig,
    store: Arc<Store>,
    journal: Arc<PoolJournal>,
    l1_prices: L1Prices,
    state: WorldState,
    pool: TxPool,
    head: SealedHeader,
    recent: RecentHashes,
    time_offset: i64,
    next_timestamp: Option<u64>,
    /// Safe and finalized block numbers under [`Finality::External`].
    forkchoice: (u64, u64),
    /// Devnet edits (balances, code, storage, L1 prices) since the chain was opened.
    edits: u64,
    /// The pending block's state changes, for calls at `pending`, kept while nothing they
    /// depend on changes: a flood of calls runs the pending block once, not once each.
    pending_cache: parking_lot::Mutex<Option<(PendingKey, Arc<revm::database::Cache>)>>,
    /// The pending block, kept on the same terms.
    pending_block_cache: Option<(PendingKey, PendingBlock)>,
}

/// What the pending block depends on: the head, the pool, devnet edits, the next block's time.
type PendingKey = (B256, u64, u64, u64);

use loft_evm::block::seal;

fn evm_error<E: std::fmt::Display>(e: E) -> ChainError {
    ChainError::Evm(e.to_string())
}

impl Chain {
    /// Opens the chain in `store`, writing genesis if the store is empty. An existing store must
    /// hold the same chain id, and its state must hash to its head's state root.
    pub fn open(config: ChainConfig, store: Store) -> Result<Self, ChainError> {
        match store.head()? {
            Some(head_number) => {
                let found = store.chain_id()?.unwrap_or_default();
                if found != config.chain_id {
                    return Err(ChainError::ChainMismatch { found, expected: config.chain_id });
                }
                let mut state = store.load_state()?;
                let mut recent = RecentHashes::default();
                let mut head = None;
                for n in head_number.saturating_sub(255)..=head_number {
                    let rlp = store
                        .header_rlp(n)?
                        .ok_or_else(|| ChainError::Corrupt(format!("header {n} missing")))?;
                    let sealed = seal(Header::decode(&mut rlp.as_slice())?);
                    recent.push(n, sealed.hash);
                    head = Some(sealed);
                }
                let head = head.ok_or_else(|| ChainError::Corrupt("no head".into()))?;
                let root = state.state_root();
                state.clear_journal();
                if root != head.header.state_root {
                    return Err(ChainError::Corrupt(format!(
                        "state root {root} does not match head block {head_number}'s {}",
                        head.header.state_root
                    )));
                }
                let time_offset = store.time_offset()?;
                let forkchoice = store.forkchoice()?.unwrap_or_default();
                let store = Arc::new(store);
                let mut chain = Self {
                    pool: TxPool::new(config.pool.clone()),
                    config,
                    journal: Arc::new(PoolJournal::new(store.clone())),
                    l1_prices: L1Prices::default(),
                    store,
                    state,
                    head,
                    recent,
                    time_offset,
                    next_timestamp: None,
                    forkchoice,
                    edits: 0,
                    pending_cache: Default::default(),
                    pending_block_cache: None,
                };
                chain.reload_pool()?;
                // A rollup charges its head's L1 prices until the next block brings new ones.
                if let Some(read) = chain.config.l1_prices_reader
                    && let Some(first) = chain.block_txs(head_number)?.first()
                    && let Some(prices) = first.tx.as_deposit().and_then(|d| read(&d.input))
                {
                    chain.l1_prices = prices;
                }
                Ok(chain)
            }
            None => Self::genesis(config, store),
        }
    }

    fn genesis(config: ChainConfig, store: Store) -> Result<Self, ChainError> {
        let mut state = WorldState::new();
        for account in &config.alloc {
            let code = account.runtime_code()?;
            if !code.is_empty() {
                state.set_code(account.address, code);
            }
            let mut basic = state.basic(&account.address).cloned().unwrap_or_default();
            basic.balance = account.balance;
            basic.nonce = account.nonce;
            state.set_basic(account.address, basic);
            for (slot, value) in &account.storage {
                state.set_slot(account.address, *slot, *value);
            }
        }
        let state_root = state.state_root();
        let (changes, new_code) = state.take_changes();
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: config.coinbase,
            state_root,
            transactions_root: proofs::calculate_transaction_root::<alloy::consensus::TxEnvelope>(&[]),
            receipts_root: proofs::calculate_receipt_root::<alloy::consensus::ReceiptEnvelope>(&[]),
            logs_bloom: Bloom::ZERO,
            difficulty: U256::ZERO,
            number: 0,
            gas_limit: config.block_gas_limit,
            gas_used: 0,
            timestamp: config.genesis_timestamp,
            extra_data: config.extra_data.clone(),
            mix_hash: B256::ZERO,
            nonce: Default::default(),
            base_fee_per_gas: Some(config.genesis_base_fee),
            withdrawals_root: Some(EMPTY_WITHDRAWALS),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        let head = seal(header);
        let mut rlp = Vec::new();
        head.header.encode(&mut rlp);
        store.write_block(
            config.chain_id,
            BlockWrite {
                number: 0,
                hash: head.hash,
                header_rlp: &rlp,
                txs: &[],
                receipts: &[],
                tx_hashes: &[],
                changes: &changes,
                new_code: &new_code,
            },
        )?;
        let mut recent = RecentHashes::default();
        recent.push(0, head.hash);
        let store = Arc::new(store);
        Ok(Self {
            pool: TxPool::new(config.pool.clone()),
            config,
            journal: Arc::new(PoolJournal::new(store.clone())),
            l1_prices: L1Prices::default(),
            store,
            state,
            head,
            recent,
            time_offset: 0,
            next_timestamp: None,
            forkchoice: (0, 0),
            edits: 0,
            pending_cache: Default::default(),
            pending_block_cache: None,
        })
    }

    /// Puts transactions persisted in the pool table back into the pool (after a restart).
    fn reload_pool(&mut self) -> Result<(), ChainError> {
        let mut stale = Vec::new();
        for stored in self.store.pooled()? {
            let Ok(tx) = RecoveredTx::from_block(&stored.raw, stored.sender) else {
                continue;
            };
            let state_nonce = self.state.nonce(&tx.sender);
            match self.pool.check(&tx, state_nonce) {
                Ok(replaces) => {
                    self.pool.insert(Arc::new(tx), replaces);
                }
                Err(_) => stale.push(tx.hash),
            }
        }
        self.store.remove_pooled(&stale)
    }

    /// The configuration.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The head block.
    pub fn head(&self) -> &SealedHeader {
        &self.head
    }

    /// The pool.
    pub fn pool(&self) -> &TxPool {
        &self.pool
    }

    /// The current state (the head's, plus devnet edits not yet in a block).
    pub fn state(&self) -> &WorldState {
        &self.state
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Base fee of the next block.
    pub fn next_base_fee(&self) -> u64 {
        loft_evm::block::next_base_fee(&self.head.header, self.config.genesis_base_fee)
    }

    /// Blob base fee of the next block.
    pub fn next_blob_base_fee(&self) -> u128 {
        BlobParams::prague().calc_blob_fee(self.next_excess_blob_gas())
    }

    fn next_excess_blob_gas(&self) -> u64 {
        loft_evm::block::next_excess_blob_gas(&self.head.header)
    }

    /// Validates a raw transaction, persists it and adds it to the pool. Returns its hash once
    /// it is on disk.
    pub fn submit_raw(&mut self, raw: &[u8]) -> Result<B256, ChainError> {
        let tx = RecoveredTx::decode(raw, self.config.chain_id)?;
        self.submit(tx)
    }

    /// Validates a decoded transaction, persists it and adds it to the pool.
    pub fn submit(&mut self, tx: RecoveredTx) -> Result<B256, ChainError> {
        let write = self.accept(tx)?;
        let hash = write.hash;
        if let Err(e) = self.journal.commit(write) {
            self.pool.remove(&hash);
            return Err(e);
        }
        Ok(hash)
    }

    /// Validates a transaction and adds it to the pool, returning the write that must reach
    /// the disk (through [`Self::journal`]) before its hash is given to anyone. Used by servers
    /// that persist outside the chain's lock, so that concurrent submissions share one write.
    pub fn accept(&mut self, tx: RecoveredTx) -> Result<PendingWrite, ChainError> {
        let replaces = self.validate(&tx)?;
        let stored = StoredTx { raw: tx.encoded.clone(), sender: tx.sender };
        let hash = tx.hash;
        let mut tx = tx;
        let blobs = std::mem::take(&mut tx.blobs);
        self.pool.insert(Arc::new(tx), replaces);
        Ok(PendingWrite { hash, stored, blobs, replaces })
    }

    /// The pool's group-commit journal.
    pub fn journal(&self) -> Arc<PoolJournal> {
        self.journal.clone()
    }

    /// Drops a transaction from the pool (its journal write failed).
    pub fn forget(&mut self, hash: &B256) {
        self.pool.remove(hash);
    }

    /// Accepts many raw transactions at once: signatures are recovered in parallel and every
    /// accepted transaction is persisted in one write before this returns (group commit).
    pub fn submit_batch(&mut self, raws: &[Bytes]) -> Vec<Result<B256, ChainError>> {
        use rayon::prelude::*;
        let chain_id = self.config.chain_id;
        let decoded: Vec<Result<RecoveredTx, TxError>> =
            raws.par_iter().map(|raw| RecoveredTx::decode(raw, chain_id)).collect();
        let mut results: Vec<Result<B256, ChainError>> = Vec::with_capacity(raws.len());
        // Each accepted transaction is pooled at once so that later ones of the batch see it
        // (duplicates, replacements); undone below if the write fails.
        let mut accepted: Vec<(usize, PendingWrite)> = Vec::new();
        for (i, tx) in decoded.into_iter().enumerate() {
            let outcome = tx.map_err(ChainError::from).and_then(|tx| self.accept(tx));
            results.push(outcome.map(|write| {
                let hash = write.hash;
                accepted.push((i, write));
                hash
            }));
        }
        let entries: Vec<(&StoredTx, &B256, &[crate::tx::BlobRecord])> =
            accepted.iter().map(|(_, w)| (&w.stored, &w.hash, w.blobs.as_slice())).collect();
        let replaced: Vec<B256> = accepted.iter().filter_map(|(_, w)| w.replaces).collect();
        let written = self.store.put_pooled(&entries).and_then(|_| self.store.remove_pooled(&replaced));
        if let Err(e) = written {
            let msg = e.to_string();
            for (i, write) in &accepted {
                self.pool.remove(&write.hash);
                results[*i] = Err(ChainError::Storage(msg.clone()));
            }
        }
        results
    }

    /// Every check a transaction must pass to enter the pool; returns the hash it replaces.
    fn validate(&self, tx: &RecoveredTx) -> Result<Option<B256>, ChainError> {
        if tx.is_deposit() {
            return Err(TxError::TypeNotSupported.into());
        }
        if self.store.tx_location(&tx.hash)?.is_some() {
            return Err(TxError::AlreadyKnown.into());
        }
        tx.check_static(self.config.spec, self.config.block_gas_limit)?;
        if !self.config.blob_txs && tx.tx.blob_versioned_hashes().is_some() {
            return Err(TxError::TypeNotSupported.into());
        }
        if tx.max_tip() < self.config.min_tip {
            return Err(TxError::Underpriced { tip: tx.max_tip(), min: self.config.min_tip }.into());
        }
        let base_fee = self.next_base_fee();
        if tx.max_fee() < base_fee as u128 {
            return Err(TxError::FeeCapTooLow { address: tx.sender, max_fee: tx.max_fee(), base_fee }.into());
        }
        let state_nonce = self.state.nonce(&tx.sender);
        let replaces = self.pool.check(tx, state_nonce)?;
        let balance = self.state.balance(&tx.sender);
        let cost = tx.max_cost() + self.l1_fee_of(&tx.encoded);
        if balance < cost {
            return Err(TxError::InsufficientFunds { address: tx.sender, have: balance, want: cost }.into());
        }
        Ok(replaces)
    }

    /// The L1 data fee a transaction with this encoding pays at the current L1 prices (zero
    /// on a chain without an L1 fee rule).
    pub fn l1_fee_of(&self, encoded_tx: &[u8]) -> U256 {
        match &self.config.l1_fee {
            Some(rule) => l1_fee(rule, &self.l1_prices, encoded_tx),
            None => U256::ZERO,
        }
    }

    /// What the pending block depends on now.
    fn pending_key(&self) -> PendingKey {
        (self.head.hash, self.pool.generation(), self.edits, self.next_timestamp())
    }

    /// The L1 prices the pool and the next block use.
    pub fn l1_prices(&self) -> L1Prices {
        self.l1_prices
    }

    /// Sets the L1 prices the pool and the next block use.
    pub fn set_l1_prices(&mut self, prices: L1Prices) {
        self.edits += 1;
        self.l1_prices = prices;
    }

    /// The rules the next block executes under (the L1 prices the last ones set).
    pub fn rules(&self) -> BlockRules {
        BlockRules {
            chain_id: self.config.chain_id,
            spec: self.config.spec,
            coinbase: self.config.coinbase,
            gas_limit: self.config.block_gas_limit,
            blob_txs: self.config.blob_txs,
            l1_fee: self.config.l1_fee.map(|rule| (rule, self.l1_prices)),
        }
    }

    /// Timestamp the next block will get: at least one second after its parent.
    pub fn next_timestamp(&self) -> u64 {
        let wall = (unix_now() as i64 + self.time_offset).max(0) as u64;
        let min = self.head.header.timestamp + 1;
        self.next_timestamp.unwrap_or(wall).max(min)
    }

    /// The state after block `number` (the current state for the head). Past states are
    /// rebuilt from the change sets of the blocks after them, up to [`MAX_HISTORY`] blocks back.
    pub fn state_at(&self, number: u64) -> Result<PastState<'_>, ChainError> {
        let head = self.head.header.number;
        if number > head || head - number > MAX_HISTORY {
            return Err(ChainError::HistoricalState { requested: number, head });
        }
        let mut overlay = HistoricalOverlay::from_pending(&self.state);
        for n in (number + 1..=head).rev() {
            let changes =
                self.store.changes(n)?.ok_or_else(|| ChainError::Corrupt(format!("change set {n}")))?;
            overlay.undo(&changes);
        }
        Ok(PastState { current: &self.state, overlay })
    }

    // ---- devnet controls ----
}
