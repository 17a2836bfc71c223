//! loft's extensions: the L1 data fee of a rollup transaction, blobs by versioned hash (the
//! devnet's stand-in for a beacon node).

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
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
    Ok(())
}
