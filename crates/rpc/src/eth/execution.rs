//! Calls, gas estimates and sending transactions (raw, or signed for a dev account).

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
    Ok(())
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

/// Fills in and signs a transaction for a dev account (`eth_sendTransaction`).
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

pub(super) fn quantity<T: serde::de::DeserializeOwned>(v: &Value) -> RpcResult<T> {
    serde_json::from_value(v.clone()).map_err(invalid)
}

fn halt_message(reason: &str) -> String {
    if reason.contains("OutOfGas") { "out of gas".into() } else { format!("execution halted: {reason}") }
}
