//! The operator's durable record, in redb: every operation it accepted (on disk before the
//! API answers), and every block it sealed (its operations in block order, its new root,
//! whether L1 took it). On a restart the operator replays the sealed blocks from genesis
//! (reaching each recorded root), submits those L1 does not have yet, and takes the pending
//! operations again.

use std::path::Path;

use alloy_primitives::B256;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, backends::InMemoryBackend};
use serde::{Deserialize, Serialize};

use crate::wire::WireOp;

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending");
/// `"deployment"`: the deployment the record was made for ([`Store::open_for`]).
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// A sealed block as the store keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SealedRecord {
    /// Its number (1-based).
    pub number: u32,
    /// Its operations, wide lane first.
    pub ops: Vec<WireOp>,
    /// The root after it.
    pub new_root: B256,
    /// Whether L1 executed it.
    pub submitted: bool,
}

/// What the store holds: the sealed blocks in order, the pending operations with their
/// sequence numbers.
pub type Loaded = (Vec<SealedRecord>, Vec<(u64, WireOp)>);

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// The record.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the record at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        Ok(Self { db: Database::create(path).map_err(err)? })
    }

    /// Opens the record at `path` for the deployment `binding` names (its chain, contract
    /// and L1 block: `Deployment::binding`), or starts one. A record made for another
    /// deployment, or for none it names, is never replayed into this one: it is renamed
    /// `<path>.set-aside-<unix seconds>` and its new path returned with a fresh record.
    pub fn open_for(path: &Path, binding: &str) -> Result<(Self, Option<std::path::PathBuf>), StoreError> {
        let store = Self::open(path)?;
        let recorded = store.binding()?;
        let (blocks, pending) = store.load()?;
        let matches = match &recorded {
            Some(b) => b == binding,
            // a record from before records were bound: only an empty one is safe to take
            None => blocks.is_empty() && pending.is_empty(),
        };
        if matches {
            store.bind(binding)?;
            return Ok((store, None));
        }
        drop(store);
        let aside = loft_l1::binding::set_aside(path).map_err(err)?;
        let store = Self::open(path)?;
        store.bind(binding)?;
        Ok((store, Some(aside)))
    }

    /// The deployment the record was made for, if it says.
    pub fn binding(&self) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        match txn.open_table(META) {
            Ok(t) => Ok(t.get("deployment").map_err(err)?.map(|v| v.value().to_string())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    fn bind(&self, binding: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(META).map_err(err)?.insert("deployment", binding).map_err(err)?;
        txn.commit().map_err(err)
    }

    /// A record in memory, lost with the process.
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Self { db: Database::builder().create_with_backend(InMemoryBackend::new()).map_err(err)? })
    }

    /// Records an accepted operation under `seq`.
    pub fn accept(&self, seq: u64, op: &WireOp) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(op).map_err(err)?;
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(PENDING).map_err(err)?.insert(seq, bytes.as_slice()).map_err(err)?;
        txn.commit().map_err(err)
    }

    /// Records a sealed block and, in the same transaction, drops the pending operations it
    /// holds.
    pub fn seal(&self, record: &SealedRecord, consumed: &[u64]) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(err)?;
        let txn = self.db.begin_write().map_err(err)?;
        {
            txn.open_table(BLOCKS)
                .map_err(err)?
                .insert(record.number as u64, bytes.as_slice())
                .map_err(err)?;
            let mut pending = txn.open_table(PENDING).map_err(err)?;
            for seq in consumed {
                pending.remove(*seq).map_err(err)?;
            }
        }
        txn.commit().map_err(err)
    }

    /// Marks block `number` executed on L1.
    pub fn mark_submitted(&self, number: u32) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            let record = blocks.get(number as u64).map_err(err)?.map(|v| v.value().to_vec());
            let Some(bytes) = record else { return Err(StoreError(format!("no block {number}"))) };
            let mut record: SealedRecord = serde_json::from_slice(&bytes).map_err(err)?;
            record.submitted = true;
            let bytes = serde_json::to_vec(&record).map_err(err)?;
            blocks.insert(number as u64, bytes.as_slice()).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    /// The sealed blocks in order, and the pending operations with their sequence numbers.
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let mut blocks = Vec::new();
        match txn.open_table(BLOCKS) {
            Ok(t) => {
                for row in t.iter().map_err(err)? {
                    let (_, v) = row.map_err(err)?;
                    blocks.push(serde_json::from_slice(v.value()).map_err(err)?);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(err(e)),
        }
        let mut pending = Vec::new();
        match txn.open_table(PENDING) {
            Ok(t) => {
                for row in t.iter().map_err(err)? {
                    let (k, v) = row.map_err(err)?;
                    pending.push((k.value(), serde_json::from_slice(v.value()).map_err(err)?));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(err(e)),
        }
        Ok((blocks, pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(number: u32) -> SealedRecord {
        SealedRecord { number, ops: vec![], new_root: B256::repeat_byte(number as u8), submitted: true }
    }

    /// A record made for one deployment is never replayed into another that reuses the
    /// contract address (a restarted in-memory devnet): it is set aside, and the new
    /// deployment starts empty; the same deployment reopens its own record.
    #[test]
    fn a_record_of_another_deployment_is_set_aside() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(err)?;
        let path = dir.path().join("operator.redb");
        let (first, aside) = Store::open_for(&path, "chain 31337 rollup 0xaa block 9 0x01")?;
        assert!(aside.is_none());
        first.seal(&sealed(1), &[])?;
        drop(first);

        let (again, aside) = Store::open_for(&path, "chain 31337 rollup 0xaa block 9 0x01")?;
        assert!(aside.is_none(), "the same deployment keeps its record");
        assert_eq!(again.load()?.0, vec![sealed(1)]);
        drop(again);

        let (other, aside) = Store::open_for(&path, "chain 31337 rollup 0xaa block 9 0x02")?;
        let aside = aside.expect("set aside");
        assert!(other.load()?.0.is_empty(), "the new deployment starts empty");
        assert_eq!(other.binding()?.as_deref(), Some("chain 31337 rollup 0xaa block 9 0x02"));
        let kept = Store::open(&aside)?;
        assert_eq!(kept.load()?.0, vec![sealed(1)], "the old record is kept aside, whole");
        Ok(())
    }

    /// A record from before records were bound is taken only when empty.
    #[test]
    fn an_unbound_record_with_blocks_is_set_aside() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(err)?;
        let path = dir.path().join("operator.redb");
        Store::open(&path)?.seal(&sealed(1), &[])?;
        let (store, aside) = Store::open_for(&path, "chain 1 rollup 0xbb")?;
        assert!(aside.is_some());
        assert!(store.load()?.0.is_empty());

        let empty = dir.path().join("empty.redb");
        drop(Store::open(&empty)?);
        let (_, aside) = Store::open_for(&empty, "chain 1 rollup 0xbb")?;
        assert!(aside.is_none(), "an empty unbound record is simply bound");
        Ok(())
    }
}
