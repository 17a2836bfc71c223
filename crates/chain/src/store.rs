//! Persistence on redb: blocks, transactions, receipts, the flat state, per-block change sets
//! (to rewind on a reorg or `evm_revert`), pooled transactions and blobs.
//!
//! Every block is written in one redb write transaction, committed with immediate durability:
//! after a crash the store holds whole blocks only, and the in-memory state is rebuilt from
//! the flat state tables on open.

use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    backends::InMemoryBackend,
};

use crate::{
    error::ChainError,
    state::{AccountBasic, ChangeSet, WorldState},
    tx::BlobRecord,
};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
const HASH_TO_NUMBER: TableDefinition<&[u8; 32], u64> = TableDefinition::new("hash_to_number");
const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
const ACCOUNTS: TableDefinition<&[u8; 20], &[u8]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("storage");
const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");
const POOL: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("pool");
const BLOBS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blobs");

const META_CHAIN_ID: &str = "chain_id";
const META_HEAD: &str = "head";
const META_TIME_OFFSET: &str = "time_offset";
const META_SAFE: &str = "safe";
const META_FINALIZED: &str = "finalized";

/// A transaction as stored in a block body: its canonical encoding and its recovered sender.
#[derive(Clone, Debug, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct StoredTx {
    /// Canonical EIP-2718 encoding.
    pub raw: Bytes,
    /// Sender recovered when the transaction was accepted.
    pub sender: Address,
}

/// Everything one block writes.
pub struct BlockWrite<'a> {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// RLP of the header.
    pub header_rlp: &'a [u8],
    /// Transactions in order.
    pub txs: &'a [StoredTx],
    /// EIP-2718 encodings of the receipts, in order.
    pub receipts: &'a [Bytes],
    /// Hashes of the transactions, in order.
    pub tx_hashes: &'a [B256],
    /// What the block changed.
    pub changes: &'a ChangeSet,
    /// Code first deployed in the block.
    pub new_code: &'a [(B256, Bytes)],
}

/// The redb store of one chain.
pub struct Store {
    db: Database,
}

fn slot_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

fn rlp_list<T: Encodable>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list(items, &mut out);
    out
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, ChainError> {
        std::fs::create_dir_all(dir).map_err(|e| ChainError::Storage(format!("{}: {e}", dir.display())))?;
        let db = Database::create(dir.join("chain.redb"))?;
        Self::init(db)
    }

    /// A store that lives in memory only (an ephemeral devnet).
    pub fn in_memory() -> Result<Self, ChainError> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new())?;
        Self::init(db)
    }

    fn init(db: Database) -> Result<Self, ChainError> {
        let txn = db.begin_write()?;
        {
            txn.open_table(META)?;
            txn.open_table(HEADERS)?;
            txn.open_table(HASH_TO_NUMBER)?;
            txn.open_table(BODIES)?;
            txn.open_table(RECEIPTS)?;
            txn.open_table(TX_INDEX)?;
            txn.open_table(CHANGES)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(STORAGE)?;
            txn.open_table(CODE)?;
            txn.open_table(POOL)?;
            txn.open_table(BLOBS)?;
        }
        txn.commit()?;
        Ok(Self { db })
    }

    /// The chain id recorded at genesis, if the store holds a chain.
    pub fn chain_id(&self) -> Result<Option<u64>, ChainError> {
        self.meta_u64(META_CHAIN_ID)
    }

    /// The head block number, if the store holds a chain.
    pub fn head(&self) -> Result<Option<u64>, ChainError> {
        self.meta_u64(META_HEAD)
    }

    /// The devnet's time offset (seconds added by `evm_increaseTime`).
    pub fn time_offset(&self) -> Result<i64, ChainError> {
        Ok(self.meta_u64(META_TIME_OFFSET)?.map(|v| v as i64).unwrap_or_default())
    }

    /// Records the devnet's time offset.
    pub fn set_time_offset(&self, offset: i64) -> Result<(), ChainError> {
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert(META_TIME_OFFSET, (offset as u64).to_be_bytes().as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The safe and finalized block numbers last recorded (`None` before the first).
    pub fn forkchoice(&self) -> Result<Option<(u64, u64)>, ChainError> {
        Ok(self.meta_u64(META_SAFE)?.zip(self.meta_u64(META_FINALIZED)?))
    }

    /// Records the safe and finalized block numbers (one atomic, durable write).
    pub fn set_forkchoice(&self, safe: u64, finalized: u64) -> Result<(), ChainError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate).map_err(|e| ChainError::Storage(e.to_string()))?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(META_SAFE, safe.to_be_bytes().as_slice())?;
            meta.insert(META_FINALIZED, finalized.to_be_bytes().as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>, ChainError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        let Some(v) = table.get(key)? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = v.value().try_into().map_err(|_| ChainError::Corrupt(format!("meta {key}")))?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// Writes one block and its state changes atomically.
    pub fn write_block(&self, chain_id: u64, block: BlockWrite<'_>) -> Result<(), ChainError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate).map_err(|e| ChainError::Storage(e.to_string()))?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(META_CHAIN_ID, chain_id.to_be_bytes().as_slice())?;
            meta.insert(META_HEAD, block.number.to_be_bytes().as_slice())?;
            txn.open_table(HEADERS)?.insert(block.number, block.header_rlp)?;
            txn.open_table(HASH_TO_NUMBER)?.insert(&block.hash.0, block.number)?;
            txn.open_table(BODIES)?.insert(block.number, rlp_list(block.txs).as_slice())?;
            txn.open_table(RECEIPTS)?.insert(block.number, rlp_list(block.receipts).as_slice())?;
            let mut changes_rlp = Vec::new();
            block.changes.encode(&mut changes_rlp);
            txn.open_table(CHANGES)?.insert(block.number, changes_rlp.as_slice())?;
            let mut index = txn.open_table(TX_INDEX)?;
            let mut pool = txn.open_table(POOL)?;
            for (i, hash) in block.tx_hashes.iter().enumerate() {
                index.insert(&hash.0, (block.number, i as u32))?;
                pool.remove(&hash.0)?;
            }
            let mut code = txn.open_table(CODE)?;
            for (hash, bytes) in block.new_code {
                code.insert(&hash.0, bytes.as_ref())?;
            }
            Self::apply_state(&txn, block.changes, false)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Writes the flat state of a change set (its `after` values, or its `before` values when
    /// undoing).
    fn apply_state(txn: &redb::WriteTransaction, changes: &ChangeSet, undo: bool) -> Result<(), ChainError> {
        let mut accounts = txn.open_table(ACCOUNTS)?;
        for c in &changes.accounts {
            let value = if undo { &c.before } else { &c.after };
            if value.is_empty() {
                accounts.remove(&c.address.0.0)?;
            } else {
                let mut buf = Vec::new();
                value.encode(&mut buf);
                accounts.insert(&c.address.0.0, buf.as_slice())?;
            }
        }
        let mut storage = txn.open_table(STORAGE)?;
        for c in &changes.storage {
            let key = slot_key(&c.address, &c.slot);
            let value = if undo { c.before } else { c.after };
            if value.is_zero() {
                storage.remove(&key)?;
            } else {
                storage.insert(&key, &value.to_be_bytes::<32>())?;
            }
        }
        Ok(())
    }

    /// Removes blocks above `number`, undoing their state changes; returns the transactions
    /// they held (newest block last) so the caller can return them to the pool.
    pub fn rewind_to(&self, number: u64) -> Result<Vec<(ChangeSet, Vec<StoredTx>)>, ChainError> {
        let Some(head) = self.head()? else {
            return Ok(vec![]);
        };
        let mut undone = Vec::new();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate).map_err(|e| ChainError::Storage(e.to_string()))?;
        for n in (number + 1..=head).rev() {
            let changes = match txn.open_table(CHANGES)?.remove(n)? {
                Some(v) => ChangeSet::decode(&mut v.value())?,
                None => return Err(ChainError::Corrupt(format!("change set of block {n}"))),
            };
            Self::apply_state(&txn, &changes, true)?;
            let txs: Vec<StoredTx> = match txn.open_table(BODIES)?.remove(n)? {
                Some(v) => Vec::<StoredTx>::decode(&mut v.value())?,
                None => vec![],
            };
            let header = txn.open_table(HEADERS)?.remove(n)?.map(|v| v.value().to_vec());
            if let Some(header) = header {
                let hash = alloy_primitives::keccak256(&header);
                txn.open_table(HASH_TO_NUMBER)?.remove(&hash.0)?;
            }
            txn.open_table(RECEIPTS)?.remove(n)?;
            let mut index = txn.open_table(TX_INDEX)?;
            for tx in &txs {
                if let Ok(recovered) = crate::tx::RecoveredTx::from_block(&tx.raw, tx.sender) {
                    index.remove(&recovered.hash.0)?;
                }
            }
            undone.push((changes, txs));
        }
        txn.open_table(META)?.insert(META_HEAD, number.to_be_bytes().as_slice())?;
        txn.commit()?;
        undone.reverse();
        Ok(undone)
    }

    /// Loads the flat state into memory.
    pub fn load_state(&self) -> Result<WorldState, ChainError> {
        let txn = self.db.begin_read()?;
        let mut state = WorldState::new();
        for entry in txn.open_table(CODE)?.iter()? {
            let (_, v) = entry?;
            state.load_code(Bytes::copy_from_slice(v.value()));
        }
        for entry in txn.open_table(ACCOUNTS)?.iter()? {
            let (k, v) = entry?;
            let basic = AccountBasic::decode(&mut v.value())?;
            state.load_account(Address::from(*k.value()), basic);
        }
        for entry in txn.open_table(STORAGE)?.iter()? {
            let (k, v) = entry?;
            let key = k.value();
            let address = Address::from_slice(&key[..20]);
            let slot = U256::from_be_slice(&key[20..]);
            state.load_slot(address, slot, U256::from_be_bytes(*v.value()));
        }
        Ok(state)
    }

    /// The change set of a block.
    pub fn changes(&self, number: u64) -> Result<Option<ChangeSet>, ChainError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CHANGES)?;
        let Some(v) = table.get(number)? else { return Ok(None) };
        Ok(Some(ChangeSet::decode(&mut v.value())?))
    }

    /// RLP of a header by number.
    pub fn header_rlp(&self, number: u64) -> Result<Option<Vec<u8>>, ChainError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(HEADERS)?.get(number)?.map(|v| v.value().to_vec()))
    }

    /// Block number of a block hash.
    pub fn number_of(&self, hash: &B256) -> Result<Option<u64>, ChainError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(HASH_TO_NUMBER)?.get(&hash.0)?.map(|v| v.value()))
    }

    /// Transactions of a block.
    pub fn body(&self, number: u64) -> Result<Option<Vec<StoredTx>>, ChainError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BODIES)?;
        let Some(v) = table.get(number)? else {
            return Ok(None);
        };
        Ok(Some(Vec::<StoredTx>::decode(&mut v.value())?))
    }

    /// Receipts (EIP-2718 encodings) of a block.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<Bytes>>, ChainError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let Some(v) = table.get(number)? else {
            return Ok(None);
        };
        Ok(Some(Vec::<Bytes>::decode(&mut v.value())?))
    }

    /// Where a mined transaction is: (block number, index).
    pub fn tx_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ChainError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(TX_INDEX)?.get(&hash.0)?.map(|v| v.value()))
    }

    /// Persists transactions accepted into the pool (before their hashes are returned), in
    /// one durable write.
    pub fn put_pooled(&self, txs: &[(&StoredTx, &B256, &[BlobRecord])]) -> Result<(), ChainError> {
        if txs.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate).map_err(|e| ChainError::Storage(e.to_string()))?;
        {
            let mut pool = txn.open_table(POOL)?;
            let mut table = txn.open_table(BLOBS)?;
            let mut buf = Vec::new();
            for (tx, hash, blobs) in txs {
                buf.clear();
                tx.encode(&mut buf);
                pool.insert(&hash.0, buf.as_slice())?;
                for b in *blobs {
                    table.insert(&b.versioned_hash.0, b.blob.as_ref())?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Forgets a pooled transaction (replaced or dropped).
    pub fn remove_pooled(&self, hashes: &[B256]) -> Result<(), ChainError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        {
            let mut pool = txn.open_table(POOL)?;
            for h in hashes {
                pool.remove(&h.0)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Every persisted pool transaction.
    pub fn pooled(&self) -> Result<Vec<StoredTx>, ChainError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(POOL)?.iter()? {
            let (_, v) = entry?;
            out.push(StoredTx::decode(&mut v.value())?);
        }
        Ok(out)
    }

    /// Number of pooled transactions on disk.
    pub fn pooled_count(&self) -> Result<u64, ChainError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(POOL)?.len()?)
    }

    /// A blob by versioned hash.
    pub fn blob(&self, versioned_hash: &B256) -> Result<Option<Bytes>, ChainError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(BLOBS)?.get(&versioned_hash.0)?.map(|v| Bytes::copy_from_slice(v.value())))
    }
}
