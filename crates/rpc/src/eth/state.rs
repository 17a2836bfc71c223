//! Account state at a block: balances, nonces, code, storage and proofs.

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
    Ok(())
}
