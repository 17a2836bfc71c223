//! From attributes to an engine block, and from an L2 block back to the batch that lets a
//! replica rebuild it.

use std::sync::Arc;

use crate::batch::L2BlockBatch;
use alloy::sol_types::SolCall;
use alloy_primitives::Bytes;
use loft_chain::{BlockSpec, Chain, ChainError, RecoveredTx};

use crate::{deposits::setL1BlockValuesCall, derive::PayloadAttributes};

/// The engine's inputs for a block with these attributes. A transaction that does not
/// decode (bad signature, wrong chain, a blob sidecar missing) is left out, as every node
/// leaves it out.
pub fn block_spec(attrs: &PayloadAttributes, l2_chain_id: u64) -> BlockSpec {
    let txs = attrs
        .transactions
        .iter()
        .filter_map(|raw| RecoveredTx::decode(raw, l2_chain_id).ok())
        .map(Arc::new)
        .collect();
    BlockSpec {
        timestamp: Some(attrs.timestamp),
        prevrandao: Some(attrs.epoch.hash),
        extra_data: Some(Bytes::new()),
        deposits: attrs.deposits.clone(),
        txs: Some(txs),
        l1_prices: Some(attrs.epoch.prices()),
    }
}

/// The batch of L2 block `number`: its parent, epoch (read back from its L1-info deposit),
/// timestamp and sequenced (non-deposit) transactions.
pub fn batch_for_block(chain: &Chain, number: u64) -> Result<L2BlockBatch, ChainError> {
    let header =
        chain.header_by_number(number)?.ok_or_else(|| ChainError::NotFound(format!("block {number}")))?;
    let txs = chain.block_txs(number)?;
    let info = txs
        .first()
        .and_then(|tx| tx.tx.as_deposit())
        .and_then(|d| setL1BlockValuesCall::abi_decode(&d.input).ok())
        .ok_or_else(|| {
            ChainError::Corrupt(format!("block {number} does not start with the L1-info deposit"))
        })?;
    Ok(L2BlockBatch {
        parent_hash: header.header.parent_hash,
        epoch_number: info.number_,
        epoch_hash: info.hash_,
        timestamp: header.header.timestamp,
        transactions: txs.iter().filter(|t| !t.is_deposit()).map(|t| t.encoded.clone()).collect(),
    })
}
