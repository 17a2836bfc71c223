//! Records bound to one deployment. A node's record (a deployment file, a store) belongs to
//! the contracts it was made for on one L1 history: the chain id, the contract address, and
//! an L1 block at or after the deployment. A new L1 that puts new contracts at the same
//! addresses (a restarted in-memory devnet) lacks that block, so an old record is recognised
//! and set aside, never replayed into the new deployment.

use std::path::{Path, PathBuf};

use alloy::{eips::BlockNumberOrTag, providers::Provider};
use alloy_primitives::{Address, B256};
use serde::{Serialize, de::DeserializeOwned};

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

/// What a deployment record is bound to: the L1's chain id, the contract whose code must be
/// there, and an L1 block at or after the deployment (absent in records made before records
/// were bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The L1's chain id.
    pub chain_id: u64,
    /// The contract whose code the L1 must hold.
    pub contract: Address,
    /// The bound block (number, hash).
    pub bound_to: Option<(u64, B256)>,
}

impl Binding {
    /// Whether `l1` holds the deployment this binding names ([`deployment_is_on`]).
    pub async fn is_on(&self, l1: &L1Client) -> Result<bool, L1Error> {
        deployment_is_on(l1, self.chain_id, self.contract, self.bound_to).await
    }
}

/// A deployment record (the JSON file a node, a demo or a wallet reads to find its contracts).
pub trait DeploymentRecord: Serialize + DeserializeOwned {
    /// What the record is bound to.
    fn binding(&self) -> Binding;
}

/// What a deployment record says about the L1 it is read against.
#[derive(Clone, Debug)]
pub enum Recorded<T> {
    /// No record at that path.
    Absent,
    /// A record of a deployment this L1 holds: resume it.
    Ours(T),
    /// A record of a deployment this L1 does not have (another chain, or a devnet started
    /// anew): never resumed.
    Foreign(T),
}

/// Reads the deployment record at `path` against `l1`. A file there that is not a record is
/// an error (naming it), never overwritten: a person decides what it was.
pub async fn recorded<T: DeploymentRecord>(l1: &L1Client, path: &Path) -> Result<Recorded<T>, L1Error> {
    let record = match load_record::<T>(path) {
        Ok(record) => record,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Recorded::Absent),
        Err(e) => {
            return Err(L1Error::Config(format!(
                "the deployment record {}: {e} (move it away to deploy anew)",
                path.display()
            )));
        }
    };
    Ok(if record.binding().is_on(l1).await? { Recorded::Ours(record) } else { Recorded::Foreign(record) })
}

/// The recorded deployment when it is `l1`'s, else the one `deploy` makes, whose record then
/// replaces whatever was at `path` (written atomically, once the deployment is on L1); `true`
/// when it was deployed now. A record that can not be written is `saving`'s error.
pub async fn deploy_or_resume<T: DeploymentRecord, E>(
    path: &Path,
    recorded: Recorded<T>,
    deploy: impl AsyncFnOnce() -> Result<T, E>,
    saving: impl FnOnce(std::io::Error) -> E,
) -> Result<(T, bool), E> {
    if let Recorded::Ours(record) = recorded {
        return Ok((record, false));
    }
    let record = deploy().await?;
    save_record(path, &record).map_err(saving)?;
    Ok((record, true))
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

/// Writes a record as JSON atomically: to a temporary file beside it, synced, then renamed
/// over it, so that a crash leaves the old record or the new one, never half of one.
pub fn save_record<T: Serialize>(path: &Path, record: &T) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    json.push(b'\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // the rename itself is durable once the directory is
    std::fs::File::open(dir)?.sync_all()
}

/// Reads a record written by [`save_record`]; a file that is not such a record is
/// `InvalidData`, with the path and what is wrong.
pub fn load_record<T: DeserializeOwned>(path: &Path) -> std::io::Result<T> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not a valid record: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Record {
        chain_id: u64,
        contract: Address,
    }

    #[test]
    fn a_record_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/record.json");
        let record = Record { chain_id: 7, contract: Address::repeat_byte(1) };
        save_record(&path, &record).expect("save");
        save_record(&path, &record).expect("save over");
        assert_eq!(load_record::<Record>(&path).expect("load"), record);
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("record.json")]);
        std::fs::write(&path, "{\"chain_id\": 7").expect("truncate");
        let err = load_record::<Record>(&path).expect_err("a truncated record");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("record.json"), "{err}");
    }
}
