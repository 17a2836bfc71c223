//! Fees: the gas price, the priority fee, the blob base fee and `eth_feeHistory`.

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
    Ok(())
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
