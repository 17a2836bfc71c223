//! The `eth_*`, `net_*`, `web3_*`, `debug_trace*`, `loft_*` and devnet (`evm_*`, `anvil_*`)
//! methods: this module builds the RPC module and holds what every namespace shares (block
//! resolution, errors, the context); each namespace registers its methods in its own file.

use std::{collections::HashMap, sync::Arc};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718},
    network::TxSignerSync,
    rpc::types::{FeeHistory, Filter, FilterBlockOption, TransactionRequest},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use jsonrpsee::{
    PendingSubscriptionSink, RpcModule, SubscriptionMessage,
    types::{ErrorObjectOwned, Params},
};
use loft_chain::{CallOutcome, CallRequest, Chain, ChainError, LogQuery, state::StateReader};
use parking_lot::Mutex;
use serde_json::{Value, json};

use loft_node::{MiningMode, Node, NodeEvent, TxRoute};

use crate::{Methods, convert};

mod anvil;
mod blocks;
mod debug;
mod execution;
mod fees;
mod filters;
mod loft;
mod net;
mod state;
mod subscriptions;

use filters::FilterState;

/// Most blocks one `eth_getLogs` may scan.
pub const MAX_LOG_RANGE: u64 = 10_000;

/// JSON-RPC error codes as geth uses them.
pub mod codes {
    /// Invalid params.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Server error: transaction refused, unknown block, ...
    pub const SERVER: i32 = -32000;
    /// Execution reverted.
    pub const EXECUTION_REVERTED: i32 = 3;
    /// Internal error.
    pub const INTERNAL: i32 = -32603;
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

fn chain_err(e: ChainError) -> ErrorObjectOwned {
    match e {
        ChainError::Tx(t) => err(codes::SERVER, t.to_string()),
        ChainError::Storage(_) | ChainError::Corrupt(_) | ChainError::Evm(_) => {
            tracing::error!(error = %e, "internal error");
            err(codes::INTERNAL, e.to_string())
        }
        other => err(codes::SERVER, other.to_string()),
    }
}

fn invalid(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    err(codes::INVALID_PARAMS, format!("invalid params: {msg}"))
}

/// Resolves a block tag to a number (`None`: no such block).
fn resolve_number(chain: &Chain, tag: BlockNumberOrTag) -> Option<u64> {
    let head = chain.head().header.number;
    match tag {
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(head),
        BlockNumberOrTag::Safe => Some(chain.safe_number()),
        BlockNumberOrTag::Finalized => Some(chain.finalized_number()),
        BlockNumberOrTag::Earliest => Some(0),
        BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
    }
}

fn resolve_block_id(chain: &Chain, id: Option<BlockId>) -> RpcResult<u64> {
    match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
        BlockId::Number(tag) => {
            resolve_number(chain, tag).ok_or_else(|| err(codes::SERVER, "header not found"))
        }
        BlockId::Hash(h) => chain
            .header_by_hash(&h.block_hash)
            .map_err(chain_err)?
            .map(|h| h.header.number)
            .ok_or_else(|| err(codes::SERVER, "header not found")),
    }
}

/// Where a call runs: `None` for `pending` (the next block on the current state), else the
/// block the id names, as geth and anvil do; `default` when the id is omitted.
fn resolve_call_block(
    chain: &Chain,
    id: Option<BlockId>,
    default: BlockNumberOrTag,
) -> RpcResult<Option<u64>> {
    match id.unwrap_or(BlockId::Number(default)) {
        BlockId::Number(BlockNumberOrTag::Pending) => Ok(None),
        other => resolve_block_id(chain, Some(other)).map(Some),
    }
}

/// Runs `f` on the state after the block `id` names (the head by default; `pending`: the
/// pending block's).
fn with_state<R>(chain: &Chain, id: Option<BlockId>, f: impl FnOnce(&dyn StateReader) -> R) -> RpcResult<R> {
    let at = resolve_call_block(chain, id, BlockNumberOrTag::Latest)?;
    chain.read_state(at, f).map_err(chain_err)
}

/// Proofs are served at the head only.
fn state_at(chain: &Chain, id: Option<BlockId>) -> RpcResult<()> {
    let n = resolve_block_id(chain, id)?;
    let head = chain.head().header.number;
    if n != head {
        return Err(chain_err(ChainError::HistoricalState { requested: n, head }));
    }
    Ok(())
}

fn call_request(req: &TransactionRequest) -> CallRequest {
    CallRequest {
        from: req.from,
        to: match req.to {
            Some(TxKind::Call(a)) => Some(a),
            _ => None,
        },
        gas: req.gas,
        gas_price: req.gas_price,
        max_fee_per_gas: req.max_fee_per_gas,
        max_priority_fee_per_gas: req.max_priority_fee_per_gas,
        value: req.value,
        input: req.input.input().cloned().unwrap_or_default(),
        nonce: req.nonce,
        access_list: req.access_list.clone(),
    }
}

fn one<T: serde::de::DeserializeOwned>(params: &Params) -> RpcResult<T> {
    let mut seq = params.sequence();
    seq.next::<T>().map_err(|e| invalid(e.message()))
}

fn two<A: serde::de::DeserializeOwned, B: serde::de::DeserializeOwned>(
    params: &Params,
) -> RpcResult<(A, Option<B>)> {
    let mut seq = params.sequence();
    let a = seq.next::<A>().map_err(|e| invalid(e.message()))?;
    let b = seq.optional_next::<B>().map_err(|e| invalid(e.message()))?;
    Ok((a, b))
}

fn to_json<T: serde::Serialize>(v: T) -> RpcResult<Value> {
    serde_json::to_value(v).map_err(|e| err(codes::INTERNAL, e.to_string()))
}

/// The context every method sees.
pub struct Ctx {
    node: Arc<Node>,
    /// For forwarding transactions ([`TxRoute::Forward`]).
    http: reqwest::Client,
    filters: Mutex<HashMap<U256, FilterState>>,
    next_filter: Mutex<U256>,
}

/// Builds the RPC module: Ethereum's methods, and anvil's devnet controls if `methods` says so.
pub fn module(node: Arc<Node>, methods: Methods) -> RpcModule<Ctx> {
    let ctx = Ctx {
        node,
        http: reqwest::Client::new(),
        filters: Mutex::new(HashMap::new()),
        next_filter: Mutex::new(U256::from(1)),
    };
    let mut m = RpcModule::new(ctx);
    register(&mut m).expect("method names are unique");
    if methods == Methods::WithDevControls {
        anvil::register(&mut m).expect("method names are unique");
    }
    m
}

fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    net::register(m)?;
    fees::register(m)?;
    state::register(m)?;
    execution::register(m)?;
    blocks::register(m)?;
    filters::register(m)?;
    loft::register(m)?;
    debug::register(m)?;
    subscriptions::register(m)
}
