//! Who the node is: `web3_*`, `net_*`, the chain id, the head number, the dev accounts.

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
    Ok(())
}
