//! The node's persistent state in one redb file, written by one thread with group commit
//! (docs/channels.md §5).
//!
//! The core keeps the authoritative state in memory and hands each step's writes to the store
//! thread as a [`Batch`]. The thread takes the first batch, drains every batch queued
//! meanwhile, applies them in one write transaction, commits it durably (one `fsync`) and only
//! then reports the batches as committed, in order; the core releases the messages those
//! batches produced only then. So nothing this node signed or received is sent on, or
//! acknowledged, before it is on disk, and one `fsync` serves every payment that arrived during
//! the previous one.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256};
use loft_channels::{
    Channel, ChannelStatus, Lock, LockList, SignedBalanceProof, lock::LOCK_LEN, proof::SIGNED_PROOF_LEN,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// (channel, part) => part [`PART_RECORD`]: the channel's fixed data, deposits and status;
/// [`part_proof`]: the newest signed proof of a side; [`part_locks`]: that side's pending
/// locks, in order. One table keyed by channel, so that the writes a payment makes to a
/// channel land in one B-tree leaf: every table a commit touches costs redb its own
/// copied-on-write pages.
const CHANNELS: TableDefinition<(u64, u8), &[u8]> = TableDefinition::new("channel_parts");
/// (channel, side, secrethash, nonce of the proof that added it) => a lock of that side ever
/// pending: its 56 bytes and the nonce of the proof that removed it (0: still pending). The
/// pending list of any proof of the side is rebuilt from it ([`Store::locks_at`]), for the day
/// the partner settles an older proof than the newest; keyed by secrethash so that the
/// removal finds its entry in the same table.
const LOCK_LOG: TableDefinition<(u64, u8, [u8; 32], u64), &[u8]> = TableDefinition::new("lock_history");
/// (peer, 0) => next outgoing seq ‖ last processed incoming seq (8 bytes each);
/// (peer, seq >= 1) => a reliable message not yet acknowledged. Sequence numbers and the
/// outbox change together, so they share a table.
const PEERS: TableDefinition<([u8; 20], u64), &[u8]> = TableDefinition::new("peer_links");
/// (secrethash, [`MEDIATED_ROLE`]) => our role in that mediated payment while it is under way;
/// (secrethash, [`MEDIATED_RECORD`]) => the API's record of it.
const MEDIATED: TableDefinition<([u8; 32], u8), &[u8]> = TableDefinition::new("mediated");

const PART_RECORD: u8 = 0;
const fn part_proof(side: Side) -> u8 {
    1 + side as u8
}
const fn part_locks(side: Side) -> u8 {
    3 + side as u8
}
const MEDIATED_ROLE: u8 = 0;
const MEDIATED_RECORD: u8 = 1;

/// The table layout this code writes: `meta["layout"]`. Layout 1 (until 2026-12-07) had a
/// table per kind of record; [`layout1`] moves such a store over when it is opened.
const LAYOUT: u8 = 2;

/// Record format version.
const RECORD_VERSION: u8 = 1;

/// A store failure: the node stops rather than go on without persistence.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("store: {0}")]
    Db(String),
    /// A record could not be decoded.
    #[error("corrupt record in {0}")]
    Corrupt(&'static str),
    /// The store belongs to another node (another key: the wrong data directory).
    #[error("store belongs to {0}")]
    Foreign(String),
    /// The store was made for another deployment (another chain or contract, or the same
    /// addresses on a new L1): [`Store::open_or_set_aside`] sets it aside.
    #[error("store was made for another deployment (0x{0})")]
    OtherDeployment(String),
    /// The store was written in a layout newer than this code knows.
    #[error("store layout {0} is newer than this node's ({LAYOUT}): run a newer loft")]
    Layout(u8),
    /// The store thread is gone.
    #[error("store thread stopped")]
    Stopped,
}

fn db<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Which side of a channel a proof or lock list belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// What we signed.
    Ours = 0,
    /// What the partner signed.
    Theirs = 1,
}

/// One write.
#[derive(Debug, Clone)]
pub enum Write {
    /// A channel's fixed data, deposits and status.
    Channel(u64, Vec<u8>),
    /// The newest proof of one side.
    Proof(u64, Side, [u8; SIGNED_PROOF_LEN]),
    /// The pending locks of one side.
    Locks(u64, Side, Vec<u8>),
    /// The side's proof of this nonce added the lock.
    LockAdded(u64, Side, u64, Lock),
    /// The side's proof of this nonce removed the pending lock with this secrethash.
    LockRemoved(u64, Side, B256, u64),
    /// The side's settled locks are done with: its lock log goes.
    LockLogDropped(u64, Side),
    /// A reliable message waiting for its `Ack`.
    Outbox(Address, u64, Vec<u8>),
    /// Every outbox entry of `peer` up to `seq` is acknowledged.
    OutboxAcked(Address, u64),
    /// A peer's sequence numbers.
    Peer(Address, u64, u64),
    /// A payment record.
    Payment(B256, Vec<u8>),
    /// A metadata entry.
    Meta(String, Vec<u8>),
    /// Our role in a mediated payment (its secret included, once known).
    Transfer(B256, Vec<u8>),
    /// A mediated payment is over for us.
    TransferDone(B256),
}

/// The writes of one core step; `token` identifies it in [`Committed`].
#[derive(Debug)]
pub struct Batch {
    /// Increasing per batch.
    pub token: u64,
    /// The writes, applied in order.
    pub writes: Vec<Write>,
}

/// Reported by the store thread after a durable commit.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    /// Every batch up to this token is on disk.
    pub token: u64,
    /// How many batches the commit held.
    pub batches: usize,
    /// How long the commit took.
    pub commit_time: Duration,
}

/// What a node finds in its store at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every channel, with its proofs and locks.
    pub channels: Vec<Channel>,
    /// peer => (next outgoing seq, last processed incoming seq).
    pub peers: BTreeMap<Address, (u64, u64)>,
    /// peer => its unacknowledged messages in order.
    pub outbox: BTreeMap<Address, Vec<(u64, Vec<u8>)>>,
    /// Payment records.
    pub payments: BTreeMap<B256, Vec<u8>>,
    /// Metadata entries.
    pub meta: BTreeMap<String, Vec<u8>>,
    /// Mediated payments in progress, by secrethash.
    pub transfers: BTreeMap<B256, Vec<u8>>,
}

/// The open store.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// [`Store::open`], except that a store made for another deployment is never replayed into
    /// this one: it is renamed `<path>.set-aside-<unix seconds>` (returned) and a new store
    /// is started. A store of another node is still refused.
    pub fn open_or_set_aside(
        path: &Path,
        us: Address,
        deployment: &[u8],
    ) -> Result<(Self, Option<std::path::PathBuf>), StoreError> {
        match Self::open(path, us, deployment) {
            Err(StoreError::OtherDeployment(_)) => {
                let aside = loft_l1::binding::set_aside(path).map_err(db)?;
                Ok((Self::open(path, us, deployment)?, Some(aside)))
            }
            other => other.map(|store| (store, None)),
        }
    }

    /// Opens (or creates) `path` for the node `us` on the deployment named by `deployment`
    /// (chain id and manager); refuses a store written by another node or for another
    /// deployment, or in a layout newer than this code's. A layout-1 store is moved to the
    /// current layout in the same transaction, so it is either moved whole or not at all.
    pub fn open(path: &Path, us: Address, deployment: &[u8]) -> Result<Self, StoreError> {
        let database = Database::create(path).map_err(db)?;
        let txn = database.begin_write().map_err(db)?;
        let layout1 = txn.list_tables().map_err(db)?.any(|t| t.name() == layout1::PROOFS.name());
        {
            let mut meta = txn.open_table(META).map_err(db)?;
            for (key, value) in [("address", us.as_slice()), ("deployment", deployment)] {
                let existing = meta.get(key).map_err(db)?.map(|v| v.value().to_vec());
                match existing {
                    Some(v) if v != value && key == "deployment" => {
                        return Err(StoreError::OtherDeployment(alloy_primitives::hex::encode(v)));
                    }
                    Some(v) if v != value => {
                        return Err(StoreError::Foreign(format!(
                            "{key} 0x{}",
                            alloy_primitives::hex::encode(v)
                        )));
                    }
                    Some(_) => {}
                    None => {
                        meta.insert(key, value).map_err(db)?;
                    }
                }
            }
            let layout = meta.get("layout").map_err(db)?.map(|v| v.value().to_vec());
            match layout.as_deref() {
                Some([LAYOUT]) => {}
                Some([newer]) if *newer > LAYOUT => return Err(StoreError::Layout(*newer)),
                None => {
                    meta.insert("layout", [LAYOUT].as_slice()).map_err(db)?;
                }
                Some(_) => return Err(StoreError::Corrupt("meta")),
            }
            txn.open_table(CHANNELS).map_err(db)?;
            txn.open_table(LOCK_LOG).map_err(db)?;
            txn.open_table(PEERS).map_err(db)?;
            txn.open_table(MEDIATED).map_err(db)?;
        }
        if layout1 {
            layout1::migrate(&txn)?;
        }
        txn.commit().map_err(db)?;
        Ok(Self { db: Arc::new(database) })
    }

    /// A metadata entry.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let meta = txn.open_table(META).map_err(db)?;
        Ok(meta.get(key).map_err(db)?.map(|v| v.value().to_vec()))
    }

    /// Everything on disk.
    pub fn load(&self, us: Address) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let mut snap = Snapshot::default();
        // Parts come in key order: a channel's record first, then its proofs and locks.
        for row in txn.open_table(CHANNELS).map_err(db)?.iter().map_err(db)? {
            let (key, value) = row.map_err(db)?;
            let (id, part) = key.value();
            let value = value.value();
            if part == PART_RECORD {
                snap.channels.push(decode_channel(id, us, value)?);
                continue;
            }
            let channel =
                snap.channels.last_mut().filter(|c| c.id == id).ok_or(StoreError::Corrupt("channels"))?;
            match part {
                1 | 2 => {
                    let bytes: &[u8; SIGNED_PROOF_LEN] =
                        value.try_into().map_err(|_| StoreError::Corrupt("channels"))?;
                    let slot =
                        if part == part_proof(Side::Ours) { &mut channel.ours } else { &mut channel.theirs };
                    slot.proof = Some(SignedBalanceProof::decode(bytes));
                }
                3 | 4 => {
                    let slot =
                        if part == part_locks(Side::Ours) { &mut channel.ours } else { &mut channel.theirs };
                    slot.locks = LockList::decode(value).map_err(|_| StoreError::Corrupt("channels"))?;
                }
                _ => return Err(StoreError::Corrupt("channels")),
            }
        }
        for row in txn.open_table(PEERS).map_err(db)?.iter().map_err(db)? {
            let (key, value) = row.map_err(db)?;
            let (peer, seq) = key.value();
            let peer = Address::from(peer);
            if seq == 0 {
                snap.peers.insert(peer, decode_seqs(value.value()).ok_or(StoreError::Corrupt("peers"))?);
            } else {
                snap.outbox.entry(peer).or_default().push((seq, value.value().to_vec()));
            }
        }
        for row in txn.open_table(META).map_err(db)?.iter().map_err(db)? {
            let (key, value) = row.map_err(db)?;
            snap.meta.insert(key.value().to_owned(), value.value().to_vec());
        }
        for row in txn.open_table(MEDIATED).map_err(db)?.iter().map_err(db)? {
            let (key, record) = row.map_err(db)?;
            let (h, kind) = key.value();
            let into = match kind {
                MEDIATED_ROLE => &mut snap.transfers,
                MEDIATED_RECORD => &mut snap.payments,
                _ => return Err(StoreError::Corrupt("mediated")),
            };
            into.insert(B256::from(h), record.value().to_vec());
        }
        Ok(snap)
    }

    /// The pending locks of `side`'s proof of `nonce` in `channel`, in order: every logged
    /// lock added at or before `nonce` and not removed by then.
    pub fn locks_at(&self, channel: u64, side: Side, nonce: u64) -> Result<LockList, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let log = txn.open_table(LOCK_LOG).map_err(db)?;
        let mut added = Vec::new();
        for row in log.range(side_range(channel, side)).map_err(db)? {
            let (key, value) = row.map_err(db)?;
            let (.., added_at) = key.value();
            let (lock, removed) = decode_logged_lock(value.value()).ok_or(StoreError::Corrupt("lock_log"))?;
            if added_at <= nonce && (removed == 0 || removed > nonce) {
                added.push((added_at, lock));
            }
        }
        // A proof adds at most one lock, at the end of the list: the order of the nonces that
        // added them is the list's order.
        added.sort_by_key(|(at, _)| *at);
        let mut list = LockList::new();
        for (_, lock) in added {
            list.push(lock).map_err(|_| StoreError::Corrupt("lock_log"))?;
        }
        Ok(list)
    }

    /// Whether `side` of `channel` has a lock log (its settled locks are not done with).
    pub fn has_lock_log(&self, channel: u64, side: Side) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let log = txn.open_table(LOCK_LOG).map_err(db)?;
        Ok(log.range(side_range(channel, side)).map_err(db)?.next().is_some())
    }

    /// Applies batches in one durable transaction.
    pub fn commit(&self, batches: &[Batch]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db)?;
        {
            // Opening a table a commit leaves alone costs nothing on disk.
            let mut channels = txn.open_table(CHANNELS).map_err(db)?;
            let mut lock_log = txn.open_table(LOCK_LOG).map_err(db)?;
            let mut peers = txn.open_table(PEERS).map_err(db)?;
            let mut mediated = txn.open_table(MEDIATED).map_err(db)?;
            let mut meta = txn.open_table(META).map_err(db)?;
            for write in batches.iter().flat_map(|b| &b.writes) {
                match write {
                    Write::Channel(id, record) => {
                        channels.insert((*id, PART_RECORD), record.as_slice()).map_err(db)?;
                    }
                    Write::Proof(id, side, bytes) => {
                        channels.insert((*id, part_proof(*side)), bytes.as_slice()).map_err(db)?;
                    }
                    Write::Locks(id, side, bytes) => {
                        channels.insert((*id, part_locks(*side)), bytes.as_slice()).map_err(db)?;
                    }
                    Write::LockAdded(id, side, nonce, lock) => {
                        let key = (*id, *side as u8, lock.secrethash.0, *nonce);
                        lock_log.insert(key, encode_logged_lock(lock, 0).as_slice()).map_err(db)?;
                    }
                    Write::LockRemoved(id, side, secrethash, nonce) => {
                        let (id, side, h) = (*id, *side as u8, secrethash.0);
                        // The pending entry of this secrethash (a secrethash may come back
                        // after its lock was removed: the older entries are marked already).
                        // A lock added before the log existed has no entry: nothing to mark.
                        let mut pending = None;
                        for row in lock_log.range((id, side, h, 0)..=(id, side, h, u64::MAX)).map_err(db)? {
                            let (key, value) = row.map_err(db)?;
                            let (lock, removed) =
                                decode_logged_lock(value.value()).ok_or(StoreError::Corrupt("lock_log"))?;
                            if removed == 0 {
                                pending = Some((key.value(), lock));
                            }
                        }
                        if let Some((key, lock)) = pending {
                            lock_log.insert(key, encode_logged_lock(&lock, *nonce).as_slice()).map_err(db)?;
                        }
                    }
                    Write::LockLogDropped(id, side) => {
                        lock_log.retain_in(side_range(*id, *side), |_, _| false).map_err(db)?;
                    }
                    Write::Outbox(peer, seq, msg) => {
                        peers.insert((peer.0.0, *seq), msg.as_slice()).map_err(db)?;
                    }
                    Write::OutboxAcked(peer, seq) => {
                        if *seq >= 1 {
                            peers.retain_in((peer.0.0, 1)..=(peer.0.0, *seq), |_, _| false).map_err(db)?;
                        }
                    }
                    Write::Peer(peer, next_out, last_in) => {
                        peers
                            .insert((peer.0.0, 0), encode_seqs(*next_out, *last_in).as_slice())
                            .map_err(db)?;
                    }
                    Write::Payment(h, record) => {
                        mediated.insert((h.0, MEDIATED_RECORD), record.as_slice()).map_err(db)?;
                    }
                    Write::Meta(key, value) => {
                        meta.insert(key.as_str(), value.as_slice()).map_err(db)?;
                    }
                    Write::Transfer(h, record) => {
                        mediated.insert((h.0, MEDIATED_ROLE), record.as_slice()).map_err(db)?;
                    }
                    Write::TransferDone(h) => {
                        mediated.remove((h.0, MEDIATED_ROLE)).map_err(db)?;
                    }
                }
            }
        }
        txn.commit().map_err(db)
    }

    /// Starts the group-commit thread: batches sent to the returned sender are committed,
    /// and each commit is reported to `committed`; the thread ends (closing the database)
    /// when every sender is dropped. A store failure is reported as `Err` and
    /// ends the thread (the node must stop: it can no longer persist).
    pub fn spawn_writer(
        self,
        committed: tokio::sync::mpsc::UnboundedSender<Result<Committed, StoreError>>,
    ) -> (mpsc::Sender<Batch>, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("channel-store".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batches = vec![first];
                    let mut writes = batches[0].writes.len();
                    // Everything queued meanwhile joins this commit (bounded, so one commit
                    // does not grow without limit under load).
                    while writes < 16_384 {
                        match rx.try_recv() {
                            Ok(b) => {
                                writes += b.writes.len();
                                batches.push(b);
                            }
                            Err(_) => break,
                        }
                    }
                    let started = Instant::now();
                    let result = self.commit(&batches);
                    let report = result.map(|()| Committed {
                        token: batches.last().map_or(0, |b| b.token),
                        batches: batches.len(),
                        commit_time: started.elapsed(),
                    });
                    let failed = report.is_err();
                    if committed.send(report).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawning the store thread");
        (tx, thread)
    }
}

/// The first layout, a table per kind of record, and its move to the current one.
mod layout1 {
    use redb::{ReadableTable, TableDefinition, WriteTransaction};

    use super::{
        CHANNELS, LOCK_LOG, MEDIATED, MEDIATED_RECORD, MEDIATED_ROLE, PART_RECORD, PEERS, StoreError, db,
    };

    pub(super) const CHANNELS1: TableDefinition<u64, &[u8]> = TableDefinition::new("channels");
    /// (channel, side) => the side's newest proof.
    pub(super) const PROOFS: TableDefinition<(u64, u8), &[u8]> = TableDefinition::new("proofs");
    /// (channel, side) => the side's pending locks.
    pub(super) const LOCKS: TableDefinition<(u64, u8), &[u8]> = TableDefinition::new("locks");
    /// (channel, side, nonce that added it) => lock ‖ nonce that removed it.
    pub(super) const LOCK_LOG1: TableDefinition<(u64, u8, u64), &[u8]> = TableDefinition::new("lock_log");
    /// An index of `LOCK_LOG1`, rebuilt from it: nothing to move.
    pub(super) const LOCK_PENDING: TableDefinition<(u64, u8, [u8; 32]), u64> =
        TableDefinition::new("lock_pending");
    pub(super) const OUTBOX: TableDefinition<([u8; 20], u64), &[u8]> = TableDefinition::new("outbox");
    pub(super) const PEERS1: TableDefinition<[u8; 20], (u64, u64)> = TableDefinition::new("peers");
    pub(super) const TRANSFERS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("transfers");
    pub(super) const PAYMENTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("payments");

    /// Every row of a layout-1 table, read before it is deleted.
    fn rows<K: redb::Key + 'static, V: redb::Value + 'static, KO, VO>(
        txn: &WriteTransaction,
        table: TableDefinition<K, V>,
        mut take: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> (KO, VO),
    ) -> Result<Vec<(KO, VO)>, StoreError> {
        let opened = txn.open_table(table).map_err(db)?;
        let mut out = Vec::new();
        for row in opened.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            out.push(take(k.value(), v.value()));
        }
        Ok(out)
    }

    /// Moves every record of the layout-1 tables to the current ones and deletes them.
    pub(super) fn migrate(txn: &WriteTransaction) -> Result<(), StoreError> {
        let channels = rows(txn, CHANNELS1, |id, v| ((id, PART_RECORD), v.to_vec()))?;
        // Layout 1's side is 0 ours, 1 theirs: parts 1-2 are proofs, 3-4 locks.
        let proofs = rows(txn, PROOFS, |(id, side), v| ((id, 1 + side), v.to_vec()))?;
        let locks = rows(txn, LOCKS, |(id, side), v| ((id, 3 + side), v.to_vec()))?;
        let lock_log = rows(txn, LOCK_LOG1, |k, v| (k, v.to_vec()))?;
        let outbox = rows(txn, OUTBOX, |k, v| (k, v.to_vec()))?;
        let peers = rows(txn, PEERS1, |peer, (next_out, last_in)| {
            ((peer, 0), super::encode_seqs(next_out, last_in))
        })?;
        let transfers = rows(txn, TRANSFERS, |h, v| ((h, MEDIATED_ROLE), v.to_vec()))?;
        let payments = rows(txn, PAYMENTS, |h, v| ((h, MEDIATED_RECORD), v.to_vec()))?;
        {
            let mut table = txn.open_table(CHANNELS).map_err(db)?;
            for (key, value) in channels.iter().chain(&proofs).chain(&locks) {
                table.insert(*key, value.as_slice()).map_err(db)?;
            }
            let mut table = txn.open_table(LOCK_LOG).map_err(db)?;
            for ((id, side, added), value) in &lock_log {
                let (lock, _) = super::decode_logged_lock(value).ok_or(StoreError::Corrupt("lock_log"))?;
                table.insert((*id, *side, lock.secrethash.0, *added), value.as_slice()).map_err(db)?;
            }
            let mut table = txn.open_table(PEERS).map_err(db)?;
            for (key, value) in &outbox {
                table.insert(*key, value.as_slice()).map_err(db)?;
            }
            for (key, value) in &peers {
                table.insert(*key, value.as_slice()).map_err(db)?;
            }
            let mut table = txn.open_table(MEDIATED).map_err(db)?;
            for (key, value) in transfers.iter().chain(&payments) {
                table.insert(*key, value.as_slice()).map_err(db)?;
            }
        }
        txn.delete_table(CHANNELS1).map_err(db)?;
        txn.delete_table(PROOFS).map_err(db)?;
        txn.delete_table(LOCKS).map_err(db)?;
        txn.delete_table(LOCK_LOG1).map_err(db)?;
        txn.delete_table(LOCK_PENDING).map_err(db)?;
        txn.delete_table(OUTBOX).map_err(db)?;
        txn.delete_table(PEERS1).map_err(db)?;
        txn.delete_table(TRANSFERS).map_err(db)?;
        txn.delete_table(PAYMENTS).map_err(db)?;
        tracing::info!("store moved from layout 1 to layout {}", super::LAYOUT);
        Ok(())
    }
}

/// Every `LOCK_LOG` key of one side of a channel.
fn side_range(channel: u64, side: Side) -> std::ops::RangeInclusive<(u64, u8, [u8; 32], u64)> {
    let side = side as u8;
    (channel, side, [0; 32], 0)..=(channel, side, [0xff; 32], u64::MAX)
}

/// A peer's sequence numbers as its `PEERS` row 0 holds them.
fn encode_seqs(next_out: u64, last_in: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&next_out.to_be_bytes());
    out[8..].copy_from_slice(&last_in.to_be_bytes());
    out
}

fn decode_seqs(bytes: &[u8]) -> Option<(u64, u64)> {
    let next_out = bytes.get(..8)?.try_into().ok()?;
    let last_in = bytes.get(8..16)?.try_into().ok()?;
    (bytes.len() == 16).then(|| (u64::from_be_bytes(next_out), u64::from_be_bytes(last_in)))
}

/// A `LOCK_LOG` value: the lock and the nonce that removed it (0: pending).
fn encode_logged_lock(lock: &Lock, removed: u64) -> [u8; LOCK_LEN + 8] {
    let mut out = [0u8; LOCK_LEN + 8];
    out[..LOCK_LEN].copy_from_slice(&lock.encode());
    out[LOCK_LEN..].copy_from_slice(&removed.to_be_bytes());
    out
}

fn decode_logged_lock(bytes: &[u8]) -> Option<(Lock, u64)> {
    let lock: &[u8; LOCK_LEN] = bytes.get(..LOCK_LEN)?.try_into().ok()?;
    let removed: [u8; 8] = bytes.get(LOCK_LEN..)?.try_into().ok()?;
    Some((Lock::decode(lock), u64::from_be_bytes(removed)))
}

/// A channel's record: fixed data, deposits and status (proofs and locks are separate).
pub fn encode_channel(c: &Channel) -> Vec<u8> {
    let mut out = Vec::with_capacity(100);
    out.push(RECORD_VERSION);
    out.extend_from_slice(c.token.as_slice());
    out.extend_from_slice(c.partner.as_slice());
    out.extend_from_slice(&c.settle_timeout.to_be_bytes());
    out.extend_from_slice(&c.ours.deposit.to_be_bytes());
    out.extend_from_slice(&c.theirs.deposit.to_be_bytes());
    out.extend_from_slice(&c.lock_expiry_confirmations.to_be_bytes());
    match c.status {
        ChannelStatus::Opened => out.push(0),
        ChannelStatus::Closing { expiration } => {
            out.push(1);
            out.extend_from_slice(&expiration.to_be_bytes());
        }
        ChannelStatus::Closed { closer, settle_block } => {
            out.push(2);
            out.extend_from_slice(closer.as_slice());
            out.extend_from_slice(&settle_block.to_be_bytes());
        }
        ChannelStatus::Settled => out.push(3),
    }
    out
}

fn decode_channel(id: u64, us: Address, b: &[u8]) -> Result<Channel, StoreError> {
    let bad = || StoreError::Corrupt("channels");
    let take = |from: usize, len: usize| b.get(from..from + len).ok_or_else(bad);
    if b.first() != Some(&RECORD_VERSION) {
        return Err(bad());
    }
    let u64_at = |i: usize| -> Result<u64, StoreError> {
        Ok(u64::from_be_bytes(take(i, 8)?.try_into().map_err(|_| bad())?))
    };
    let u128_at = |i: usize| -> Result<u128, StoreError> {
        Ok(u128::from_be_bytes(take(i, 16)?.try_into().map_err(|_| bad())?))
    };
    let token = Address::from_slice(take(1, 20)?);
    let partner = Address::from_slice(take(21, 20)?);
    let mut c = Channel::new(id, token, us, partner, u64_at(41)?);
    c.ours.deposit = u128_at(49)?;
    c.theirs.deposit = u128_at(65)?;
    c.lock_expiry_confirmations = u64_at(81)?;
    c.status = match take(89, 1)?[0] {
        0 => ChannelStatus::Opened,
        1 => ChannelStatus::Closing { expiration: u64_at(90)? },
        2 => ChannelStatus::Closed { closer: Address::from_slice(take(90, 20)?), settle_block: u64_at(110)? },
        3 => ChannelStatus::Settled,
        _ => return Err(bad()),
    };
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loft_channels::{ChannelDomain, SigningKey};

    #[test]
    fn batches_round_trip_through_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let key = SigningKey::from_bytes(&[1; 32]).unwrap();
        let partner = Address::repeat_byte(2);
        let store = Store::open(&path, key.address(), b"deployment").unwrap();
        let mut c = Channel::new(4, Address::ZERO, key.address(), partner, 40);
        c.ours.deposit = 100;
        c.theirs.deposit = 7;
        let domain = ChannelDomain::new(1, Address::ZERO);
        let proof = c.send_direct(&key, &domain, 5, B256::ZERO).unwrap();
        c.status = ChannelStatus::Closed { closer: partner, settle_block: 99 };
        let batches = vec![
            Batch {
                token: 1,
                writes: vec![
                    Write::Channel(4, encode_channel(&c)),
                    Write::Proof(4, Side::Ours, proof.encode()),
                    Write::Outbox(partner, 1, vec![1]),
                    Write::Outbox(partner, 2, vec![2]),
                    Write::Outbox(partner, 3, vec![3]),
                ],
            },
            Batch { token: 2, writes: vec![Write::OutboxAcked(partner, 2), Write::Peer(partner, 4, 9)] },
        ];
        store.commit(&batches).unwrap();
        drop(store);
        let store = Store::open(&path, key.address(), b"deployment").unwrap();
        let snap = store.load(key.address()).unwrap();
        assert_eq!(snap.channels, vec![c.clone()]);
        assert_eq!(snap.outbox[&partner], vec![(3, vec![3])]);
        assert_eq!(snap.peers[&partner], (4, 9));
        drop(store);
        assert!(matches!(Store::open(&path, partner, b"deployment"), Err(StoreError::Foreign(_))));
        assert!(matches!(Store::open(&path, key.address(), b"other"), Err(StoreError::OtherDeployment(_))));
        // another deployment's store is set aside whole, never replayed; another node's is refused
        let (fresh, aside) = Store::open_or_set_aside(&path, key.address(), b"other").unwrap();
        assert!(fresh.load(key.address()).unwrap().channels.is_empty());
        let aside = aside.expect("set aside");
        drop(fresh);
        let kept = Store::open(&aside, key.address(), b"deployment").unwrap();
        assert_eq!(kept.load(key.address()).unwrap().channels, vec![c]);
        assert!(matches!(Store::open_or_set_aside(&path, partner, b"other"), Err(StoreError::Foreign(_))));
    }

    /// The lock log rebuilds the pending locks of every nonce of a side, in order, and a
    /// secrethash used again after its lock was removed is a new entry.
    #[test]
    fn lock_log_rebuilds_the_locks_of_any_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("node.redb"), Address::repeat_byte(1), b"d").unwrap();
        let lock =
            |i: u8| Lock { expiration: 100 + i as u64, amount: i as u128, secrethash: B256::repeat_byte(i) };
        let batch = |writes| vec![Batch { token: 1, writes }];
        let ours = Side::Ours;
        // nonce 2 adds 1, 3 adds 2, 4 removes 1, 6 adds 3, 7 removes 2, 8 adds 1 again.
        store
            .commit(&batch(vec![
                Write::LockAdded(9, ours, 2, lock(1)),
                Write::LockAdded(9, ours, 3, lock(2)),
                Write::LockRemoved(9, ours, lock(1).secrethash, 4),
                Write::LockAdded(9, ours, 6, lock(3)),
                Write::LockRemoved(9, ours, lock(2).secrethash, 7),
                Write::LockAdded(9, ours, 8, lock(1)),
                Write::LockAdded(9, Side::Theirs, 5, lock(7)),
            ]))
            .unwrap();
        let at = |nonce| {
            store.locks_at(9, ours, nonce).unwrap().iter().map(|l| l.amount as u8).collect::<Vec<_>>()
        };
        assert_eq!(at(1), Vec::<u8>::new());
        assert_eq!(at(3), vec![1, 2]);
        assert_eq!(at(5), vec![2]);
        assert_eq!(at(6), vec![2, 3]);
        assert_eq!(at(7), vec![3]);
        assert_eq!(at(100), vec![3, 1]);
        assert_eq!(store.locks_at(9, Side::Theirs, 5).unwrap().len(), 1);
        assert_eq!(store.locks_at(8, ours, 100).unwrap().len(), 0, "another channel");
        store.commit(&batch(vec![Write::LockLogDropped(9, ours)])).unwrap();
        assert!(!store.has_lock_log(9, ours).unwrap());
        assert!(store.has_lock_log(9, Side::Theirs).unwrap());
        // The pending index went with the log: a removal finds nothing to mark.
        store.commit(&batch(vec![Write::LockRemoved(9, ours, lock(1).secrethash, 10)])).unwrap();
    }

    /// A store written in layout 1 (a table per kind of record) opens with every record in
    /// place, and its old tables are gone; a layout newer than the code's is refused.
    #[test]
    fn a_layout_1_store_is_moved_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let key = SigningKey::from_bytes(&[1; 32]).unwrap();
        let partner = Address::repeat_byte(2);
        let mut c = Channel::new(4, Address::ZERO, key.address(), partner, 40);
        c.ours.deposit = 100;
        let domain = ChannelDomain::new(1, Address::ZERO);
        let proof = c.send_direct(&key, &domain, 5, B256::ZERO).unwrap();
        let lock = |i: u8| Lock { expiration: 100, amount: i as u128, secrethash: B256::repeat_byte(i) };
        c.theirs.locks.push(lock(1)).unwrap();
        {
            let database = Database::create(&path).unwrap();
            let txn = database.begin_write().unwrap();
            {
                let mut meta = txn.open_table(META).unwrap();
                meta.insert("address", key.address().as_slice()).unwrap();
                meta.insert("deployment", b"d".as_slice()).unwrap();
                meta.insert("l1Cursor", 7u64.to_be_bytes().as_slice()).unwrap();
                txn.open_table(layout1::CHANNELS1).unwrap().insert(4, encode_channel(&c).as_slice()).unwrap();
                txn.open_table(layout1::PROOFS).unwrap().insert((4, 0), proof.encode().as_slice()).unwrap();
                txn.open_table(layout1::LOCKS)
                    .unwrap()
                    .insert((4, 1), c.theirs.locks.encode().as_slice())
                    .unwrap();
                let mut log = txn.open_table(layout1::LOCK_LOG1).unwrap();
                log.insert((4, 1, 2), encode_logged_lock(&lock(2), 3).as_slice()).unwrap();
                log.insert((4, 1, 4), encode_logged_lock(&lock(1), 0).as_slice()).unwrap();
                txn.open_table(layout1::LOCK_PENDING)
                    .unwrap()
                    .insert((4, 1, lock(1).secrethash.0), 4)
                    .unwrap();
                let mut outbox = txn.open_table(layout1::OUTBOX).unwrap();
                outbox.insert((partner.0.0, 3), [3u8].as_slice()).unwrap();
                outbox.insert((partner.0.0, 4), [4u8].as_slice()).unwrap();
                txn.open_table(layout1::PEERS1).unwrap().insert(partner.0.0, (5, 9)).unwrap();
                txn.open_table(layout1::TRANSFERS).unwrap().insert([7; 32], [1u8, 2].as_slice()).unwrap();
                txn.open_table(layout1::PAYMENTS).unwrap().insert([7; 32], [3u8].as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = Store::open(&path, key.address(), b"d").unwrap();
        let snap = store.load(key.address()).unwrap();
        assert_eq!(snap.channels, vec![c]);
        assert_eq!(snap.outbox[&partner], vec![(3, vec![3]), (4, vec![4])]);
        assert_eq!(snap.peers[&partner], (5, 9));
        assert_eq!(snap.transfers[&B256::repeat_byte(7)], vec![1, 2]);
        assert_eq!(snap.payments[&B256::repeat_byte(7)], vec![3]);
        assert_eq!(snap.meta["l1Cursor"], 7u64.to_be_bytes().to_vec());
        let amounts = |nonce| {
            store.locks_at(4, Side::Theirs, nonce).unwrap().iter().map(|l| l.amount as u8).collect::<Vec<_>>()
        };
        assert_eq!((amounts(2), amounts(4)), (vec![2], vec![1]));
        // The moved pending lock is found by its removal.
        store
            .commit(&[Batch {
                token: 1,
                writes: vec![Write::LockRemoved(4, Side::Theirs, lock(1).secrethash, 5)],
            }])
            .unwrap();
        assert_eq!(amounts(5), Vec::<u8>::new());
        let txn = store.db.begin_read().unwrap();
        let mut names: Vec<String> = txn.list_tables().unwrap().map(|t| t.name().to_owned()).collect();
        names.sort();
        assert_eq!(names, ["channel_parts", "lock_history", "mediated", "meta", "peer_links"]);
        drop((txn, store));

        // A newer layout than this code's is refused, not misread.
        let database = Database::create(&path).unwrap();
        let txn = database.begin_write().unwrap();
        txn.open_table(META).unwrap().insert("layout", [LAYOUT + 1].as_slice()).unwrap();
        txn.commit().unwrap();
        drop(database);
        assert!(
            matches!(Store::open(&path, key.address(), b"d"), Err(StoreError::Layout(l)) if l == LAYOUT + 1)
        );
    }
}
