//! One block's state transition from given inputs: its environment from its parent, its
//! deposits and transactions run over any revm database (committing each), and its header.
//!
//! Every loft EVM chain builds and replays blocks through [`BlockExecutor`]: the engine for
//! a block it keeps, for the `pending` block and for calls at `pending`; a fault proof for
//! the block it re-executes.

use alloc::{
    string::{String, ToString},
    sync::Arc,
    vec,
    vec::Vec,
};

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, Transaction, constants::EMPTY_WITHDRAWALS, proofs};
use alloy_eips::{
    Typed2718, eip1559::BaseFeeParams, eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH,
    eip7840::BlobParams,
};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use alloy_rlp::Encodable;
use revm::{
    Context, Database, DatabaseCommit, ExecuteCommitEvm, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv,
        result::{EVMError, InvalidTransaction},
    },
    context_interface::{ContextTr, block::BlobExcessGasAndPrice},
    primitives::{eip4844::GAS_PER_BLOB, hardfork::SpecId},
    state::{Account, AccountInfo, AccountStatus},
};

use crate::{
    deposit::{DEPOSIT_TX_TYPE, LoftReceipt, TxDeposit},
    error::{ExecError, TxError},
    l1_fee::{L1FeeConfig, L1Prices, l1_fee},
    tx::{BlockTx, RecoveredTx},
};

/// A block header with its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedHeader {
    /// The header.
    pub header: Header,
    /// keccak256 of its RLP.
    pub hash: B256,
}

/// Seals `header`: its hash is keccak256 of its RLP.
pub fn seal(header: Header) -> SealedHeader {
    let mut buf = Vec::new();
    header.encode(&mut buf);
    SealedHeader { hash: keccak256(&buf), header }
}

/// The rules of a chain's blocks that execution needs (consensus: every node of a chain
/// applies the same).
#[derive(Clone, Debug)]
pub struct BlockRules {
    /// The EIP-155 chain id.
    pub chain_id: u64,
    /// The EVM's hardfork.
    pub spec: SpecId,
    /// Who receives the priority fees.
    pub coinbase: Address,
    /// Gas per block.
    pub gas_limit: u64,
    /// Whether blob transactions are accepted.
    pub blob_txs: bool,
    /// A rollup's L1 data fee rule and the L1 prices of the block's L1 origin.
    pub l1_fee: Option<(L1FeeConfig, L1Prices)>,
}

/// The environment of one block: number, time, fees, randomness, as revm takes them.
#[derive(Clone, Debug)]
pub struct NextBlock {
    /// Its number.
    pub number: u64,
    /// Its timestamp.
    pub timestamp: u64,
    /// Its EIP-1559 base fee.
    pub base_fee: u64,
    /// Its EIP-4844 excess blob gas.
    pub excess_blob_gas: u64,
    /// Its `mixHash`, the EVM's `prevrandao`.
    pub prevrandao: B256,
    /// revm's block environment.
    pub block_env: BlockEnv,
    /// revm's configuration.
    pub cfg: CfgEnv,
}

impl BlockRules {
    /// revm's configuration for this chain.
    pub fn cfg(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.spec);
        cfg.chain_id = self.chain_id;
        cfg
    }

    /// revm's block environment of a block with these fields.
    pub fn block_env(
        &self,
        number: u64,
        timestamp: u64,
        base_fee: u64,
        excess_blob_gas: u64,
        prevrandao: B256,
    ) -> BlockEnv {
        BlockEnv {
            number: U256::from(number),
            beneficiary: self.coinbase,
            timestamp: U256::from(timestamp),
            gas_limit: self.gas_limit,
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

    /// The environment of the block after `parent` at `timestamp` (the caller checks that it
    /// is after the parent's), its `prevrandao` by default keccak256 of the parent's hash.
    pub fn next_block(
        &self,
        parent: &SealedHeader,
        genesis_base_fee: u64,
        timestamp: u64,
        prevrandao: Option<B256>,
    ) -> NextBlock {
        let number = parent.header.number + 1;
        let base_fee = next_base_fee(&parent.header, genesis_base_fee);
        let excess_blob_gas = next_excess_blob_gas(&parent.header);
        let prevrandao = prevrandao.unwrap_or_else(|| keccak256(parent.hash));
        NextBlock {
            number,
            timestamp,
            base_fee,
            excess_blob_gas,
            prevrandao,
            block_env: self.block_env(number, timestamp, base_fee, excess_blob_gas, prevrandao),
            cfg: self.cfg(),
        }
    }

    /// The sealed header of block `next` after `parent_hash`, once `executed` ran and the state
    /// hashes to `state_root`.
    pub fn seal_block(
        &self,
        parent_hash: B256,
        next: &NextBlock,
        executed: &Executed,
        state_root: B256,
        extra_data: Bytes,
    ) -> SealedHeader {
        let logs_bloom = executed.receipts.iter().fold(Bloom::ZERO, |mut acc, r| {
            acc.accrue_bloom(r.logs_bloom());
            acc
        });
        let envelopes: Vec<&BlockTx> = executed.included.iter().map(|t| &t.tx).collect();
        seal(Header {
            parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.coinbase,
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
            gas_limit: self.gas_limit,
            gas_used: executed.gas_used,
            timestamp: next.timestamp,
            extra_data,
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

/// The EIP-1559 base fee of the block after `parent` (`genesis_base_fee` after a header
/// without one).
pub fn next_base_fee(parent: &Header, genesis_base_fee: u64) -> u64 {
    parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or(genesis_base_fee)
}

/// The EIP-4844 excess blob gas of the block after `parent`.
pub fn next_excess_blob_gas(parent: &Header) -> u64 {
    parent.next_block_excess_blob_gas(BlobParams::prague()).unwrap_or_default()
}

/// What running a block's transactions produced.
#[derive(Clone, Debug, Default)]
pub struct Executed {
    /// The transactions included, in order.
    pub included: Vec<Arc<RecoveredTx>>,
    /// Their receipts.
    pub receipts: Vec<LoftReceipt>,
    /// Transactions left out, and why.
    pub dropped: Vec<(B256, String)>,
    /// Gas the block used.
    pub gas_used: u64,
    /// Blob gas the block used.
    pub blob_gas_used: u64,
}

/// Where a block's transactions come from, which decides what is done with one that can
/// not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxSource {
    /// A pool's best: a sender's later transactions wait behind one that can not run, and
    /// one whose nonce is ahead or whose fee is below the base fee stays queued.
    Pool,
    /// A given list (a derived or replayed block): each transaction is judged on its own,
    /// and one that can not run is reported as dropped.
    Given,
}

/// Runs one block over `db`: its deposits first, then its transactions, committing each.
pub struct BlockExecutor<'a, DB> {
    db: &'a mut DB,
    rules: &'a BlockRules,
    next: &'a NextBlock,
    executed: Executed,
}

impl<'a, DB> BlockExecutor<'a, DB>
where
    DB: Database + DatabaseCommit,
    DB::Error: core::fmt::Display,
{
    /// A block in `next`'s environment over `db`, nothing run yet.
    pub fn new(db: &'a mut DB, rules: &'a BlockRules, next: &'a NextBlock) -> Self {
        Self { db, rules, next, executed: Executed::default() }
    }

    /// The database, as far as the block has run.
    pub fn db_mut(&mut self) -> &mut DB {
        self.db
    }

    /// Gas used so far.
    pub fn gas_used(&self) -> u64 {
        self.executed.gas_used
    }

    /// What the block produced.
    pub fn finish(self) -> Executed {
        self.executed
    }

    /// Runs `deposits`: each mints, then runs at gas price zero; a failed one still bumps its
    /// sender's nonce and uses its whole gas limit (the OP Stack's rule), so it can not be
    /// replayed. Every deposit is included.
    pub fn apply_deposits(&mut self, deposits: Vec<TxDeposit>) -> Result<(), ExecError> {
        if deposits.is_empty() {
            return Ok(());
        }
        let mut deposit_cfg = self.next.cfg.clone();
        deposit_cfg.disable_base_fee = true;
        deposit_cfg.disable_eip3607 = true;
        deposit_cfg.disable_block_gas_limit = true;
        for deposit in deposits {
            let tx = Arc::new(RecoveredTx::deposit(deposit));
            let from = tx.sender;
            let mint = tx.tx.as_deposit().map(|d| d.mint).unwrap_or_default();
            let mut info = account(self.db, from)?;
            let nonce = info.nonce;
            if mint > 0 {
                info.balance = info.balance.saturating_add(U256::from(mint));
                put_account(self.db, from, info);
            }
            let outcome = Context::mainnet()
                .with_db(&mut *self.db)
                .with_block(self.next.block_env.clone())
                .with_cfg(deposit_cfg.clone())
                .build_mainnet()
                .transact_commit(tx.tx_env(nonce));
            let (success, gas_used, logs) = match outcome {
                Ok(result) => (result.is_success(), result.gas().tx_gas_used(), result.logs().to_vec()),
                Err(EVMError::Transaction(_)) => {
                    let mut info = account(self.db, from)?;
                    info.nonce = nonce + 1;
                    put_account(self.db, from, info);
                    (false, tx.gas_limit(), vec![])
                }
                Err(e) => return Err(evm_error(e)),
            };
            let executed = &mut self.executed;
            executed.gas_used += gas_used;
            executed.receipts.push(LoftReceipt::new(
                DEPOSIT_TX_TYPE,
                success,
                executed.gas_used,
                logs,
                nonce,
            ));
            executed.included.push(tx);
        }
        Ok(())
    }

    /// Runs `candidates` in order, leaving out those that can not run (as `source` says).
    /// The L1 data fee of a rollup is taken before execution (the sender must afford it and
    /// the gas), handed back if the transaction turns out not to be executable, and paid to
    /// the vault once it ran.
    pub fn apply_txs(
        &mut self,
        candidates: Vec<Arc<RecoveredTx>>,
        source: TxSource,
    ) -> Result<(), ExecError> {
        let from_pool = source == TxSource::Pool;
        let gas_limit = self.rules.gas_limit;
        let max_blob_gas = BlobParams::prague().max_blob_gas_per_block();
        let executed = &mut self.executed;
        let mut evm = Context::mainnet()
            .with_db(&mut *self.db)
            .with_block(self.next.block_env.clone())
            .with_cfg(self.next.cfg.clone())
            .build_mainnet();
        let mut skipped_senders: Vec<Address> = Vec::new();
        for tx in candidates {
            if tx.is_deposit() {
                executed.dropped.push((tx.hash, "a deposit can only come from L1".into()));
                continue;
            }
            if from_pool && skipped_senders.contains(&tx.sender) {
                continue;
            }
            if executed.gas_used + tx.gas_limit() > gas_limit {
                skipped_senders.push(tx.sender);
                if !from_pool {
                    executed.dropped.push((tx.hash, "exceeds the block's gas limit".into()));
                }
                continue;
            }
            if !self.rules.blob_txs && tx.tx.blob_versioned_hashes().is_some() {
                executed.dropped.push((tx.hash, TxError::TypeNotSupported.to_string()));
                continue;
            }
            let tx_blob_gas =
                tx.tx.blob_versioned_hashes().map(|h| h.len() as u64 * GAS_PER_BLOB).unwrap_or_default();
            if executed.blob_gas_used + tx_blob_gas > max_blob_gas {
                skipped_senders.push(tx.sender);
                if !from_pool {
                    executed.dropped.push((tx.hash, "exceeds the block's blob gas limit".into()));
                }
                continue;
            }
            let l1_charge = match &self.rules.l1_fee {
                Some((rule, prices)) if !l1_fee(rule, prices, &tx.encoded).is_zero() => {
                    let fee = l1_fee(rule, prices, &tx.encoded);
                    let db = evm.ctx.db_mut();
                    let mut info = account(db, tx.sender)?;
                    if info.balance < fee {
                        skipped_senders.push(tx.sender);
                        executed.dropped.push((tx.hash, "insufficient funds for the L1 data fee".into()));
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
                    executed.gas_used += result.gas().tx_gas_used();
                    executed.blob_gas_used += tx_blob_gas;
                    executed.receipts.push(LoftReceipt::new(
                        tx.tx.ty(),
                        result.is_success(),
                        executed.gas_used,
                        result.logs().to_vec(),
                        0,
                    ));
                    executed.included.push(tx);
                }
                Err(EVMError::Transaction(reason)) => {
                    // Not executable any more (balance spent, fee too low): leave it out.
                    // Nonce errors keep a pooled transaction queued; anything else drops it.
                    skipped_senders.push(tx.sender);
                    if !from_pool
                        || !matches!(
                            reason,
                            InvalidTransaction::NonceTooHigh { .. }
                                | InvalidTransaction::GasPriceLessThanBasefee
                        )
                    {
                        executed.dropped.push((tx.hash, reason.to_string()));
                    }
                }
                Err(e) => return Err(evm_error(e)),
            }
        }
        Ok(())
    }
}

/// A failure of the EVM or its database.
fn evm_error<E: core::fmt::Display>(e: E) -> ExecError {
    ExecError::Evm(e.to_string())
}

/// An account's fields in `db` (empty when absent).
pub fn account<DB>(db: &mut DB, address: Address) -> Result<AccountInfo, ExecError>
where
    DB: Database,
    DB::Error: core::fmt::Display,
{
    Ok(db.basic(address).map_err(evm_error)?.unwrap_or_default())
}

/// Writes an account's fields (its storage untouched) through the database's commit.
pub fn put_account<DB: DatabaseCommit>(db: &mut DB, address: Address, info: AccountInfo) {
    let mut account = Account::from(info);
    account.status = AccountStatus::Touched;
    db.commit(core::iter::once((address, account)).collect());
}
