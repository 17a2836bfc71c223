//! Block building: the next block's environment, the execution of its transactions over any
//! revm database (the chain's own state for a block it keeps, a scratch state for the pending
//! block, an overlay for a call at `pending`), and its header.

use std::{collections::HashMap, sync::Arc};

use alloy::{
    consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, constants::EMPTY_WITHDRAWALS, proofs},
    eips::{Typed2718, eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH, eip7840::BlobParams},
};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use alloy_rlp::Encodable;
use revm::{
    Context, Database, DatabaseCommit, ExecuteCommitEvm, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv,
        result::{EVMError, InvalidTransaction},
    },
    context_interface::ContextTr,
    primitives::eip4844::GAS_PER_BLOB,
    state::{Account, AccountInfo, AccountStatus},
};

use super::{BlockSpec, BuiltBlock, Chain, SealedHeader, evm_error, seal};
use crate::{
    deposit::{DEPOSIT_TX_TYPE, LoftReceipt, TxDeposit},
    error::{ChainError, TxError},
    l1_fee::{L1FeeConfig, L1Prices, l1_fee},
    pool::TxPool,
    state::StateDb,
    store::{BlockWrite, StoredTx},
    tx::{BlockTx, RecoveredTx},
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

/// The next block's environment.
pub(super) struct NextBlock {
    pub(super) number: u64,
    pub(super) timestamp: u64,
    pub(super) base_fee: u64,
    pub(super) excess_blob_gas: u64,
    pub(super) prevrandao: B256,
    pub(super) block_env: BlockEnv,
    pub(super) cfg: CfgEnv,
}

/// What a block's rules need from the chain beyond the environment.
pub(super) struct BlockRules {
    gas_limit: u64,
    blob_txs: bool,
    l1_fee: Option<(L1FeeConfig, L1Prices)>,
}

/// What running a block's transactions produced.
pub(super) struct Executed {
    included: Vec<Arc<RecoveredTx>>,
    receipts: Vec<LoftReceipt>,
    dropped: Vec<(B256, String)>,
    gas_used: u64,
    blob_gas_used: u64,
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
        let number = parent.header.number + 1;
        let base_fee = self.next_base_fee();
        let excess_blob_gas = self.next_excess_blob_gas();
        let prevrandao = prevrandao.unwrap_or_else(|| keccak256(parent.hash));
        Ok(NextBlock {
            number,
            timestamp,
            base_fee,
            excess_blob_gas,
            prevrandao,
            block_env: self.block_env(number, timestamp, base_fee, excess_blob_gas, prevrandao),
            cfg: self.cfg(),
        })
    }

    pub(super) fn rules(&self) -> BlockRules {
        BlockRules {
            gas_limit: self.config.block_gas_limit,
            blob_txs: self.config.blob_txs,
            l1_fee: self.config.l1_fee.map(|rule| (rule, self.l1_prices)),
        }
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
        let logs_bloom = executed.receipts.iter().fold(Bloom::ZERO, |mut acc, r| {
            acc.accrue_bloom(r.logs_bloom());
            acc
        });
        let envelopes: Vec<&BlockTx> = executed.included.iter().map(|t| &t.tx).collect();
        seal(Header {
            parent_hash: self.head.hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.config.coinbase,
            state_root,
            transactions_root: proofs::ordered_trie_root_with_encoder(&envelopes, |tx, buf| {
                tx.encode_2718(buf)
            }),
            receipts_root: proofs::ordered_trie_root_with_encoder(&executed.receipts, |r, buf| {
                r.encode_2718(buf)
            }),
            logs_bloom,
            difficulty: U256::ZERO,
            number: next.number,
            gas_limit: self.config.block_gas_limit,
            gas_used: executed.gas_used,
            timestamp: next.timestamp,
            extra_data: extra_data.unwrap_or_else(|| self.config.extra_data.clone()),
            mix_hash: next.prevrandao,
            nonce: Default::default(),
            base_fee_per_gas: Some(next.base_fee),
            withdrawals_root: Some(EMPTY_WITHDRAWALS),
            blob_gas_used: Some(executed.blob_gas_used),
            excess_blob_gas: Some(next.excess_blob_gas),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        })
    }
}

/// An account's fields in `db` (empty when absent).
fn account<DB>(db: &mut DB, address: Address) -> Result<AccountInfo, ChainError>
where
    DB: Database,
    DB::Error: std::fmt::Display,
{
    Ok(db.basic(address).map_err(evm_error)?.unwrap_or_default())
}

/// Writes an account's fields (its storage untouched) through the database's commit.
fn put_account<DB: DatabaseCommit>(db: &mut DB, address: Address, info: AccountInfo) {
    let mut account = Account::from(info);
    account.status = AccountStatus::Touched;
    db.commit(std::iter::once((address, account)).collect());
}

/// Runs a block's deposits, then its transactions (the given ones, or the pool's best), over
/// `db` in `next`'s environment, committing each.
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
    let blob_params = BlobParams::prague();
    let gas_limit = rules.gas_limit;
    let mut included: Vec<Arc<RecoveredTx>> = Vec::new();
    let mut receipts: Vec<LoftReceipt> = Vec::new();
    let mut cumulative_gas = 0u64;

    // Deposits: mint, then run at gas price zero; a failed one still bumps the nonce and
    // uses its whole gas limit (the OP Stack's rule), so it can not be replayed.
    if !deposits.is_empty() {
        let mut deposit_cfg = next.cfg.clone();
        deposit_cfg.disable_base_fee = true;
        deposit_cfg.disable_eip3607 = true;
        deposit_cfg.disable_block_gas_limit = true;
        for deposit in deposits {
            let tx = Arc::new(RecoveredTx::deposit(deposit));
            let from = tx.sender;
            let mint = tx.tx.as_deposit().map(|d| d.mint).unwrap_or_default();
            let mut info = account(db, from)?;
            let nonce = info.nonce;
            if mint > 0 {
                info.balance = info.balance.saturating_add(U256::from(mint));
                put_account(db, from, info);
            }
            let outcome = Context::mainnet()
                .with_db(&mut *db)
                .with_block(next.block_env.clone())
                .with_cfg(deposit_cfg.clone())
                .build_mainnet()
                .transact_commit(tx.tx_env(nonce));
            let (success, gas_used, logs) = match outcome {
                Ok(result) => (result.is_success(), result.gas().tx_gas_used(), result.logs().to_vec()),
                Err(EVMError::Transaction(_)) => {
                    let mut info = account(db, from)?;
                    info.nonce = nonce + 1;
                    put_account(db, from, info);
                    (false, tx.gas_limit(), vec![])
                }
                Err(e) => return Err(evm_error(e)),
            };
            cumulative_gas += gas_used;
            receipts.push(LoftReceipt::new(DEPOSIT_TX_TYPE, success, cumulative_gas, logs, nonce));
            included.push(tx);
        }
    }

    let from_pool = txs.is_none();
    let candidates: Vec<Arc<RecoveredTx>> = match txs {
        Some(given) => given,
        None => {
            let mut nonces = HashMap::new();
            for sender in pool.senders() {
                nonces.insert(*sender, account(db, *sender)?.nonce);
            }
            let mut best = pool.best(next.base_fee, |a| nonces.get(a).copied().unwrap_or_default());
            // Collect lazily bounded by what can fit; execution decides the rest.
            let mut out = Vec::new();
            let mut gas = cumulative_gas;
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
            out
        }
    };

    let mut evm = Context::mainnet()
        .with_db(&mut *db)
        .with_block(next.block_env.clone())
        .with_cfg(next.cfg.clone())
        .build_mainnet();
    let mut dropped: Vec<(B256, String)> = Vec::new();
    let mut skipped_senders: Vec<Address> = Vec::new();
    let mut blob_gas_used = 0u64;
    for tx in candidates {
        if tx.is_deposit() {
            dropped.push((tx.hash, "a deposit can only come from L1".into()));
            continue;
        }
        // From the pool, a sender's later transactions wait behind one that can not run;
        // a given list (a derived block) judges each transaction on its own.
        if from_pool && skipped_senders.contains(&tx.sender) {
            continue;
        }
        if cumulative_gas + tx.gas_limit() > gas_limit {
            skipped_senders.push(tx.sender);
            if !from_pool {
                dropped.push((tx.hash, "exceeds the block's gas limit".into()));
            }
            continue;
        }
        if !rules.blob_txs && tx.tx.blob_versioned_hashes().is_some() {
            dropped.push((tx.hash, TxError::TypeNotSupported.to_string()));
            continue;
        }
        let tx_blob_gas =
            tx.tx.blob_versioned_hashes().map(|h| h.len() as u64 * GAS_PER_BLOB).unwrap_or_default();
        if blob_gas_used + tx_blob_gas > blob_params.max_blob_gas_per_block() {
            skipped_senders.push(tx.sender);
            if !from_pool {
                dropped.push((tx.hash, "exceeds the block's blob gas limit".into()));
            }
            continue;
        }
        // The L1 data fee is taken before execution (the sender must afford it and the
        // gas), handed back if the transaction turns out not to be executable, and paid
        // to the vault once it ran.
        let l1_charge = match &rules.l1_fee {
            Some((rule, prices)) if !l1_fee(rule, prices, &tx.encoded).is_zero() => {
                let fee = l1_fee(rule, prices, &tx.encoded);
                let db = evm.ctx.db_mut();
                let mut info = account(db, tx.sender)?;
                if info.balance < fee {
                    skipped_senders.push(tx.sender);
                    dropped.push((tx.hash, "insufficient funds for the L1 data fee".into()));
                    continue;
                }
                info.balance -= fee;
                put_account(db, tx.sender, info);
                Some((rule.vault, fee))
            }
            _ => None,
        };
        let outcome = evm.transact_commit(tx.tx_env(0));
        if let Some((vault, fee)) = l1_charge {
            let db = evm.ctx.db_mut();
            let to = if outcome.is_ok() { vault } else { tx.sender };
            let mut info = account(db, to)?;
            info.balance = info.balance.saturating_add(fee);
            put_account(db, to, info);
        }
        match outcome {
            Ok(result) => {
                let gas_used = result.gas().tx_gas_used();
                cumulative_gas += gas_used;
                blob_gas_used += tx_blob_gas;
                receipts.push(LoftReceipt::new(
                    tx.tx.ty(),
                    result.is_success(),
                    cumulative_gas,
                    result.logs().to_vec(),
                    0,
                ));
                included.push(tx);
            }
            Err(EVMError::Transaction(reason)) => {
                // Not executable any more (balance spent, fee too low): leave it out. Nonce
                // errors keep a pooled transaction queued; anything else drops it.
                skipped_senders.push(tx.sender);
                if !from_pool
                    || !matches!(
                        reason,
                        InvalidTransaction::NonceTooHigh { .. } | InvalidTransaction::GasPriceLessThanBasefee
                    )
                {
                    dropped.push((tx.hash, reason.to_string()));
                }
            }
            Err(e) => return Err(evm_error(e)),
        }
    }
    Ok(Executed { included, receipts, dropped, gas_used: cumulative_gas, blob_gas_used })
}
