//! Reads L1 blocks for the rollup through the same alloy provider for any node: the header
//! (epoch info), the portal's deposit events and the data the batcher sent to the inbox
//! (calldata, or blob contents fetched by versioned hash).

use alloy::{
    consensus::{SidecarCoder, SimpleCoder, Transaction as _},
    eips::{BlockNumberOrTag, eip4844::Blob, eip7840::BlobParams},
    network::TransactionResponse,
    providers::Provider,
    rpc::types::Filter,
};
use alloy_primitives::{B256, Bytes};
use loft_l1::{L1Client, L1Error};

use crate::{
    config::RollupConfig,
    deposits::{L1BlockInfo, decode_deposit},
    derive::L1Block,
};

/// Fetches L1 block `number` as derivation reads it; `None` when the node does not have it yet.
pub async fn fetch_l1_block(
    client: &L1Client,
    config: &RollupConfig,
    number: u64,
) -> Result<Option<L1Block>, L1Error> {
    let provider = client.provider();
    let Some(block) = provider.get_block_by_number(BlockNumberOrTag::Number(number)).full().await? else {
        return Ok(None);
    };
    let header = &block.header;
    let blob_base_fee = header.excess_blob_gas.map(|e| BlobParams::prague().calc_blob_fee(e)).unwrap_or(1);
    let info = L1BlockInfo {
        number,
        timestamp: header.timestamp,
        base_fee: u128::from(header.base_fee_per_gas.unwrap_or_default()),
        hash: header.hash,
        blob_base_fee,
        batcher_hash: B256::left_padding_from(config.batcher.as_slice()),
    };
    let logs = provider.get_logs(&Filter::new().address(config.portal).at_block_hash(header.hash)).await?;
    let deposits =
        logs.iter().filter_map(|log| decode_deposit(&log.inner, config.portal, header.hash).ok()).collect();
    let mut batcher_data = Vec::new();
    for tx in block.transactions.txns() {
        if tx.to() != Some(config.batch_inbox) || tx.from() != config.batcher {
            continue;
        }
        match tx.blob_versioned_hashes() {
            Some(hashes) if !hashes.is_empty() => {
                if let Some(data) = fetch_blob_data(client, hashes).await? {
                    batcher_data.push(data);
                }
            }
            _ => batcher_data.push(tx.input().clone()),
        }
    }
    Ok(Some(L1Block { info, parent_hash: header.parent_hash, deposits, batcher_data }))
}

/// The bytes carried by a blob transaction (alloy's `SimpleCoder` packing), from loft's
/// `loft_getBlob`; `None` when the node can not serve them or they do not decode.
async fn fetch_blob_data(client: &L1Client, hashes: &[B256]) -> Result<Option<Bytes>, L1Error> {
    let mut blobs = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let blob: Option<Bytes> = match client.provider().raw_request("loft_getBlob".into(), (hash,)).await {
            Ok(b) => b,
            Err(_) => return Ok(None),
        };
        let Some(blob) = blob.and_then(|b| Blob::try_from(b.as_ref()).ok()) else {
            return Ok(None);
        };
        blobs.push(blob);
    }
    Ok(SimpleCoder::default().decode_all(&blobs).map(|parts| Bytes::from(parts.concat())))
}
