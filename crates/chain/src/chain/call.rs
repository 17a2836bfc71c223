//! Calls and gas estimates: on any recent block's state in that block's environment, or on
//! the pending block's.

use std::sync::Arc;

use alloy::consensus::Header;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use revm::{
    Context, DatabaseRef, ExecuteEvm, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    database::{Cache, CacheDB},
    database_interface::WrapDatabaseRef,
};

use super::{Chain, evm_error};
use crate::{
    error::ChainError,
    state::{DbReader, StateDbError, StateReader, StateView},
};

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

/// The state a call runs on: the current one, a past one, or the pending block's.
pub(crate) type CallDb<'a> = dyn DatabaseRef<Error = StateDbError> + 'a;

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

impl Chain {
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
                let key = self.pending_key();
                let kept =
                    self.pending_cache.lock().as_ref().filter(|(k, _)| *k == key).map(|(_, c)| c.clone());
                let changes = match kept {
                    Some(changes) => changes,
                    None => {
                        let view = StateView { state: &self.state, hashes: &self.recent };
                        let mut pending = CacheDB::new(WrapDatabaseRef(view));
                        self.run_pending(&mut pending)?;
                        let changes = Arc::new(pending.cache);
                        *self.pending_cache.lock() = Some((key, changes.clone()));
                        changes
                    }
                };
                f(&CacheDB { cache: Cache::clone(&changes), db: WrapDatabaseRef(current) }, None)
            }
            Some(n) if n == self.head.header.number => f(&current, Some(&self.head.header)),
            Some(n) => {
                let header = self.past_header(n)?;
                let past = self.state_at(n)?;
                f(&StateView { state: &past, hashes: &self.recent }, Some(&header))
            }
        }
    }

    pub(super) fn past_header(&self, n: u64) -> Result<Header, ChainError> {
        let head = self.head.header.number;
        Ok(self.header_by_number(n)?.ok_or(ChainError::HistoricalState { requested: n, head })?.header)
    }

    /// The environment of a call in block `header` (the next block when `None`).
    fn call_env(&self, header: Option<&Header>, priced: bool) -> BlockEnv {
        match header {
            None => self.rules().block_env(
                self.head.header.number + 1,
                self.next_timestamp(),
                if priced { self.next_base_fee() } else { 0 },
                self.next_excess_blob_gas(),
                keccak256(self.head.hash),
            ),
            Some(h) => self.rules().block_env(
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
        let mut cfg = self.rules().cfg();
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
}
