//! The chain: pool, block building, execution, persistence and queries, in one place.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use alloy::{
    consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, constants::EMPTY_WITHDRAWALS, proofs},
    eips::{eip1559::BaseFeeParams, eip7685::EMPTY_REQUESTS_HASH, eip7840::BlobParams},
};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, TxKind, U256, keccak256};
use alloy_rlp::{Decodable, Encodable};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    context_interface::block::BlobExcessGasAndPrice,
    database::CacheDB,
    database_interface::{DatabaseRef, WrapDatabaseRef},
};

use loft_primitives::smt::{SmtProof, SparseMerkleTree};

use crate::{
    config::{ChainConfig, Finality, MAX_HISTORY, unix_now},
    deposit::{LoftReceipt, TxDeposit},
    error::{ChainError, TxError},
    journal::{PendingWrite, PoolJournal},
    l1_fee::{L1Prices, l1_fee},
    pool::TxPool,
    state::{
        AccountBasic, BlockHashes, DbReader, HistoricalOverlay, PastState, StateDbError, StateProof,
        StateReader, StateView, WorldState,
    },
    store::{BlockWrite, Store, StoredTx},
    tx::RecoveredTx,
};

mod build;
mod trace;

pub use build::PendingBlock;

/// A block header with its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedHeader {
    /// The header.
    pub header: Header,
    /// keccak256 of its RLP.
    pub hash: B256,
}

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

/// A mined transaction with where it is.
#[derive(Clone, Debug)]
pub struct MinedTx {
    /// The transaction.
    pub tx: RecoveredTx,
    /// Its block.
    pub block: SealedHeader,
    /// Its index in the block.
    pub index: u64,
}

/// A transaction's receipt with everything `eth_getTransactionReceipt` reports.
#[derive(Clone, Debug)]
pub struct ReceiptInfo {
    /// The transaction.
    pub tx: RecoveredTx,
    /// Its block.
    pub block: SealedHeader,
    /// Its index in the block.
    pub index: u64,
    /// The consensus receipt.
    pub receipt: LoftReceipt,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Price per gas paid.
    pub effective_gas_price: u128,
    /// Index within the block of this receipt's first log.
    pub first_log_index: u64,
    /// Address of the contract created, if any.
    pub contract_address: Option<Address>,
    /// On a rollup, the L1 data fee the transaction paid and the L1 prices it paid at
    /// (`None` for deposits and on an L1).
    pub l1_fee: Option<(U256, L1Prices)>,
}

/// A log with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The log.
    pub log: Log,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Block timestamp.
    pub block_timestamp: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Transaction index.
    pub tx_index: u64,
    /// Index in the block.
    pub log_index: u64,
}

/// A log query: a block range, addresses and topic positions (each an any-of set; empty
/// matches everything).
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
    /// Emitting contracts (empty: any).
    pub addresses: Vec<Address>,
    /// Topic sets by position.
    pub topics: Vec<Vec<B256>>,
}

impl LogQuery {
    fn matches(&self, log: &Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        for (i, set) in self.topics.iter().enumerate() {
            if set.is_empty() {
                continue;
            }
            match log.topics().get(i) {
                Some(t) if set.contains(t) => {}
                _ => return false,
            }
        }
        true
    }

    fn may_match(&self, bloom: &Bloom) -> bool {
        let addr_ok = self.addresses.is_empty()
            || self
                .addresses
                .iter()
                .any(|a| bloom.contains_input(alloy_primitives::BloomInput::Raw(a.as_slice())));
        addr_ok
            && self.topics.iter().all(|set| {
                set.is_empty()
                    || set
                        .iter()
                        .any(|t| bloom.contains_input(alloy_primitives::BloomInput::Raw(t.as_slice())))
            })
    }
}

/// A call for `eth_call` / `eth_estimateGas`.
#[derive(Clone, Debug, Default)]
pub struct CallRequest {
    /// Sender (zero address when absent).
    pub from: Option<Address>,
    /// Recipient; `None` creates a contract.
    pub to: Option<Address>,
    /// Gas limit (block gas limit when absent).
    pub gas: Option<u64>,
    /// Legacy gas price.
    pub gas_price: Option<u128>,
    /// EIP-1559 max fee.
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Value.
    pub value: Option<U256>,
    /// Input data.
    pub input: Bytes,
    /// Nonce (not checked when absent).
    pub nonce: Option<u64>,
    /// Access list.
    pub access_list: Option<alloy::eips::eip2930::AccessList>,
}

/// The outcome of a call.
#[derive(Clone, Debug)]
pub enum CallOutcome {
    /// Returned data.
    Success {
        /// Return data.
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// Reverted with data.
    Revert {
        /// Revert data.
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// Halted (out of gas, invalid opcode...).
    Halt {
        /// Why.
        reason: String,
        /// Gas used.
        gas_used: u64,
    },
}

impl CallOutcome {
    /// The outcome of an execution.
    pub(crate) fn of<H: std::fmt::Debug>(result: ExecutionResult<H>) -> Self {
        match result {
            ExecutionResult::Success { output, gas, .. } => {
                Self::Success { output: output.into_data(), gas_used: gas.tx_gas_used() }
            }
            ExecutionResult::Revert { output, gas, .. } => {
                Self::Revert { output, gas_used: gas.tx_gas_used() }
            }
            ExecutionResult::Halt { reason, gas, .. } => {
                Self::Halt { reason: format!("{reason:?}"), gas_used: gas.tx_gas_used() }
            }
        }
    }
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

/// The state a call runs on: the current one, a past one, or the pending block's.
pub(crate) type CallDb<'a> = dyn DatabaseRef<Error = StateDbError> + 'a;

/// A snapshot for `evm_snapshot` / `evm_revert`.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// Head when taken.
    pub head: u64,
    /// Time offset when taken.
    pub time_offset: i64,
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
}

fn seal(header: Header) -> SealedHeader {
    let mut buf = Vec::new();
    header.encode(&mut buf);
    SealedHeader { hash: keccak256(&buf), header }
}

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
        self.head
            .header
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(self.config.genesis_base_fee)
    }

    /// Blob base fee of the next block.
    pub fn next_blob_base_fee(&self) -> u128 {
        BlobParams::prague().calc_blob_fee(self.next_excess_blob_gas())
    }

    fn next_excess_blob_gas(&self) -> u64 {
        self.head.header.next_block_excess_blob_gas(BlobParams::prague()).unwrap_or_default()
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

    /// The L1 prices the pool and the next block use.
    pub fn l1_prices(&self) -> L1Prices {
        self.l1_prices
    }

    /// Sets the L1 prices the pool and the next block use.
    pub fn set_l1_prices(&mut self, prices: L1Prices) {
        self.l1_prices = prices;
    }

    fn cfg(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.config.spec);
        cfg.chain_id = self.config.chain_id;
        cfg
    }

    fn block_env(
        &self,
        number: u64,
        timestamp: u64,
        base_fee: u64,
        excess_blob_gas: u64,
        prevrandao: B256,
    ) -> BlockEnv {
        BlockEnv {
            number: U256::from(number),
            beneficiary: self.config.coinbase,
            timestamp: U256::from(timestamp),
            gas_limit: self.config.block_gas_limit,
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(prevrandao),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                excess_blob_gas,
                BlobParams::prague().update_fraction as u64,
            )),
            slot_num: 0,
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

    /// Executes a call without changing anything: `at: Some(n)` on the state after block `n`
    /// in block `n`'s environment (number, timestamp, base fee, prevrandao), as geth does for a
    /// block number, hash or tag; `None` on the pending block's state (the pool's best
    /// transactions run on the current one) in the next block's environment (geth's and
    /// anvil's `pending`).
    pub fn call(&self, request: &CallRequest, at: Option<u64>) -> Result<CallOutcome, ChainError> {
        let gas = request.gas.unwrap_or(self.config.block_gas_limit).min(self.config.block_gas_limit);
        self.on_call_state(at, |db, header| self.call_with_gas(db, header, request, gas))
    }

    /// Runs `f` on the state after block `at`, or (`None`) the pending block's.
    pub fn read_state<R>(
        &self,
        at: Option<u64>,
        f: impl FnOnce(&dyn StateReader) -> R,
    ) -> Result<R, ChainError> {
        self.on_call_state(at, |db, _| Ok(f(&DbReader(db))))
    }

    /// Runs `f` on the state a call at `at` sees (see [`Chain::call`]) and the header of its
    /// block (`None`: the next block).
    pub(crate) fn on_call_state<R>(
        &self,
        at: Option<u64>,
        f: impl FnOnce(&CallDb<'_>, Option<&Header>) -> Result<R, ChainError>,
    ) -> Result<R, ChainError> {
        let current = StateView { state: &self.state, hashes: &self.recent };
        match at {
            None if self.pool.is_empty() => f(&current, None),
            None => {
                let mut pending = CacheDB::new(WrapDatabaseRef(current));
                self.run_pending(&mut pending)?;
                f(&pending, None)
            }
            Some(n) if n == self.head.header.number => f(&current, Some(&self.head.header)),
            Some(n) => {
                let header = self.past_header(n)?;
                let past = self.state_at(n)?;
                f(&StateView { state: &past, hashes: &self.recent }, Some(&header))
            }
        }
    }

    fn past_header(&self, n: u64) -> Result<Header, ChainError> {
        let head = self.head.header.number;
        Ok(self.header_by_number(n)?.ok_or(ChainError::HistoricalState { requested: n, head })?.header)
    }

    /// The environment of a call in block `header` (the next block when `None`).
    fn call_env(&self, header: Option<&Header>, priced: bool) -> BlockEnv {
        match header {
            None => self.block_env(
                self.head.header.number + 1,
                self.next_timestamp(),
                if priced { self.next_base_fee() } else { 0 },
                self.next_excess_blob_gas(),
                keccak256(self.head.hash),
            ),
            Some(h) => self.block_env(
                h.number,
                h.timestamp,
                if priced { h.base_fee_per_gas.unwrap_or_default() } else { 0 },
                h.excess_blob_gas.unwrap_or_default(),
                h.mix_hash,
            ),
        }
    }

    fn call_with_gas(
        &self,
        db: &CallDb<'_>,
        header: Option<&Header>,
        request: &CallRequest,
        gas: u64,
    ) -> Result<CallOutcome, ChainError> {
        let (block_env, cfg, tx_env) = self.call_setup(db, header, request, gas)?;
        let from = tx_env.caller;
        let mut evm = Context::mainnet()
            .with_db(WrapDatabaseRef(db))
            .with_block(block_env)
            .with_cfg(cfg)
            .build_mainnet();
        let result = match evm.transact(tx_env) {
            Ok(r) => r.result,
            Err(EVMError::Transaction(reason)) => {
                return Err(ChainError::Invalid(call_error_message(&reason, from)));
            }
            Err(e) => return Err(evm_error(e)),
        };
        Ok(CallOutcome::of(result))
    }

    /// The environments of a call: its block's (the next block when `header` is `None`), a
    /// configuration that skips what a call need not pay for (nonce, base fee and balance
    /// unless it is priced), and the transaction.
    pub(crate) fn call_setup(
        &self,
        db: &CallDb<'_>,
        header: Option<&Header>,
        request: &CallRequest,
        gas: u64,
    ) -> Result<(BlockEnv, CfgEnv, TxEnv), ChainError> {
        let priced = request.gas_price.is_some() || request.max_fee_per_gas.is_some();
        let block_env = self.call_env(header, priced);
        let mut cfg = self.cfg();
        cfg.disable_nonce_check = request.nonce.is_none();
        cfg.disable_base_fee = !priced;
        cfg.disable_eip3607 = true;
        cfg.disable_balance_check = !priced && request.value.is_none_or(|v| v.is_zero());
        let from = request.from.unwrap_or_default();
        let tx_env = TxEnv {
            tx_type: if request.max_fee_per_gas.is_some() {
                2
            } else if request.access_list.is_some() {
                1
            } else {
                0
            },
            caller: from,
            gas_limit: gas,
            gas_price: request.max_fee_per_gas.or(request.gas_price).unwrap_or_default(),
            kind: match request.to {
                Some(to) => TxKind::Call(to),
                None => TxKind::Create,
            },
            value: request.value.unwrap_or_default(),
            data: request.input.clone(),
            nonce: match request.nonce {
                Some(nonce) => nonce,
                None => db.basic_ref(from).map_err(evm_error)?.map(|a| a.nonce).unwrap_or_default(),
            },
            chain_id: Some(self.config.chain_id),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee: request.max_priority_fee_per_gas.or(request.max_fee_per_gas.map(|_| 0)),
            blob_hashes: vec![],
            max_fee_per_blob_gas: 0,
            authorization_list: vec![],
        };
        Ok((block_env, cfg, tx_env))
    }
    /// The least gas limit with which the call succeeds at block `at` (binary search, as geth
    /// does).
    pub fn estimate_gas(
        &self,
        request: &CallRequest,
        at: Option<u64>,
    ) -> Result<Result<u64, CallOutcome>, ChainError> {
        self.on_call_state(at, |db, header| self.estimate_with(db, header, request))
    }

    fn estimate_with(
        &self,
        db: &CallDb<'_>,
        header: Option<&Header>,
        request: &CallRequest,
    ) -> Result<Result<u64, CallOutcome>, ChainError> {
        let cap = request.gas.unwrap_or(self.config.block_gas_limit).min(self.config.block_gas_limit);
        let first = self.call_with_gas(db, header, request, cap)?;
        let used = match first {
            CallOutcome::Success { gas_used, .. } => gas_used,
            failed => return Ok(Err(failed)),
        };
        let mut lo = used.saturating_sub(1);
        let mut hi = cap;
        // Most calls succeed with what they used plus the 63/64 reserve; try that first.
        let guess = (used + 2300) * 64 / 63;
        if guess < hi {
            match self.call_with_gas(db, header, request, guess)? {
                CallOutcome::Success { .. } => hi = guess,
                _ => lo = guess,
            }
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            match self.call_with_gas(db, header, request, mid)? {
                CallOutcome::Success { .. } => hi = mid,
                _ => lo = mid,
            }
        }
        Ok(Ok(hi))
    }

    /// Header by number.
    pub fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, ChainError> {
        if number == self.head.header.number {
            return Ok(Some(self.head.clone()));
        }
        match self.store.header_rlp(number)? {
            Some(rlp) => Ok(Some(seal(Header::decode(&mut rlp.as_slice())?))),
            None => Ok(None),
        }
    }

    /// Header by hash.
    pub fn header_by_hash(&self, hash: &B256) -> Result<Option<SealedHeader>, ChainError> {
        match self.store.number_of(hash)? {
            Some(n) => self.header_by_number(n),
            None => Ok(None),
        }
    }

    /// Transactions of a block.
    pub fn block_txs(&self, number: u64) -> Result<Vec<RecoveredTx>, ChainError> {
        let body = self.store.body(number)?.unwrap_or_default();
        body.iter()
            .map(|s| {
                RecoveredTx::from_block(&s.raw, s.sender).map_err(|e| ChainError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// A mined transaction.
    pub fn mined_tx(&self, hash: &B256) -> Result<Option<MinedTx>, ChainError> {
        let Some((number, index)) = self.store.tx_location(hash)? else {
            return Ok(None);
        };
        let block =
            self.header_by_number(number)?.ok_or_else(|| ChainError::Corrupt(format!("block {number}")))?;
        let body = self.store.body(number)?.unwrap_or_default();
        let stored = body.get(index as usize).ok_or_else(|| ChainError::Corrupt(format!("tx {hash}")))?;
        let tx = RecoveredTx::from_block(&stored.raw, stored.sender)
            .map_err(|e| ChainError::Corrupt(e.to_string()))?;
        Ok(Some(MinedTx { tx, block, index: index as u64 }))
    }

    /// Receipts of a block with everything the RPC reports.
    pub fn block_receipts(&self, number: u64) -> Result<Option<Vec<ReceiptInfo>>, ChainError> {
        let Some(block) = self.header_by_number(number)? else {
            return Ok(None);
        };
        let txs = self.block_txs(number)?;
        let receipts = self.store.receipts(number)?.unwrap_or_default();
        let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
        let mut out = Vec::with_capacity(txs.len());
        let mut prev_cumulative = 0u64;
        let mut log_index = 0u64;
        let l1_pricing = match (self.config.l1_fee, self.config.l1_prices_reader, txs.first()) {
            (Some(rule), Some(read), Some(first)) => {
                first.tx.as_deposit().and_then(|d| read(&d.input)).map(|prices| (rule, prices))
            }
            _ => None,
        };
        for (i, (tx, raw)) in txs.into_iter().zip(receipts).enumerate() {
            let l1_fee = match &l1_pricing {
                Some((rule, prices)) if !tx.is_deposit() => {
                    Some((l1_fee(rule, prices, &tx.encoded), *prices))
                }
                _ => None,
            };
            let receipt =
                LoftReceipt::decode_2718(raw.as_ref()).map_err(|e| ChainError::Corrupt(e.to_string()))?;
            let cumulative = receipt.cumulative_gas_used();
            let logs = receipt.logs().len() as u64;
            let creator_nonce = receipt.deposit_nonce().unwrap_or_else(|| tx.nonce());
            let contract_address = tx.tx.kind().is_create().then(|| tx.sender.create(creator_nonce));
            out.push(ReceiptInfo {
                effective_gas_price: tx.tx.effective_gas_price(Some(base_fee)),
                gas_used: cumulative - prev_cumulative,
                first_log_index: log_index,
                contract_address,
                l1_fee,
                index: i as u64,
                block: block.clone(),
                receipt,
                tx,
            });
            prev_cumulative = cumulative;
            log_index += logs;
        }
        Ok(Some(out))
    }

    /// Receipt of one transaction.
    pub fn receipt(&self, hash: &B256) -> Result<Option<ReceiptInfo>, ChainError> {
        let Some((number, index)) = self.store.tx_location(hash)? else {
            return Ok(None);
        };
        Ok(self.block_receipts(number)?.and_then(|r| r.into_iter().nth(index as usize)))
    }

    /// Logs matching a query, in chain order.
    pub fn logs(&self, query: &LogQuery) -> Result<Vec<LogEntry>, ChainError> {
        let mut out = Vec::new();
        let to = query.to.min(self.head.header.number);
        for number in query.from..=to {
            let Some(block) = self.header_by_number(number)? else {
                continue;
            };
            if !query.may_match(&block.header.logs_bloom) {
                continue;
            }
            self.block_logs(&block, query, &mut out)?;
        }
        Ok(out)
    }

    /// Logs of one block matching a query.
    pub fn block_logs(
        &self,
        block: &SealedHeader,
        query: &LogQuery,
        out: &mut Vec<LogEntry>,
    ) -> Result<(), ChainError> {
        let Some(receipts) = self.block_receipts(block.header.number)? else {
            return Ok(());
        };
        for r in receipts {
            for (i, log) in r.receipt.logs().iter().enumerate() {
                if query.matches(log) {
                    out.push(LogEntry {
                        log: log.clone(),
                        block_number: block.header.number,
                        block_hash: block.hash,
                        block_timestamp: block.header.timestamp,
                        tx_hash: r.tx.hash,
                        tx_index: r.index,
                        log_index: r.first_log_index + i as u64,
                    });
                }
            }
        }
        Ok(())
    }

    /// Proof of an account and storage slots against the current state root.
    pub fn prove(&mut self, address: &Address, slots: &[U256]) -> StateProof {
        self.state.prove(address, slots)
    }

    /// An account's storage root and proofs of some of its slots as of block `number`: its
    /// storage tree rebuilt from the current slots with the change sets of every later block
    /// undone (a rollup proves withdrawals against the message passer's storage at the block
    /// of an output root, not at the head). Returns (storage root, [(slot, value, proof)]).
    #[allow(clippy::type_complexity)]
    pub fn storage_proofs_at(
        &self,
        address: &Address,
        slots: &[U256],
        number: u64,
    ) -> Result<(B256, Vec<(U256, U256, SmtProof)>), ChainError> {
        let head = self.head.header.number;
        if number > head || head - number > MAX_HISTORY {
            return Err(ChainError::HistoricalState { requested: number, head });
        }
        let mut storage: HashMap<U256, U256> = self.state.storage_of(address).cloned().unwrap_or_default();
        let mut restore = |slot: U256, before: U256| {
            if before.is_zero() {
                storage.remove(&slot);
            } else {
                storage.insert(slot, before);
            }
        };
        for ((a, slot), before) in self.state.pending_slots() {
            if a == address {
                restore(*slot, *before);
            }
        }
        for n in (number + 1..=head).rev() {
            let changes =
                self.store.changes(n)?.ok_or_else(|| ChainError::Corrupt(format!("change set {n}")))?;
            for c in changes.storage.iter().filter(|c| &c.address == address) {
                restore(c.slot, c.before);
            }
        }
        let mut tree = SparseMerkleTree::new();
        for (slot, value) in &storage {
            tree.insert(crate::state::storage_key(slot), B256::from(*value));
        }
        let root = tree.root();
        let proofs = slots
            .iter()
            .map(|slot| {
                (
                    *slot,
                    storage.get(slot).copied().unwrap_or_default(),
                    tree.prove(&crate::state::storage_key(slot)),
                )
            })
            .collect();
        Ok((root, proofs))
    }

    /// A blob by versioned hash.
    pub fn blob(&self, versioned_hash: &B256) -> Result<Option<Bytes>, ChainError> {
        self.store.blob(versioned_hash)
    }

    // ---- devnet controls ----

    /// Sets an account's balance (included in the next block's change set).
    pub fn set_balance(&mut self, address: Address, balance: U256) {
        let mut basic = self.state.basic(&address).cloned().unwrap_or_default();
        basic.balance = balance;
        self.state.set_basic(address, basic);
    }

    /// Sets an account's nonce.
    pub fn set_nonce(&mut self, address: Address, nonce: u64) {
        let mut basic: AccountBasic = self.state.basic(&address).cloned().unwrap_or_default();
        basic.nonce = nonce;
        self.state.set_basic(address, basic);
    }

    /// Sets an account's code.
    pub fn set_code(&mut self, address: Address, code: Bytes) {
        self.state.set_code(address, code);
    }

    /// Sets a storage slot.
    pub fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.state.set_slot(address, slot, value);
    }

    /// Moves the clock forward by `seconds`: the next block is at least that much later than
    /// it would have been (even when blocks were mined faster than the wall clock); returns the
    /// total offset.
    pub fn increase_time(&mut self, seconds: u64) -> Result<i64, ChainError> {
        let would_be = self.next_timestamp();
        self.next_timestamp = Some(would_be.saturating_add(seconds));
        self.time_offset += seconds as i64;
        self.store.set_time_offset(self.time_offset)?;
        Ok(self.time_offset)
    }

    /// Fixes the next block's timestamp.
    pub fn set_next_timestamp(&mut self, timestamp: u64) -> Result<(), ChainError> {
        if timestamp <= self.head.header.timestamp {
            return Err(ChainError::Invalid(format!(
                "timestamp {timestamp} is not after the head's {}",
                self.head.header.timestamp
            )));
        }
        self.next_timestamp = Some(timestamp);
        Ok(())
    }

    /// A snapshot of the current head.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { head: self.head.header.number, time_offset: self.time_offset }
    }

    /// Rewinds to a snapshot (or any earlier block): blocks above it are removed, their state
    /// changes undone, and their transactions returned to the pool. Used by `evm_revert` and to
    /// follow an L1 reorg.
    pub fn rewind_to(&mut self, number: u64) -> Result<(), ChainError> {
        if number >= self.head.header.number {
            return Ok(());
        }
        // Devnet edits not yet in a block are dropped with the rewind.
        let (pending, _) = self.state.take_changes();
        self.state.undo(&pending);
        let undone = self.store.rewind_to(number)?;
        for (changes, _) in undone.iter().rev() {
            self.state.undo(changes);
        }
        self.state.clear_journal();
        let root = self.state.state_root();
        let head =
            self.header_by_number(number)?.ok_or_else(|| ChainError::Corrupt(format!("header {number}")))?;
        if root != head.header.state_root {
            return Err(ChainError::Corrupt(format!("rewound state root {root} != block {number}'s")));
        }
        self.head = head;
        self.recent = RecentHashes::default();
        for n in number.saturating_sub(255)..=number {
            if let Some(h) = self.header_by_number(n)? {
                self.recent.push(n, h.hash);
            }
        }
        self.next_timestamp = None;
        // Safe and finalized come down with the head, so that they name only blocks derived
        // again.
        let (safe, finalized) = self.forkchoice;
        if safe > number {
            self.forkchoice = (number, finalized.min(number));
            self.store.set_forkchoice(self.forkchoice.0, self.forkchoice.1)?;
        }
        // Rewound transactions go back to the pool, as a reorged-out transaction would.
        for (_, txs) in undone {
            for stored in txs {
                // Deposits come back from L1 (derivation), never through the pool.
                if let Ok(tx) = RecoveredTx::from_block(&stored.raw, stored.sender)
                    && !tx.is_deposit()
                {
                    let _ = self.submit(tx);
                }
            }
        }
        Ok(())
    }

    /// The block the `safe` tag names.
    pub fn safe_number(&self) -> u64 {
        let head = self.head.header.number;
        match self.config.finality {
            Finality::Depth { safe, .. } => head.saturating_sub(safe),
            Finality::External => self.forkchoice.0.min(head),
        }
    }

    /// The block the `finalized` tag names.
    pub fn finalized_number(&self) -> u64 {
        let head = self.head.header.number;
        match self.config.finality {
            Finality::Depth { finalized, .. } => head.saturating_sub(finalized),
            Finality::External => self.forkchoice.1.min(head),
        }
    }

    /// Records the safe and finalized blocks (under [`Finality::External`]); durable before it
    /// returns. Finalized never moves back, and neither may pass the head or each other.
    pub fn set_forkchoice(&mut self, safe: u64, finalized: u64) -> Result<(), ChainError> {
        let head = self.head.header.number;
        if safe > head || finalized > safe {
            return Err(ChainError::InvalidForkchoice { safe, finalized, head });
        }
        let finalized = finalized.max(self.forkchoice.1.min(safe));
        if (safe, finalized) != self.forkchoice {
            self.store.set_forkchoice(safe, finalized)?;
            self.forkchoice = (safe, finalized);
        }
        Ok(())
    }

    /// Reverts to a snapshot, restoring its clock.
    pub fn revert_to(&mut self, snapshot: Snapshot) -> Result<(), ChainError> {
        self.rewind_to(snapshot.head)?;
        self.time_offset = snapshot.time_offset;
        self.store.set_time_offset(self.time_offset)
    }

    /// Empties the pool (used by `evm_revert`, which forgets pending transactions as anvil does).
    pub fn clear_pool(&mut self) -> Result<(), ChainError> {
        let hashes: Vec<B256> = self.pool.all().map(|t| t.hash).collect();
        for h in &hashes {
            self.pool.remove(h);
        }
        self.store.remove_pooled(&hashes)
    }
}

fn call_error_message(reason: &InvalidTransaction, from: Address) -> String {
    match reason {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: address {from} have {balance} want {fee}")
        }
        InvalidTransaction::NonceTooLow { tx, state: s } => {
            format!("nonce too low: address {from}, tx: {tx} state: {s}")
        }
        InvalidTransaction::NonceTooHigh { tx, state: s } => {
            format!("nonce too high: address {from}, tx: {tx} state: {s}")
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        other => other.to_string(),
    }
}
