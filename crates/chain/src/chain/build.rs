//! Block building: the next block's environment, the execution of its transactions over any
//! revm database (the chain's own state for a block it keeps, a scratch state for the pending
//! block, an overlay for a call at `pending`), and its header.

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::{B256, Bytes};
use alloy_rlp::Encodable;
use loft_evm::{BlockExecutor, BlockRules, Executed, NextBlock, TxSource};
use revm::{Database, DatabaseCommit};

use super::{BlockSpec, BuiltBlock, Chain, SealedHeader};
use crate::{
    deposit::{LoftReceipt, TxDeposit},
    error::ChainError,
    pool::TxPool,
    state::StateDb,
    store::{BlockWrite, StoredTx},
    tx::RecoveredTx,
};

/// The block that would be mined now: the pool's best transactions run on the current state
/// in the next block's environment, as geth and anvil serve `pending`. Nothing is kept.
#[derive(Clone, Debug)]
pub struct PendingBlock {
    /// Its header (number head + 1, the state root after its transactions).
    pub header: SealedHeader,
    /// Its transactions, in order.
    pub txs: Vec<RecoveredTx>,
    /// Their receipts.
    pub receipts: Vec<LoftReceipt>,
}

impl Chain {
    /// The next block's environment, at `timestamp` (after the parent's) or the next one.
    pub(super) fn next_block(
        &self,
        timestamp: Option<u64>,
        prevrandao: Option<B256>,
    ) -> Result<NextBlock, ChainError> {
        let parent = &self.head;
        let timestamp = match timestamp {
            Some(t) if t <= parent.header.timestamp => {
                return Err(ChainError::InvalidBlock(format!(
                    "timestamp {t} is not after the parent's {}",
                    parent.header.timestamp
                )));
            }
            Some(t) => t,
            None => self.next_timestamp(),
        };
        Ok(self.rules().next_block(parent, self.config.genesis_base_fee, timestamp, prevrandao))
    }

    /// Builds, executes and persists the next block from the pool.
    pub fn build_block(&mut self) -> Result<BuiltBlock, ChainError> {
        self.build_block_with(BlockSpec::default())
    }

    /// Builds, executes and persists the next block as `spec` says: its deposits first (each
    /// is included, even when its execution fails), then the pool's best transactions or
    /// exactly the given ones, in order, leaving out those that can not execute.
    pub fn build_block_with(&mut self, spec: BlockSpec) -> Result<BuiltBlock, ChainError> {
        let next = self.next_block(spec.timestamp, spec.prevrandao)?;
        self.next_timestamp = None;
        if let Some(prices) = spec.l1_prices {
            self.l1_prices = prices;
        }
        let rules = self.rules();
        let mut db = StateDb { state: &mut self.state, hashes: &self.recent };
        let executed = execute(&mut db, &rules, &next, spec.deposits, spec.txs, &self.pool)?;
        let state_root = self.state.state_root();
        let (changes, new_code) = self.state.take_changes();
        let sealed = self.seal_next(&next, &executed, state_root, spec.extra_data);
        let Executed { included, receipts, dropped, .. } = executed;

        let mut header_rlp = Vec::new();
        sealed.header.encode(&mut header_rlp);
        let txs: Vec<StoredTx> =
            included.iter().map(|t| StoredTx { raw: t.encoded.clone(), sender: t.sender }).collect();
        let receipt_bytes: Vec<Bytes> = receipts.iter().map(|r| Bytes::from(r.encoded_2718())).collect();
        let tx_hashes: Vec<B256> = included.iter().map(|t| t.hash).collect();
        self.store.write_block(
            self.config.chain_id,
            BlockWrite {
                number: next.number,
                hash: sealed.hash,
                header_rlp: &header_rlp,
                txs: &txs,
                receipts: &receipt_bytes,
                tx_hashes: &tx_hashes,
                changes: &changes,
                new_code: &new_code,
            },
        )?;
        for hash in &tx_hashes {
            self.pool.remove(hash);
        }
        let dropped_hashes: Vec<B256> = dropped.iter().map(|(h, _)| *h).collect();
        for hash in &dropped_hashes {
            self.pool.remove(hash);
        }
        let state = &self.state;
        let stale = self.pool.prune_stale(|a| state.nonce(a));
        self.store.remove_pooled(&[dropped_hashes, stale].concat())?;
        self.recent.push(next.number, sealed.hash);
        self.head = sealed.clone();
        Ok(BuiltBlock { header: sealed, tx_hashes, receipts, dropped })
    }

    /// The block that would be mined now ([`PendingBlock`]): executed on the current state,
    /// which is left as it was.
    pub fn pending_block(&mut self) -> Result<PendingBlock, ChainError> {
        // kept while nothing it depends on changes, as the state for calls at `pending` is
        let key = self.pending_key();
        if let Some((kept, block)) = &self.pending_block_cache
            && *kept == key
        {
            return Ok(block.clone());
        }
        let block = self.build_pending_block()?;
        self.pending_block_cache = Some((key, block.clone()));
        Ok(block)
    }

    fn build_pending_block(&mut self) -> Result<PendingBlock, ChainError> {
        let next = self.next_block(None, None)?;
        let rules = self.rules();
        let (recent, pool) = (&self.recent, &self.pool);
        let (executed, state_root) = self.state.scratch(|state| {
            let mut db = StateDb { state, hashes: recent };
            let executed = execute(&mut db, &rules, &next, Vec::new(), None, pool)?;
            Ok::<_, ChainError>((executed, state.state_root()))
        })?;
        let header = self.seal_next(&next, &executed, state_root, None);
        Ok(PendingBlock {
            header,
            txs: executed.included.iter().map(|t| RecoveredTx::clone(t)).collect(),
            receipts: executed.receipts,
        })
    }

    /// Runs the pool's best transactions over `db` as the next block would (for a call at
    /// `pending`); the environment of that block.
    pub(super) fn run_pending<DB>(&self, db: &mut DB) -> Result<NextBlock, ChainError>
    where
        DB: Database + DatabaseCommit,
        DB::Error: std::fmt::Display,
    {
        let next = self.next_block(None, None)?;
        execute(db, &self.rules(), &next, Vec::new(), None, &self.pool)?;
        Ok(next)
    }

    /// The header of the next block after `executed`.
    fn seal_next(
        &self,
        next: &NextBlock,
        executed: &Executed,
        state_root: B256,
        extra_data: Option<Bytes>,
    ) -> SealedHeader {
        let extra_data = extra_data.unwrap_or_else(|| self.config.extra_data.clone());
        self.rules().seal_block(self.head.hash, next, executed, state_root, extra_data)
    }
}

/// Runs a block's deposits, then its transactions (the given ones, or the pool's best as
/// they stand after the deposits), over `db` in `next`'s environment, committing each.
fn execute<DB>(
    db: &mut DB,
    rules: &BlockRules,
    next: &NextBlock,
    deposits: Vec<TxDeposit>,
    txs: Option<Vec<Arc<RecoveredTx>>>,
    pool: &TxPool,
) -> Result<Executed, ChainError>
where
    DB: Database + DatabaseCommit,
    DB::Error: std::fmt::Display,
{
    let mut block = BlockExecutor::new(db, rules, next);
    block.apply_deposits(deposits)?;
    let (candidates, source) = match txs {
        Some(given) => (given, TxSource::Given),
        None => {
            let gas_used = block.gas_used();
            (pool_candidates(block.db_mut(), pool, next.base_fee, rules.gas_limit, gas_used)?, TxSource::Pool)
        }
    };
    block.apply_txs(candidates, source)?;
    Ok(block.finish())
}

/// The pool's best transactions at `base_fee` by the nonces in `db`, as many as may fit in
/// what is left of the block's gas (execution decides the rest).
fn pool_candidates<DB>(
    db: &mut DB,
    pool: &TxPool,
    base_fee: u64,
    gas_limit: u64,
    gas_used: u64,
) -> Result<Vec<Arc<RecoveredTx>>, ChainError>
where
    DB: Database,
    DB::Error: std::fmt::Display,
{
    let mut nonces = HashMap::new();
    for sender in pool.senders() {
        nonces.insert(*sender, loft_evm::block::account(db, *sender)?.nonce);
    }
    let mut best = pool.best(base_fee, |a| nonces.get(a).copied().unwrap_or_default());
    let mut out = Vec::new();
    let mut gas = gas_used;
    for tx in best.by_ref() {
        if gas.saturating_add(21_000) > gas_limit {
            break;
        }
        gas = gas.saturating_add(tx.gas_limit().min(gas_limit));
        out.push(tx);
        if out.len() > 50_000 {
            break;
        }
    }
    Ok(out)
}
