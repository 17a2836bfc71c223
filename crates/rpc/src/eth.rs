//! The `eth_*`, `net_*`, `web3_*` and devnet (`evm_*`, `anvil_*`) methods.

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

use crate::{
    Methods, convert,
    forward::TxRoute,
    node::{MiningMode, Node, NodeEvent},
};

mod debug;

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

/// Decodes a revert reason (`Error(string)`) for the message, as geth does.
fn revert_error(output: &Bytes) -> ErrorObjectOwned {
    let reason = alloy::sol_types::decode_revert_reason(output);
    let msg = match reason {
        Some(r) if r.starts_with("revert: ") => {
            format!("execution reverted: {}", &r["revert: ".len()..])
        }
        Some(r) if r.starts_with("panic: ") => format!("execution reverted: {r}"),
        _ => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(codes::EXECUTION_REVERTED, msg, Some(output.to_string()))
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

/// A log filter converted to a query over known blocks.
fn log_query(chain: &Chain, filter: &Filter) -> RpcResult<LogQuery> {
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let n = chain
                .header_by_hash(&hash)
                .map_err(chain_err)?
                .ok_or_else(|| err(codes::SERVER, "unknown block"))?
                .header
                .number;
            (n, n)
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let head = chain.head().header.number;
            let from = from_block.map(|t| resolve_number(chain, t).unwrap_or(head + 1)).unwrap_or(head);
            let to = to_block.map(|t| resolve_number(chain, t).unwrap_or(head)).unwrap_or(head);
            (from, to)
        }
    };
    if to >= from && to - from > MAX_LOG_RANGE {
        return Err(err(codes::SERVER, format!("query exceeds max block range {MAX_LOG_RANGE}")));
    }
    Ok(LogQuery {
        from,
        to,
        addresses: filter.address.iter().copied().collect(),
        topics: filter.topics.iter().map(|t| t.iter().copied().collect()).collect(),
    })
}

/// State of one `eth_newFilter` / `eth_newBlockFilter` / `eth_newPendingTransactionFilter`.
enum FilterState {
    Logs { filter: Box<Filter>, next_block: u64 },
    Blocks { next_block: u64 },
    PendingTxs { rx: tokio::sync::broadcast::Receiver<NodeEvent> },
}

/// The context every method sees.
pub struct Ctx {
    node: Arc<Node>,
    /// For forwarding transactions ([`TxRoute::Forward`]).
    http: reqwest::Client,
    filters: Mutex<HashMap<U256, FilterState>>,
    next_filter: Mutex<U256>,
}

fn fee_history(
    chain: &Chain,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> RpcResult<FeeHistory> {
    let head = chain.head().header.number;
    let newest = resolve_number(chain, newest).unwrap_or(head);
    let count = count.clamp(1, 1024).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut base_fee_per_gas = Vec::new();
    let mut gas_used_ratio = Vec::new();
    let mut base_fee_per_blob_gas = Vec::new();
    let mut blob_gas_used_ratio = Vec::new();
    let mut reward = percentiles.as_ref().map(|_| Vec::new());
    let blob_params = alloy::eips::eip7840::BlobParams::prague();
    for n in oldest..=newest {
        let Some(h) = chain.header_by_number(n).map_err(chain_err)? else {
            continue;
        };
        base_fee_per_gas.push(h.header.base_fee_per_gas.unwrap_or_default() as u128);
        gas_used_ratio.push(h.header.gas_used as f64 / h.header.gas_limit.max(1) as f64);
        base_fee_per_blob_gas.push(blob_params.calc_blob_fee(h.header.excess_blob_gas.unwrap_or_default()));
        blob_gas_used_ratio.push(
            h.header.blob_gas_used.unwrap_or_default() as f64 / blob_params.max_blob_gas_per_block() as f64,
        );
        if let (Some(p), Some(reward)) = (&percentiles, reward.as_mut()) {
            let base_fee = h.header.base_fee_per_gas.unwrap_or_default();
            let mut tips: Vec<(u128, u64)> = chain
                .block_receipts(n)
                .map_err(chain_err)?
                .unwrap_or_default()
                .iter()
                .map(|r| (r.tx.effective_tip(base_fee).unwrap_or_default(), r.gas_used))
                .collect();
            tips.sort();
            let total: u64 = tips.iter().map(|t| t.1).sum();
            let row = p
                .iter()
                .map(|pct| {
                    if tips.is_empty() {
                        return 0;
                    }
                    let threshold = (total as f64 * pct / 100.0) as u64;
                    let mut acc = 0;
                    for (tip, gas) in &tips {
                        acc += gas;
                        if acc >= threshold {
                            return *tip;
                        }
                    }
                    tips.last().map(|t| t.0).unwrap_or_default()
                })
                .collect();
            reward.push(row);
        }
    }
    // One more entry: the next block's base fee.
    base_fee_per_gas.push(chain.next_base_fee() as u128);
    base_fee_per_blob_gas.push(chain.next_blob_base_fee());
    Ok(FeeHistory {
        base_fee_per_gas,
        gas_used_ratio,
        base_fee_per_blob_gas,
        blob_gas_used_ratio,
        oldest_block: oldest,
        reward,
    })
}

/// Fills in and signs a transaction for a dev account (`eth_sendTransaction`).
async fn send_raw_transaction(p: Params<'static>, c: Arc<Ctx>) -> RpcResult<B256> {
    let raw: Bytes = one(&p)?;
    send_raw(&c, raw).await
}

async fn send_transaction(p: Params<'static>, c: Arc<Ctx>) -> RpcResult<B256> {
    let req: TransactionRequest = one(&p)?;
    let node = c.node.clone();
    let raw = tokio::task::spawn_blocking(move || sign_for_dev_account(&node, &req))
        .await
        .map_err(|e| err(codes::INTERNAL, e.to_string()))??;
    send_raw(&c, raw.into()).await
}

/// Takes a signed transaction as the node's [`TxRoute`] says: into the pool (a durable
/// write, off the async threads), on to the sequencer, or refused.
async fn send_raw(c: &Ctx, raw: Bytes) -> RpcResult<B256> {
    match c.node.tx_route() {
        TxRoute::Local => {
            let node = c.node.clone();
            tokio::task::spawn_blocking(move || node.submit_raw(&raw))
                .await
                .map_err(|e| err(codes::INTERNAL, e.to_string()))?
                .map_err(chain_err)
        }
        TxRoute::Forward(url) => crate::forward::forward_raw(&c.http, &url, &raw).await,
        TxRoute::Refuse(why) => Err(err(codes::SERVER, why)),
    }
}

fn sign_for_dev_account(node: &Node, req: &TransactionRequest) -> RpcResult<Vec<u8>> {
    let from = req.from.ok_or_else(|| invalid("missing from"))?;
    let signer = node.signer(&from).ok_or_else(|| err(codes::SERVER, format!("unknown account {from}")))?;
    let (chain_id, nonce, gas, base_fee) = node.with_chain(|chain| -> RpcResult<_> {
        let nonce = req.nonce.unwrap_or_else(|| chain.pool().next_nonce(&from, chain.state().nonce(&from)));
        let gas = match req.gas {
            Some(g) => g,
            None => match chain.estimate_gas(&call_request(req), None).map_err(chain_err)? {
                Ok(g) => g,
                Err(CallOutcome::Revert { output, .. }) => return Err(revert_error(&output)),
                Err(CallOutcome::Halt { reason, .. }) => return Err(err(codes::SERVER, reason)),
                Err(CallOutcome::Success { .. }) => {
                    unreachable!("estimate_gas returns failures only")
                }
            },
        };
        Ok((chain.chain_id(), nonce, gas, chain.next_base_fee()))
    })?;
    let to = req.to.unwrap_or(TxKind::Create);
    let input = req.input.input().cloned().unwrap_or_default();
    let value = req.value.unwrap_or_default();
    let encoded = if let Some(gas_price) = req.gas_price {
        let mut tx =
            TxLegacy { chain_id: Some(chain_id), nonce, gas_price, gas_limit: gas, to, value, input };
        let sig = signer.sign_transaction_sync(&mut tx).map_err(|e| err(codes::SERVER, e.to_string()))?;
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    } else {
        let tip = req.max_priority_fee_per_gas.unwrap_or(1_000_000_000);
        let max_fee = req.max_fee_per_gas.unwrap_or(2 * base_fee as u128 + tip);
        let mut tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to,
            value,
            access_list: req.access_list.clone().unwrap_or_default(),
            input,
        };
        let sig = signer.sign_transaction_sync(&mut tx).map_err(|e| err(codes::SERVER, e.to_string()))?;
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    };
    Ok(encoded)
}

fn quantity<T: serde::de::DeserializeOwned>(v: &Value) -> RpcResult<T> {
    serde_json::from_value(v.clone()).map_err(invalid)
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
        register_dev_controls(&mut m).expect("method names are unique");
    }
    m
}

fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    // ---- identity ----
    m.register_method("web3_clientVersion", |_, c, _| -> RpcResult<String> {
        Ok(c.node.client_version().to_string())
    })?;
    m.register_method("web3_sha3", |p, _, _| -> RpcResult<B256> {
        let data: Bytes = one(&p)?;
        Ok(alloy_primitives::keccak256(&data))
    })?;
    m.register_method("net_version", |_, c, _| -> RpcResult<String> {
        Ok(c.node.with_chain(|ch| ch.chain_id()).to_string())
    })?;
    m.register_method("net_listening", |_, _, _| -> RpcResult<bool> { Ok(true) })?;
    m.register_method("net_peerCount", |_, _, _| -> RpcResult<U64> { Ok(U64::ZERO) })?;
    m.register_method("eth_chainId", |_, c, _| -> RpcResult<U64> {
        Ok(U64::from(c.node.with_chain(|ch| ch.chain_id())))
    })?;
    m.register_method("eth_syncing", |_, _, _| -> RpcResult<bool> { Ok(false) })?;
    m.register_method("eth_mining", |_, c, _| -> RpcResult<bool> {
        Ok(c.node.mining() != MiningMode::Manual)
    })?;
    m.register_method("eth_accounts", |_, c, _| -> RpcResult<Vec<Address>> { Ok(c.node.accounts()) })?;
    m.register_method("eth_blockNumber", |_, c, _| -> RpcResult<U64> {
        Ok(U64::from(c.node.with_chain(|ch| ch.head().header.number)))
    })?;

    // ---- fees ----
    m.register_method("eth_gasPrice", |_, c, _| -> RpcResult<U256> {
        Ok(U256::from(c.node.with_chain(|ch| ch.next_base_fee()) as u128 + 1_000_000_000))
    })?;
    m.register_method("eth_maxPriorityFeePerGas", |_, _, _| -> RpcResult<U256> {
        Ok(U256::from(1_000_000_000u64))
    })?;
    m.register_method("eth_blobBaseFee", |_, c, _| -> RpcResult<U256> {
        Ok(U256::from(c.node.with_chain(|ch| ch.next_blob_base_fee())))
    })?;
    m.register_method("eth_feeHistory", |p, c, _| -> RpcResult<FeeHistory> {
        let mut seq = p.sequence();
        let count: U64 = seq.next().map_err(|e| invalid(e.message()))?;
        let newest: BlockNumberOrTag = seq.next().map_err(|e| invalid(e.message()))?;
        let percentiles: Option<Vec<f64>> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        if let Some(p) = &percentiles
            && (p.iter().any(|x| !(0.0..=100.0).contains(x)) || p.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(invalid("reward percentiles must be ascending and within [0, 100]"));
        }
        c.node.with_chain(|ch| fee_history(ch, count.to::<u64>(), newest, percentiles))
    })?;

    // ---- state ----
    m.register_method("eth_getBalance", |p, c, _| -> RpcResult<U256> {
        let (addr, block): (Address, Option<BlockId>) = two(&p)?;
        c.node.with_chain(|ch| with_state(ch, block, |s| s.balance_of(&addr)))
    })?;
    m.register_method("eth_getTransactionCount", |p, c, _| -> RpcResult<U64> {
        let (addr, block): (Address, Option<BlockId>) = two(&p)?;
        c.node.with_chain(|ch| {
            // at `pending`: the head's nonce past the sender's run of pooled transactions (what
            // its next transaction should use, as geth's pool answers)
            let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
            let block = if pending { None } else { block };
            let nonce = with_state(ch, block, |s| s.nonce_of(&addr))?;
            Ok(U64::from(if pending { ch.pool().next_nonce(&addr, nonce) } else { nonce }))
        })
    })?;
    m.register_method("eth_getCode", |p, c, _| -> RpcResult<Bytes> {
        let (addr, block): (Address, Option<BlockId>) = two(&p)?;
        c.node.with_chain(|ch| with_state(ch, block, |s| s.code_at(&addr)))
    })?;
    m.register_method("eth_getStorageAt", |p, c, _| -> RpcResult<B256> {
        let mut seq = p.sequence();
        let addr: Address = seq.next().map_err(|e| invalid(e.message()))?;
        let slot: U256 = seq.next().map_err(|e| invalid(e.message()))?;
        let block: Option<BlockId> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        c.node
            .with_chain(|ch| with_state(ch, block, |s| B256::from(s.slot(&addr, &slot).to_be_bytes::<32>())))
    })?;
    m.register_method("eth_getProof", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let addr: Address = seq.next().map_err(|e| invalid(e.message()))?;
        let slots: Vec<U256> = seq.next().map_err(|e| invalid(e.message()))?;
        let block: Option<BlockId> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        c.node.with_chain(|ch| {
            state_at(ch, block)?;
            let proof = ch.prove(&addr, &slots);
            to_json(convert::account_proof(addr, &proof))
        })
    })?;

    // Storage proofs at any recent block (eth_getProof serves the head only): what a rollup
    // user proves a withdrawal with, against the storage root inside an output root.
    m.register_method("loft_getStorageProof", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let addr: Address = seq.next().map_err(|e| invalid(e.message()))?;
        let slots: Vec<U256> = seq.next().map_err(|e| invalid(e.message()))?;
        let block: Option<BlockId> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        c.node.with_chain(|ch| {
            let at = resolve_block_id(ch, block)?;
            let (root, proofs) = ch.storage_proofs_at(&addr, &slots, at).map_err(chain_err)?;
            to_json(convert::storage_proofs(addr, at, root, &proofs))
        })
    })?;

    // ---- execution ----
    m.register_method("eth_call", |p, c, _| -> RpcResult<Bytes> {
        let (req, block): (TransactionRequest, Option<BlockId>) = two(&p)?;
        c.node.with_chain(|ch| {
            let at = resolve_call_block(ch, block, BlockNumberOrTag::Latest)?;
            match ch.call(&call_request(&req), at).map_err(chain_err)? {
                CallOutcome::Success { output, .. } => Ok(output),
                CallOutcome::Revert { output, .. } => Err(revert_error(&output)),
                CallOutcome::Halt { reason, .. } => Err(err(codes::SERVER, halt_message(&reason))),
            }
        })
    })?;
    m.register_method("eth_estimateGas", |p, c, _| -> RpcResult<U64> {
        let (req, block): (TransactionRequest, Option<BlockId>) = two(&p)?;
        c.node.with_chain(|ch| {
            // without a block: what the transaction will meet when it is sent (geth's default)
            let at = resolve_call_block(ch, block, BlockNumberOrTag::Pending)?;
            match ch.estimate_gas(&call_request(&req), at).map_err(chain_err)? {
                Ok(gas) => Ok(U64::from(gas)),
                Err(CallOutcome::Revert { output, .. }) => Err(revert_error(&output)),
                Err(CallOutcome::Halt { reason, gas_used }) => Err(err(
                    codes::SERVER,
                    format!("gas required exceeds allowance ({gas_used}): {}", halt_message(&reason)),
                )),
                Err(CallOutcome::Success { .. }) => Err(err(codes::INTERNAL, "estimate failed")),
            }
        })
    })?;
    m.register_async_method("eth_sendRawTransaction", |p, c, _| send_raw_transaction(p, c))?;
    m.register_async_method("eth_sendTransaction", |p, c, _| send_transaction(p, c))?;

    // ---- blocks and transactions ----
    m.register_method("eth_getBlockByNumber", |p, c, _| -> RpcResult<Value> {
        let (tag, full): (BlockNumberOrTag, Option<bool>) = two(&p)?;
        c.node.with_chain(|ch| {
            if tag.is_pending() {
                let pending = ch.pending_block().map_err(chain_err)?;
                return to_json(convert::block(&pending.header, &pending.txs, full.unwrap_or(false)));
            }
            let Some(n) = resolve_number(ch, tag) else {
                return Ok(Value::Null);
            };
            block_json(ch, n, full.unwrap_or(false))
        })
    })?;
    m.register_method("eth_getBlockByHash", |p, c, _| -> RpcResult<Value> {
        let (hash, full): (B256, Option<bool>) = two(&p)?;
        c.node.with_chain(|ch| match ch.header_by_hash(&hash).map_err(chain_err)? {
            Some(h) => block_json(ch, h.header.number, full.unwrap_or(false)),
            None => Ok(Value::Null),
        })
    })?;
    m.register_method("eth_getBlockTransactionCountByNumber", |p, c, _| -> RpcResult<Option<U64>> {
        let tag: BlockNumberOrTag = one(&p)?;
        c.node.with_chain(|ch| {
            if tag.is_pending() {
                return Ok(Some(U64::from(ch.pending_block().map_err(chain_err)?.txs.len())));
            }
            match resolve_number(ch, tag) {
                Some(n) => Ok(Some(U64::from(ch.block_txs(n).map_err(chain_err)?.len()))),
                None => Ok(None),
            }
        })
    })?;
    m.register_method("eth_getBlockTransactionCountByHash", |p, c, _| -> RpcResult<Option<U64>> {
        let hash: B256 = one(&p)?;
        c.node.with_chain(|ch| match ch.header_by_hash(&hash).map_err(chain_err)? {
            Some(h) => Ok(Some(U64::from(ch.block_txs(h.header.number).map_err(chain_err)?.len()))),
            None => Ok(None),
        })
    })?;
    m.register_method("eth_getUncleCountByBlockNumber", |_, _, _| -> RpcResult<U64> { Ok(U64::ZERO) })?;
    m.register_method("eth_getUncleCountByBlockHash", |_, _, _| -> RpcResult<U64> { Ok(U64::ZERO) })?;
    m.register_method("eth_getTransactionByHash", |p, c, _| -> RpcResult<Value> {
        let hash: B256 = one(&p)?;
        c.node.with_chain(|ch| {
            if let Some(mined) = ch.mined_tx(&hash).map_err(chain_err)? {
                return to_json(convert::mined_transaction(&mined));
            }
            match ch.pool().get(&hash) {
                Some(tx) => to_json(convert::transaction(tx, None)),
                None => Ok(Value::Null),
            }
        })
    })?;
    m.register_method("eth_getTransactionByBlockNumberAndIndex", |p, c, _| -> RpcResult<Value> {
        let (tag, index): (BlockNumberOrTag, Option<U64>) = two(&p)?;
        let index = index.unwrap_or_default().to::<u64>();
        c.node.with_chain(|ch| {
            if tag.is_pending() {
                let pending = ch.pending_block().map_err(chain_err)?;
                return match pending.txs.get(index as usize) {
                    Some(tx) => to_json(convert::transaction(tx, Some((&pending.header, index)))),
                    None => Ok(Value::Null),
                };
            }
            let Some(n) = resolve_number(ch, tag) else {
                return Ok(Value::Null);
            };
            tx_at(ch, n, index)
        })
    })?;
    m.register_method("eth_getTransactionByBlockHashAndIndex", |p, c, _| -> RpcResult<Value> {
        let (hash, index): (B256, Option<U64>) = two(&p)?;
        c.node.with_chain(|ch| match ch.header_by_hash(&hash).map_err(chain_err)? {
            Some(h) => tx_at(ch, h.header.number, index.unwrap_or_default().to::<u64>()),
            None => Ok(Value::Null),
        })
    })?;
    m.register_method("eth_getTransactionReceipt", |p, c, _| -> RpcResult<Value> {
        let hash: B256 = one(&p)?;
        c.node.with_chain(|ch| match ch.receipt(&hash).map_err(chain_err)? {
            Some(r) => to_json(convert::receipt(&r)),
            None => Ok(Value::Null),
        })
    })?;
    m.register_method("eth_getBlockReceipts", |p, c, _| -> RpcResult<Value> {
        let id: BlockId = one(&p)?;
        if matches!(id, BlockId::Number(BlockNumberOrTag::Pending)) {
            // receipts belong to mined blocks; the pending block is not one yet
            return Ok(Value::Null);
        }
        c.node.with_chain(|ch| {
            let n = match resolve_block_id(ch, Some(id)) {
                Ok(n) => n,
                Err(_) => return Ok(Value::Null),
            };
            let receipts = ch.block_receipts(n).map_err(chain_err)?.unwrap_or_default();
            to_json(receipts.iter().map(convert::receipt).collect::<Vec<_>>())
        })
    })?;

    // ---- logs and filters ----
    m.register_method("eth_getLogs", |p, c, _| -> RpcResult<Value> {
        let filter: Filter = one(&p)?;
        c.node.with_chain(|ch| {
            let q = log_query(ch, &filter)?;
            let logs = ch.logs(&q).map_err(chain_err)?;
            to_json(logs.iter().map(convert::log).collect::<Vec<_>>())
        })
    })?;
    m.register_method("eth_newFilter", |p, c, _| -> RpcResult<U256> {
        let filter: Filter = one(&p)?;
        // As geth: without a fromBlock (or with "latest"), a filter reports the logs of the
        // blocks mined after it was installed, not those of the current head.
        let from_latest = match &filter.block_option {
            FilterBlockOption::Range { from_block, .. } => {
                matches!(from_block, None | Some(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending))
            }
            FilterBlockOption::AtBlockHash(_) => false,
        };
        let mut filter = filter;
        let next_block = c.node.with_chain(|ch| -> RpcResult<u64> {
            let q = log_query(ch, &filter)?;
            let head = ch.head().header.number;
            Ok(if from_latest { head + 1 } else { q.from.min(head + 1) })
        })?;
        if from_latest {
            // Pin the start, so that later polls do not read "latest" as the head of that time.
            filter = filter.from_block(next_block);
        }
        Ok(c.add_filter(FilterState::Logs { filter: Box::new(filter), next_block }))
    })?;
    m.register_method("eth_newBlockFilter", |_, c, _| -> RpcResult<U256> {
        let next_block = c.node.with_chain(|ch| ch.head().header.number + 1);
        Ok(c.add_filter(FilterState::Blocks { next_block }))
    })?;
    m.register_method("eth_newPendingTransactionFilter", |_, c, _| -> RpcResult<U256> {
        let rx = c.node.subscribe();
        Ok(c.add_filter(FilterState::PendingTxs { rx }))
    })?;
    m.register_method("eth_uninstallFilter", |p, c, _| -> RpcResult<bool> {
        let id: U256 = one(&p)?;
        Ok(c.filters.lock().remove(&id).is_some())
    })?;
    m.register_method("eth_getFilterChanges", |p, c, _| -> RpcResult<Value> {
        let id: U256 = one(&p)?;
        let mut filters = c.filters.lock();
        let state = filters.get_mut(&id).ok_or_else(|| err(codes::SERVER, "filter not found"))?;
        c.node.with_chain(|ch| {
            let head = ch.head().header.number;
            match state {
                FilterState::Logs { filter, next_block } => {
                    // Only the blocks since the last poll: the range stays small however long
                    // the filter lives.
                    let mut since_last = (**filter).clone();
                    if let FilterBlockOption::Range {
                        from_block: Some(BlockNumberOrTag::Number(from)), ..
                    } = since_last.block_option
                    {
                        since_last = since_last.from_block(from.max(*next_block));
                    }
                    let mut q = log_query(ch, &since_last)?;
                    q.from = q.from.max(*next_block);
                    q.to = q.to.min(head);
                    let logs = if q.from <= q.to { ch.logs(&q).map_err(chain_err)? } else { vec![] };
                    *next_block = head + 1;
                    to_json(logs.iter().map(convert::log).collect::<Vec<_>>())
                }
                FilterState::Blocks { next_block } => {
                    let mut hashes = Vec::new();
                    for n in *next_block..=head {
                        if let Some(h) = ch.header_by_number(n).map_err(chain_err)? {
                            hashes.push(h.hash);
                        }
                    }
                    *next_block = head + 1;
                    to_json(hashes)
                }
                FilterState::PendingTxs { rx } => {
                    let mut hashes = Vec::new();
                    while let Ok(ev) = rx.try_recv() {
                        if let NodeEvent::PendingTx(h) = ev {
                            hashes.push(h);
                        }
                    }
                    to_json(hashes)
                }
            }
        })
    })?;
    m.register_method("eth_getFilterLogs", |p, c, _| -> RpcResult<Value> {
        let id: U256 = one(&p)?;
        let filters = c.filters.lock();
        let Some(FilterState::Logs { filter, .. }) = filters.get(&id) else {
            return Err(err(codes::SERVER, "filter not found"));
        };
        c.node.with_chain(|ch| {
            let q = log_query(ch, filter)?;
            to_json(ch.logs(&q).map_err(chain_err)?.iter().map(convert::log).collect::<Vec<_>>())
        })
    })?;

    // ---- loft extension: blobs by versioned hash (the devnet's stand-in for a beacon node) ----
    // The L1 data fee a rollup transaction with these EIP-2718 bytes would pay now (zero on
    // an L1); what the OP Stack's GasPriceOracle.getL1Fee(bytes) answers.
    m.register_method("loft_getL1Fee", |p, c, _| -> RpcResult<U256> {
        let raw: Bytes = one(&p)?;
        Ok(c.node.with_chain(|ch| ch.l1_fee_of(&raw)))
    })?;
    m.register_method("loft_getBlob", |p, c, _| -> RpcResult<Option<Bytes>> {
        let hash: B256 = one(&p)?;
        c.node.with_chain(|ch| ch.blob(&hash).map_err(chain_err))
    })?;

    // ---- devnet controls (anvil-style) ----
    debug::register(m)?;

    // ---- subscriptions (WebSocket) ----
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, c, _| async move {
            subscribe(p, pending, c).await;
            Ok(())
        },
    )?;
    Ok(())
}

fn halt_message(reason: &str) -> String {
    if reason.contains("OutOfGas") { "out of gas".into() } else { format!("execution halted: {reason}") }
}

/// anvil's devnet controls: mining on demand, time travel, snapshots, and setting balances,
/// nonces, code and storage.
fn register_dev_controls(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_blocking_method("evm_mine", |p, c, _| -> RpcResult<String> {
        let ts: Option<Value> = p.sequence().optional_next().map_err(|e| invalid(e.message()))?;
        if let Some(ts) = ts.filter(|v| !v.is_null()) {
            let ts: U64 = quantity(&ts).or_else(|_| quantity::<u64>(&ts).map(U64::from))?;
            c.node.with_chain(|ch| ch.set_next_timestamp(ts.to::<u64>())).map_err(chain_err)?;
        }
        c.node.mine().map_err(chain_err)?;
        Ok("0x0".to_string())
    })?;
    m.register_blocking_method("anvil_mine", |p, c, _| -> RpcResult<Value> {
        let mut seq = p.sequence();
        let count: Option<U64> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        let interval: Option<U64> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        let count = count.map(|c| c.to::<u64>()).unwrap_or(1).min(100_000);
        for _ in 0..count {
            if let Some(i) = interval {
                c.node.with_chain(|ch| ch.increase_time(i.to::<u64>())).map_err(chain_err)?;
            }
            c.node.mine().map_err(chain_err)?;
        }
        Ok(Value::Null)
    })?;
    m.register_blocking_method("anvil_dropAllTransactions", |_, c, _| -> RpcResult<Value> {
        c.node.with_chain(|ch| ch.clear_pool()).map_err(chain_err)?;
        Ok(Value::Null)
    })?;
    m.register_method("evm_increaseTime", |p, c, _| -> RpcResult<U64> {
        let v: Value = one(&p)?;
        let secs: u64 = quantity::<U64>(&v).map(|x| x.to::<u64>()).or_else(|_| quantity::<u64>(&v))?;
        let total = c.node.with_chain(|ch| ch.increase_time(secs)).map_err(chain_err)?;
        Ok(U64::from(total.max(0) as u64))
    })?;
    m.register_method("evm_setNextBlockTimestamp", |p, c, _| -> RpcResult<Value> {
        let v: Value = one(&p)?;
        let ts: u64 = quantity::<U64>(&v).map(|x| x.to::<u64>()).or_else(|_| quantity::<u64>(&v))?;
        c.node.with_chain(|ch| ch.set_next_timestamp(ts)).map_err(chain_err)?;
        Ok(Value::Null)
    })?;
    m.register_method("evm_snapshot", |_, c, _| -> RpcResult<U256> { Ok(U256::from(c.node.snapshot())) })?;
    m.register_blocking_method("evm_revert", |p, c, _| -> RpcResult<bool> {
        let id: U256 = one(&p)?;
        if id > U256::from(u64::MAX) {
            return Ok(false);
        }
        c.node.revert(id.to::<u64>()).map_err(chain_err)
    })?;
    m.register_method("evm_setAutomine", |p, c, _| -> RpcResult<Value> {
        let on: bool = one(&p)?;
        c.node.set_mining(if on { MiningMode::Instant } else { MiningMode::Manual });
        Ok(Value::Null)
    })?;
    m.register_method("anvil_getAutomine", |_, c, _| -> RpcResult<bool> {
        Ok(c.node.mining() == MiningMode::Instant)
    })?;
    m.register_method("evm_setIntervalMining", |p, c, _| -> RpcResult<Value> {
        let ms: u64 = one(&p)?;
        c.node.set_mining(if ms == 0 {
            MiningMode::Manual
        } else {
            MiningMode::Interval(std::time::Duration::from_millis(ms))
        });
        Ok(Value::Null)
    })?;
    m.register_method("anvil_setBalance", |p, c, _| -> RpcResult<Value> {
        let (addr, bal): (Address, Option<U256>) = two(&p)?;
        let bal = bal.ok_or_else(|| invalid("missing balance"))?;
        c.node.with_chain(|ch| ch.set_balance(addr, bal));
        Ok(Value::Null)
    })?;
    m.register_method("anvil_setNonce", |p, c, _| -> RpcResult<Value> {
        let (addr, nonce): (Address, Option<U64>) = two(&p)?;
        let nonce = nonce.ok_or_else(|| invalid("missing nonce"))?;
        c.node.with_chain(|ch| ch.set_nonce(addr, nonce.to::<u64>()));
        Ok(Value::Null)
    })?;
    m.register_method("anvil_setCode", |p, c, _| -> RpcResult<Value> {
        let (addr, code): (Address, Option<Bytes>) = two(&p)?;
        let code = code.ok_or_else(|| invalid("missing code"))?;
        c.node.with_chain(|ch| ch.set_code(addr, code));
        Ok(Value::Null)
    })?;
    m.register_method("anvil_setStorageAt", |p, c, _| -> RpcResult<bool> {
        let mut seq = p.sequence();
        let addr: Address = seq.next().map_err(|e| invalid(e.message()))?;
        let slot: U256 = seq.next().map_err(|e| invalid(e.message()))?;
        let value: B256 = seq.next().map_err(|e| invalid(e.message()))?;
        c.node.with_chain(|ch| ch.set_storage(addr, slot, U256::from_be_bytes(value.0)));
        Ok(true)
    })?;
    Ok(())
}

fn block_json(ch: &Chain, n: u64, full: bool) -> RpcResult<Value> {
    let Some(h) = ch.header_by_number(n).map_err(chain_err)? else {
        return Ok(Value::Null);
    };
    let txs = ch.block_txs(n).map_err(chain_err)?;
    to_json(convert::block(&h, &txs, full))
}

fn tx_at(ch: &Chain, n: u64, index: u64) -> RpcResult<Value> {
    let Some(h) = ch.header_by_number(n).map_err(chain_err)? else {
        return Ok(Value::Null);
    };
    let txs = ch.block_txs(n).map_err(chain_err)?;
    match txs.get(index as usize) {
        Some(tx) => to_json(convert::transaction(tx, Some((&h, index)))),
        None => Ok(Value::Null),
    }
}

impl Ctx {
    fn add_filter(&self, state: FilterState) -> U256 {
        let mut next = self.next_filter.lock();
        let id = *next;
        *next += U256::from(1);
        let mut filters = self.filters.lock();
        // Bound memory: forget the oldest filters past a generous limit.
        if filters.len() >= 10_000
            && let Some(oldest) = filters.keys().min().copied()
        {
            filters.remove(&oldest);
        }
        filters.insert(id, state);
        id
    }
}

async fn subscribe(p: Params<'static>, pending: PendingSubscriptionSink, c: Arc<Ctx>) {
    let mut seq = p.sequence();
    let kind: String = match seq.next() {
        Ok(k) => k,
        Err(e) => {
            pending.reject(invalid(e.message())).await;
            return;
        }
    };
    let filter: Option<Filter> = match seq.optional_next() {
        Ok(f) => f,
        Err(e) => {
            pending.reject(invalid(e.message())).await;
            return;
        }
    };
    if !matches!(kind.as_str(), "newHeads" | "logs" | "newPendingTransactions") {
        pending.reject(invalid(format!("unsupported subscription {kind}"))).await;
        return;
    }
    let mut rx = c.node.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            ev = rx.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                let messages: Vec<Value> = match (&ev, kind.as_str()) {
                    (NodeEvent::Block(h), "newHeads") => vec![serde_json::to_value(convert::header(h, 0)).unwrap_or_default()],
                    (NodeEvent::Block(h), "logs") => {
                        let f = filter.clone().unwrap_or_default();
                        c.node.with_chain(|ch| {
                            let mut out = Vec::new();
                            let q = LogQuery {
                                from: h.header.number,
                                to: h.header.number,
                                addresses: f.address.iter().copied().collect(),
                                topics: f.topics.iter().map(|t| t.iter().copied().collect()).collect(),
                            };
                            let _ = ch.block_logs(h, &q, &mut out);
                            out.iter().map(|l| serde_json::to_value(convert::log(l)).unwrap_or_default()).collect()
                        })
                    }
                    (NodeEvent::PendingTx(hash), "newPendingTransactions") => vec![json!(hash)],
                    _ => vec![],
                };
                for msg in messages {
                    let Ok(raw) = serde_json::value::to_raw_value(&msg) else { continue };
                    let msg = SubscriptionMessage::from(raw);
                    if sink.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
