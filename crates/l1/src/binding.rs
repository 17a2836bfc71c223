//! Records bound to one deployment. A node's record (a deployment file, a store) belongs to
//! the contracts it was made for on one L1 history: the chain id, the contract address, and
//! an L1 block at or after the deployment. A new L1 that puts new contracts at the same
//! addresses (a restarted in-memory devnet) lacks that block, so an old record is recognised
//! and set aside, never replayed into the new deployment.

use std::path::{Path, PathBuf};

use alloy::{eips::BlockNumberOrTag, providers::Provider};
use alloy_primitives::{Address, B256};

use crate::{L1Client, L1Error};

/// The L1's head block (number, hash): what a deployment made just now binds to.
pub async fn head_block(l1: &L1Client) -> Result<(u64, B256), L1Error> {
    let head = l1
        .provider()
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| L1Error::Rpc("the L1 has no latest block".into()))?;
    Ok((head.header.number, head.header.hash))
}

/// Whether `l1` holds the deployment of `contract` on chain `chain_id` bound to `bound_to`:
/// the same chain id, code at the contract, and the bound block (a record without one, made
/// before records were bound, matches on chain id and code alone).
pub async fn deployment_is_on(
    l1: &L1Client,
    chain_id: u64,
    contract: Address,
    bound_to: Option<(u64, B256)>,
) -> Result<bool, L1Error> {
    if l1.chain_id().await? != chain_id {
        return Ok(false);
    }
    if l1.provider().get_code_at(contract).await?.is_empty() {
        return Ok(false);
    }
    let Some((number, hash)) = bound_to else { return Ok(true) };
    let block = l1.provider().get_block_by_number(BlockNumberOrTag::Number(number)).await?;
    Ok(block.is_some_and(|b| b.header.hash == hash))
}

/// Renames the record at `path` to `<path>.set-aside-<unix seconds>` (kept whole, for a
/// person to look at) and returns the new path.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".set-aside-{secs}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside)?;
    Ok(aside)
}
