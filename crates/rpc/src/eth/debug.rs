//! geth's `debug_trace*` methods over the chain's tracers (`loft_chain`'s `trace_*`): the
//! default struct logger, `callTracer`, `prestateTracer`, `4byteTracer`, `noopTracer`, with
//! geth's options; what Foundry (`cast run`, `cast call --trace`), Hardhat and debuggers use.

use alloy::rpc::types::{
    BlockId, BlockNumberOrTag, TransactionRequest,
    trace::geth::{GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult},
};
use alloy_primitives::B256;
use jsonrpsee::RpcModule;
use serde_json::Value;

use super::{
    Ctx, RpcResult, call_request, chain_err, codes, err, invalid, resolve_call_block, resolve_number, to_json,
};

/// The options of a trace method (geth's defaults when absent).
fn options<T: Default + serde::de::DeserializeOwned>(
    seq: &mut jsonrpsee::types::params::ParamsSequence<'_>,
) -> RpcResult<T> {
    Ok(seq.optional_next::<T>().map_err(|e| invalid(e.message()))?.unwrap_or_default())
}

fn block_traces(traces: Vec<(B256, GethTrace)>) -> RpcResult<Value> {
    to_json(
        traces
            .into_iter()
            .map(|(hash, result)| TraceResult::Success { result, tx_hash: Some(hash) })
            .collect::<Vec<_>>(),
    )
}

/// Registers `debug_traceCall`, `debug_traceTransaction`, `debug_traceBlockByNumber` and
/// `debug_traceBlockByHash`.
pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("debug_traceCall", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let req: TransactionRequest = seq.next().map_err(|e| invalid(e.message()))?;
        let block: Option<BlockId> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        let opts: GethDebugTracingCallOptions = options(&mut seq)?;
        if opts.state_overrides.is_some() || opts.block_overrides.is_some() || opts.tx_index.is_some() {
            return Err(err(codes::SERVER, "stateOverrides, blockOverrides and txIndex are not supported"));
        }
        c.node.with_chain(|ch| {
            let at = resolve_call_block(ch, block, BlockNumberOrTag::Latest)?;
            to_json(ch.trace_call(&call_request(&req), at, &opts.tracing_options).map_err(chain_err)?)
        })
    })?;
    m.register_method("debug_traceTransaction", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let hash: B256 = seq.next().map_err(|e| invalid(e.message()))?;
        let opts: GethDebugTracingOptions = options(&mut seq)?;
        c.node.with_chain(|ch| match ch.trace_transaction(&hash, &opts).map_err(chain_err)? {
            Some(trace) => to_json(trace),
            None => Err(err(codes::SERVER, "transaction not found")),
        })
    })?;
    m.register_method("debug_traceBlockByNumber", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let tag: BlockNumberOrTag = seq.next().map_err(|e| invalid(e.message()))?;
        let opts: GethDebugTracingOptions = options(&mut seq)?;
        c.node.with_chain(|ch| {
            let n = resolve_number(ch, tag).ok_or_else(|| err(codes::SERVER, "block not found"))?;
            match ch.trace_block(n, &opts).map_err(chain_err)? {
                Some(traces) => block_traces(traces),
                None => Err(err(codes::SERVER, "block not found")),
            }
        })
    })?;
    m.register_method("debug_traceBlockByHash", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let hash: B256 = seq.next().map_err(|e| invalid(e.message()))?;
        let opts: GethDebugTracingOptions = options(&mut seq)?;
        c.node.with_chain(|ch| {
            let header = ch.header_by_hash(&hash).map_err(chain_err)?;
            let n = header.map(|h| h.header.number).ok_or_else(|| err(codes::SERVER, "block not found"))?;
            match ch.trace_block(n, &opts).map_err(chain_err)? {
                Some(traces) => block_traces(traces),
                None => Err(err(codes::SERVER, "block not found")),
            }
        })
    })?;
    Ok(())
}
