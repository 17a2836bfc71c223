//! Geth's tracers over revm's inspectors (`revm-inspectors`): the default struct logger,
//! `callTracer` (`onlyTopCall`, `withLog`), `prestateTracer` (`diffMode`), `4byteTracer` and
//! `noopTracer`. A call is traced on any recent block's state, in that block's environment; a
//! mined transaction by replaying its block on the parent's state as the block ran it
//! (deposits minted first and run at gas price zero, the L1 data fee a rollup transaction
//! paid taken before it ran and paid to the vault after), up to the one traced.

use alloy::rpc::types::trace::geth::{
    CallConfig, FourByteFrame, GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions,
    GethDefaultTracingOptions, GethTrace, NoopFrame, PreStateConfig,
};
use alloy_primitives::{Address, B256, U256};
use revm::{
    Context, DatabaseCommit, DatabaseRef, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ResultAndState},
    },
    database::CacheDB,
    database_interface::WrapDatabaseRef,
    handler::MainnetContext,
    state::AccountInfo,
};
use revm_inspectors::tracing::{FourByteInspector, TracingInspector, TracingInspectorConfig};

use crate::{
    chain::{CallRequest, Chain},
    error::ChainError,
    state::StateView,
};

/// A tracer as geth's options name it.
enum Tracer {
    Struct(GethDefaultTracingOptions),
    Call(CallConfig),
    Prestate(PreStateConfig),
    FourByte,
    Noop,
}

impl Tracer {
    fn of(opts: &GethDebugTracingOptions) -> Result<Self, ChainError> {
        let bad = |e: &dyn std::fmt::Display| ChainError::Invalid(format!("invalid tracer config: {e}"));
        Ok(match &opts.tracer {
            None => Self::Struct(opts.config),
            Some(GethDebugTracerType::BuiltInTracer(t)) => match t {
                GethDebugBuiltInTracerType::CallTracer => {
                    Self::Call(opts.tracer_config.clone().into_call_config().map_err(|e| bad(&e))?)
                }
                GethDebugBuiltInTracerType::PreStateTracer => {
                    Self::Prestate(opts.tracer_config.clone().into_pre_state_config().map_err(|e| bad(&e))?)
                }
                GethDebugBuiltInTracerType::FourByteTracer => Self::FourByte,
                GethDebugBuiltInTracerType::NoopTracer => Self::Noop,
                other => return Err(unsupported(&format!("{other:?}"))),
            },
            Some(GethDebugTracerType::JsTracer(_)) => return Err(unsupported("a JavaScript tracer")),
        })
    }
}

fn unsupported(what: &str) -> ChainError {
    ChainError::Invalid(format!(
        "{what} is not supported: the default struct logger, callTracer, prestateTracer, 4byteTracer and \
         noopTracer are"
    ))
}

fn evm_err<E: std::fmt::Display>(e: EVMError<E>) -> ChainError {
    match e {
        EVMError::Transaction(reason) => ChainError::Invalid(reason.to_string()),
        other => ChainError::Evm(other.to_string()),
    }
}

/// Runs `tx` over `db` with `tracer` watching, without committing: the trace and what the
/// transaction did (for the caller to commit).
fn trace_one<DB>(
    tracer: &Tracer,
    db: &mut CacheDB<DB>,
    block: BlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
) -> Result<(GethTrace, ResultAndState), EVMError<DB::Error>>
where
    DB: DatabaseRef,
{
    let inspector_config = match tracer {
        Tracer::Struct(opts) => TracingInspectorConfig::from_geth_config(opts),
        Tracer::Call(config) => TracingInspectorConfig::from_geth_call_config(config),
        Tracer::Prestate(config) => TracingInspectorConfig::from_geth_prestate_config(config),
        Tracer::FourByte | Tracer::Noop => TracingInspectorConfig::none(),
    };
    if let Tracer::FourByte = tracer {
        let mut inspector = FourByteInspector::default();
        let done = inspect(db, block, cfg, tx, &mut inspector)?;
        return Ok((FourByteFrame::from(&inspector).into(), done));
    }
    let mut inspector = TracingInspector::new(inspector_config);
    let done = inspect(db, block, cfg, tx, &mut inspector)?;
    let gas_used = done.result.gas().tx_gas_used();
    let trace = match tracer {
        Tracer::Struct(opts) => {
            let output = done.result.output().cloned().unwrap_or_default();
            inspector.into_geth_builder().geth_traces(gas_used, output, *opts).into()
        }
        Tracer::Call(config) => inspector.geth_builder().geth_call_traces(*config, gas_used).into(),
        Tracer::Prestate(config) => inspector
            .geth_builder()
            .geth_prestate_traces(&done, config, &*db)
            .map_err(EVMError::Database)?
            .into(),
        Tracer::FourByte | Tracer::Noop => NoopFrame::default().into(),
    };
    Ok((trace, done))
}

/// Runs `tx` over `db` with `inspector` watching, without committing.
fn inspect<'a, DB, I>(
    db: &'a mut CacheDB<DB>,
    block: BlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
    inspector: &mut I,
) -> Result<ResultAndState, EVMError<DB::Error>>
where
    DB: DatabaseRef,
    I: Inspector<MainnetContext<&'a mut CacheDB<DB>>>,
{
    Context::mainnet()
        .with_db(db)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(inspector)
        .inspect_tx(tx)
}

/// An account's fields in `db` (empty when absent).
fn account<DB: DatabaseRef>(db: &mut CacheDB<DB>, address: Address) -> Result<AccountInfo, ChainError> {
    use revm::Database;
    Ok(db.basic(address).map_err(|e| ChainError::Evm(e.to_string()))?.unwrap_or_default())
}

/// Adds `delta` to (or, `credit` false, takes it from) an account's balance in `db`.
fn move_balance<DB: DatabaseRef>(
    db: &mut CacheDB<DB>,
    address: Address,
    delta: U256,
    credit: bool,
) -> Result<(), ChainError> {
    let mut info = account(db, address)?;
    info.balance =
        if credit { info.balance.saturating_add(delta) } else { info.balance.saturating_sub(delta) };
    db.insert_account_info(address, info);
    Ok(())
}

impl Chain {
    /// `debug_traceCall`: traces a call as [`Chain::call`] runs it (`at: None` is `pending`).
    pub fn trace_call(
        &self,
        request: &CallRequest,
        at: Option<u64>,
        opts: &GethDebugTracingOptions,
    ) -> Result<GethTrace, ChainError> {
        let tracer = Tracer::of(opts)?;
        let gas = request.gas.unwrap_or(self.config.block_gas_limit).min(self.config.block_gas_limit);
        self.on_call_state(at, |db, header| {
            let (block, cfg, tx) = self.call_setup(db, header, request, gas)?;
            let mut db = CacheDB::new(WrapDatabaseRef(db));
            Ok(trace_one(&tracer, &mut db, block, cfg, tx).map_err(evm_err)?.0)
        })
    }

    /// `debug_traceTransaction`: the trace of a mined transaction (`None`: not mined here).
    pub fn trace_transaction(
        &self,
        hash: &B256,
        opts: &GethDebugTracingOptions,
    ) -> Result<Option<GethTrace>, ChainError> {
        let Some((number, index)) = self.store.tx_location(hash)? else {
            return Ok(None);
        };
        let tracer = Tracer::of(opts)?;
        Ok(self.trace_block_txs(number, Some(index as usize), &tracer)?.pop().map(|(_, t)| t))
    }

    /// `debug_traceBlockByNumber`: every transaction of block `number` with its trace, in
    /// order (`None`: no such block).
    pub fn trace_block(
        &self,
        number: u64,
        opts: &GethDebugTracingOptions,
    ) -> Result<Option<Vec<(B256, GethTrace)>>, ChainError> {
        if number > self.head.header.number {
            return Ok(None);
        }
        let tracer = Tracer::of(opts)?;
        self.trace_block_txs(number, None, &tracer).map(Some)
    }

    /// Replays block `number` on its parent's state as the block ran, tracing transaction
    /// `only` (and stopping there), or every transaction.
    fn trace_block_txs(
        &self,
        number: u64,
        only: Option<usize>,
        tracer: &Tracer,
    ) -> Result<Vec<(B256, GethTrace)>, ChainError> {
        if number == 0 {
            return Ok(Vec::new());
        }
        let header = self.past_header(number)?;
        let parent = self.state_at(number - 1)?;
        let receipts = self.block_receipts(number)?.unwrap_or_default();
        let block = self.rules().block_env(
            header.number,
            header.timestamp,
            header.base_fee_per_gas.unwrap_or_default(),
            header.excess_blob_gas.unwrap_or_default(),
            header.mix_hash,
        );
        let cfg = self.rules().cfg();
        let mut deposit_cfg = cfg.clone();
        deposit_cfg.disable_base_fee = true;
        deposit_cfg.disable_eip3607 = true;
        deposit_cfg.disable_block_gas_limit = true;
        let vault = self.config.l1_fee.map(|rule| rule.vault);
        let mut db = CacheDB::new(WrapDatabaseRef(StateView { state: &parent, hashes: &self.recent }));
        let mut traces = Vec::new();
        let last = only.unwrap_or(usize::MAX);
        for (i, info) in receipts.iter().enumerate().take_while(|(i, _)| *i <= last) {
            let tx = &info.tx;
            let (cfg_i, tx_env) = if tx.is_deposit() {
                let nonce = account(&mut db, tx.sender)?.nonce;
                let mint = tx.tx.as_deposit().map(|d| d.mint).unwrap_or_default();
                move_balance(&mut db, tx.sender, U256::from(mint), true)?;
                (deposit_cfg.clone(), tx.tx_env(nonce))
            } else {
                if let Some((fee, _)) = info.l1_fee {
                    move_balance(&mut db, tx.sender, fee, false)?;
                }
                (cfg.clone(), tx.tx_env(0))
            };
            let traced = only.is_none_or(|o| o == i);
            let ran = if traced {
                trace_one(tracer, &mut db, block.clone(), cfg_i, tx_env).map(|(trace, done)| {
                    traces.push((tx.hash, trace));
                    done
                })
            } else {
                Context::mainnet()
                    .with_db(&mut db)
                    .with_block(block.clone())
                    .with_cfg(cfg_i)
                    .build_mainnet()
                    .transact(tx_env)
            };
            match ran {
                Ok(done) => {
                    db.commit(done.state);
                    if let (Some((fee, _)), Some(vault)) = (info.l1_fee, vault) {
                        move_balance(&mut db, vault, fee, true)?;
                    }
                }
                // a deposit that could not run still took its nonce (the OP Stack's rule)
                Err(EVMError::Transaction(_)) if tx.is_deposit() => {
                    let mut sender = account(&mut db, tx.sender)?;
                    sender.nonce += 1;
                    db.insert_account_info(tx.sender, sender);
                }
                Err(e) => return Err(evm_err(e)),
            }
        }
        Ok(traces)
    }
}
