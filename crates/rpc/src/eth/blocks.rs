//! Blocks, transactions and receipts, mined or (`pending`) about to be.

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
