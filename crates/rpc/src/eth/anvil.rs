//! anvil's devnet controls: mining on demand, time travel, snapshots, and setting balances,
//! nonces, code and storage. Served only where [`crate::Methods::WithDevControls`] says so.

use super::{execution::quantity, *};

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
    m.register_method("evm_setBlockGasLimit", |p, c, _| -> RpcResult<bool> {
        let v: Value = one(&p)?;
        let gas: u64 = quantity::<U64>(&v).map(|x| x.to::<u64>()).or_else(|_| quantity::<u64>(&v))?;
        c.node.with_chain(|ch| ch.set_block_gas_limit(gas)).map_err(chain_err)?;
        Ok(true)
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
