//! Group commit of accepted transactions: many callers (RPC handlers on several threads) each
//! wait until their transaction is on disk, and one durable redb write covers all of those
//! queued at the time. A transaction's hash is returned only after its write.

use std::sync::Arc;

use alloy_primitives::B256;
use parking_lot::Mutex;

use crate::{
    error::ChainError,
    store::{Store, StoredTx},
    tx::BlobRecord,
};

/// A transaction accepted into the pool but not yet on disk.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    /// Its hash.
    pub hash: B256,
    /// What is stored.
    pub stored: StoredTx,
    /// Its blobs.
    pub blobs: Vec<BlobRecord>,
    /// The pooled transaction it replaced, whose record is removed.
    pub replaces: Option<B256>,
}

#[derive(Default)]
struct Queue {
    next_seq: u64,
    entries: Vec<(u64, PendingWrite)>,
}

#[derive(Default)]
struct Durable {
    /// Every sequence number up to this one was written (or failed, see `failed`).
    up_to: u64,
    /// Sequence ranges whose write failed, with the error.
    failed: Vec<(u64, u64, String)>,
}

/// The pool's write-ahead journal with group commit.
pub struct PoolJournal {
    store: Arc<Store>,
    queue: Mutex<Queue>,
    durable: Mutex<Durable>,
}

impl PoolJournal {
    /// A journal writing to `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store, queue: Mutex::new(Queue::default()), durable: Mutex::new(Durable::default()) }
    }

    /// Returns once `write` is on disk, writing it together with every other queued entry.
    pub fn commit(&self, write: PendingWrite) -> Result<(), ChainError> {
        let seq = {
            let mut q = self.queue.lock();
            q.next_seq += 1;
            let seq = q.next_seq;
            q.entries.push((seq, write));
            seq
        };
        // Whoever holds this lock writes everything queued; the others find their entry done.
        let mut durable = self.durable.lock();
        if durable.up_to < seq {
            let batch = std::mem::take(&mut self.queue.lock().entries);
            let (Some(first), Some(last)) = (batch.first().map(|e| e.0), batch.last().map(|e| e.0)) else {
                return Err(ChainError::Storage("pool journal lost an entry".into()));
            };
            let entries: Vec<(&StoredTx, &B256, &[BlobRecord])> =
                batch.iter().map(|(_, w)| (&w.stored, &w.hash, w.blobs.as_slice())).collect();
            let replaced: Vec<B256> = batch.iter().filter_map(|(_, w)| w.replaces).collect();
            let result = self.store.put_pooled(&entries).and_then(|_| self.store.remove_pooled(&replaced));
            if let Err(e) = result {
                durable.failed.push((first, last, e.to_string()));
            }
            durable.up_to = last;
        }
        match durable.failed.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&seq)) {
            Some((_, _, msg)) => Err(ChainError::Storage(msg.clone())),
            None => Ok(()),
        }
    }
}
