//! Hash-time locks. A lock is 56 bytes, the same on the wire and on chain:
//! `uint64 expiration (L1 block) ‖ uint128 amount ‖ bytes32 secrethash`. A side's pending locks
//! are a list in insertion order (a removal keeps the order of the rest), and its locksroot is
//! `keccak256` of the concatenation, so the empty list's root is `keccak256("")`; the
//! contract's `unlock` takes exactly these bytes.

use alloy_primitives::{B256, U256, keccak256};

/// Encoded size of a lock.
pub const LOCK_LEN: usize = 56;
/// Most pending locks per direction of a channel (keeps `unlock` under ~500k gas).
pub const MAX_PENDING_LOCKS: usize = 128;

/// `keccak256(secret)`: what a lock commits to.
pub fn secrethash(secret: &B256) -> B256 {
    keccak256(secret)
}

/// One hash-time lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lock {
    /// The last L1 block in which registering the secret makes the lock claimable.
    pub expiration: u64,
    /// The locked amount.
    pub amount: u128,
    /// `keccak256(secret)`.
    pub secrethash: B256,
}

impl Lock {
    /// The 56-byte encoding.
    pub fn encode(&self) -> [u8; LOCK_LEN] {
        let mut out = [0u8; LOCK_LEN];
        out[..8].copy_from_slice(&self.expiration.to_be_bytes());
        out[8..24].copy_from_slice(&self.amount.to_be_bytes());
        out[24..].copy_from_slice(self.secrethash.as_slice());
        out
    }

    /// Decodes 56 bytes.
    pub fn decode(bytes: &[u8; LOCK_LEN]) -> Self {
        let mut e = [0u8; 8];
        e.copy_from_slice(&bytes[..8]);
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes[8..24]);
        Self {
            expiration: u64::from_be_bytes(e),
            amount: u128::from_be_bytes(a),
            secrethash: B256::from_slice(&bytes[24..]),
        }
    }
}

/// Why a lock list refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// A lock with this secrethash is already pending in this direction.
    #[error("a lock with secrethash {0} is already pending")]
    Duplicate(B256),
    /// The direction already has `MAX_PENDING_LOCKS` pending locks.
    #[error("too many pending locks (at most {MAX_PENDING_LOCKS})")]
    TooMany,
    /// No pending lock has this secrethash.
    #[error("no pending lock with secrethash {0}")]
    NotFound(B256),
    /// The bytes are not a whole number of locks.
    #[error("{0} bytes are not a list of 56-byte locks")]
    BadLength(usize),
}

/// The pending locks of one direction of a channel, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockList {
    locks: Vec<Lock>,
}

impl LockList {
    /// No locks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a concatenation of locks (the contract's `unlock` argument).
    pub fn decode(bytes: &[u8]) -> Result<Self, LockError> {
        if !bytes.len().is_multiple_of(LOCK_LEN) || bytes.len() / LOCK_LEN > MAX_PENDING_LOCKS {
            return Err(LockError::BadLength(bytes.len()));
        }
        let mut list = Self::new();
        for chunk in bytes.chunks_exact(LOCK_LEN) {
            let mut raw = [0u8; LOCK_LEN];
            raw.copy_from_slice(chunk);
            list.push(Lock::decode(&raw))?;
        }
        Ok(list)
    }

    /// The locks concatenated, in order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.locks.len() * LOCK_LEN);
        for lock in &self.locks {
            out.extend_from_slice(&lock.encode());
        }
        out
    }

    /// `keccak256` of the encoding.
    pub fn root(&self) -> B256 {
        keccak256(self.encode())
    }

    /// The sum of the amounts.
    pub fn total(&self) -> U256 {
        self.locks.iter().map(|l| U256::from(l.amount)).fold(U256::ZERO, |a, b| a + b)
    }

    /// The locks, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Lock> {
        self.locks.iter()
    }

    /// How many locks are pending.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// The pending lock with this secrethash.
    pub fn get(&self, secrethash: &B256) -> Option<&Lock> {
        self.locks.iter().find(|l| &l.secrethash == secrethash)
    }

    /// Appends a lock.
    pub fn push(&mut self, lock: Lock) -> Result<(), LockError> {
        if self.get(&lock.secrethash).is_some() {
            return Err(LockError::Duplicate(lock.secrethash));
        }
        if self.locks.len() >= MAX_PENDING_LOCKS {
            return Err(LockError::TooMany);
        }
        self.locks.push(lock);
        Ok(())
    }

    /// Removes the lock with this secrethash, keeping the order of the others.
    pub fn remove(&mut self, secrethash: &B256) -> Result<Lock, LockError> {
        let index = self
            .locks
            .iter()
            .position(|l| &l.secrethash == secrethash)
            .ok_or(LockError::NotFound(*secrethash))?;
        Ok(self.locks.remove(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(i: u8) -> Lock {
        Lock { expiration: 100 + i as u64, amount: 1000 * i as u128, secrethash: keccak256([i]) }
    }

    #[test]
    fn root_of_empty_list_is_keccak_of_nothing() {
        assert_eq!(LockList::new().root(), keccak256([]));
    }

    #[test]
    fn encoding_round_trips_and_removal_keeps_order() {
        let mut list = LockList::new();
        for i in 1..=3 {
            list.push(lock(i)).unwrap();
        }
        assert_eq!(list.total(), U256::from(6000));
        let bytes = list.encode();
        assert_eq!(bytes.len(), 3 * LOCK_LEN);
        assert_eq!(LockList::decode(&bytes).unwrap(), list);
        assert_eq!(list.remove(&lock(2).secrethash).unwrap(), lock(2));
        let order: Vec<_> = list.iter().map(|l| l.amount).collect();
        assert_eq!(order, vec![1000, 3000]);
        assert_eq!(list.remove(&lock(2).secrethash), Err(LockError::NotFound(lock(2).secrethash)));
        assert_eq!(list.push(lock(1)), Err(LockError::Duplicate(lock(1).secrethash)));
        assert_eq!(LockList::decode(&bytes[..55]), Err(LockError::BadLength(55)));
    }

    #[test]
    fn at_most_max_pending_locks() {
        let mut list = LockList::new();
        for i in 0..MAX_PENDING_LOCKS {
            let h = keccak256((i as u64).to_be_bytes());
            list.push(Lock { expiration: 1, amount: 1, secrethash: h }).unwrap();
        }
        let extra = Lock { expiration: 1, amount: 1, secrethash: B256::ZERO };
        assert_eq!(list.push(extra), Err(LockError::TooMany));
    }
}
