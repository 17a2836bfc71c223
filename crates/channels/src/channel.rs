//! One channel as one participant sees it: both deposits, the newest balance proof each side
//! signed, and each side's pending locks. Every proof this node builds goes through the
//! `send_*` methods, every proof it receives through the `receive_*` methods; either checks
//! everything before it changes anything, so a refusal leaves the channel as it was.
//!
//! For our side `o` and the partner `p`: `balance(o) = Do + Tp - To` and `distributable(o) =
//! balance(o) - Lo`, what we may still pay or lock. The receiver checks the partner's new
//! `T + L <= Dp + To` with its own view, which is never older than the sender's, so an honest
//! sender is never refused.

use alloy_primitives::{Address, B256, U256};

use crate::{
    eip712::ChannelDomain,
    lock::{Lock, LockError, LockList, secrethash},
    proof::{BalanceProof, SignedBalanceProof, VerifiedBalanceProof},
    signature::SigningKey,
};

/// Where a channel is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelStatus {
    /// Open for payments.
    Opened,
    /// A cooperative close was signed: no new transfers either way until it is mined or
    /// its signatures expire at `expiration`.
    Closing {
        /// The last block of the close signatures.
        expiration: u64,
    },
    /// Closed on chain by `closer`; settleable after `settle_block`.
    Closed {
        /// Who closed.
        closer: Address,
        /// The last block of the settle period.
        settle_block: u64,
    },
    /// Settled on chain.
    Settled,
}

/// Why a proof was refused, or a payment could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The channel is not open for new balance proofs.
    #[error("channel {0} is not open ({1:?})")]
    NotOpen(u64, ChannelStatus),
    /// The proof names another channel.
    #[error("balance proof for channel {got}, expected {expected}")]
    WrongChannel {
        /// This channel.
        expected: u64,
        /// The proof's.
        got: u64,
    },
    /// The proof was not signed by the partner.
    #[error("balance proof signed by {got}, expected the partner {expected}")]
    WrongSigner {
        /// The partner.
        expected: Address,
        /// The recovered signer.
        got: Address,
    },
    /// A replayed or older proof.
    #[error("stale nonce {got}: the last one was {last}")]
    StaleNonce {
        /// The partner's last accepted nonce.
        last: u64,
        /// The proof's.
        got: u64,
    },
    /// A proof from the future: some were skipped.
    #[error("nonce gap: expected {expected}, got {got}")]
    NonceGap {
        /// The next nonce.
        expected: u64,
        /// The proof's.
        got: u64,
    },
    /// The proof is not bound to the message that carried it.
    #[error("balance proof's message hash does not match its message")]
    MessageHashMismatch,
    /// The proof changes the balances in a way its message does not allow.
    #[error("balance proof does not match its message: {0}")]
    BalanceProofMismatch(&'static str),
    /// The proof's `locked` or `locksroot` are not those of the partner's locks after the
    /// change.
    #[error("locked amount or locksroot do not match the pending locks")]
    LocksrootMismatch,
    /// More than the sender can pay.
    #[error("amount above capacity: {available} available, {needed} needed")]
    InsufficientCapacity {
        /// What the sender could still pay or lock.
        available: U256,
        /// What the proof needs.
        needed: U256,
    },
    /// A zero payment or lock.
    #[error("amount must be positive")]
    ZeroAmount,
    /// A total would not fit in 128 bits.
    #[error("amount overflows 128 bits")]
    AmountOverflow,
    /// A lock's expiration is not in the future.
    #[error("lock expires at block {expiration}, the head is {head}")]
    LockAlreadyExpired {
        /// The lock's expiration block.
        expiration: u64,
        /// Our L1 head.
        head: u64,
    },
    /// A lock may not be removed as expired yet.
    #[error("lock expires at block {expiration}; it may be removed from block {allowed}")]
    LockNotExpired {
        /// The lock's expiration block.
        expiration: u64,
        /// The first block it may be removed in.
        allowed: u64,
    },
    /// The secret does not open the lock.
    #[error("secret does not match the lock's secrethash")]
    SecretMismatch,
    /// A problem with the pending locks (duplicate, unknown, too many).
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// One side of the channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Side {
    /// The side's total deposit.
    pub deposit: u128,
    /// The newest balance proof this side signed (ours: sent; the partner's: received).
    pub proof: Option<SignedBalanceProof>,
    /// This side's pending locks, as in `proof`.
    pub locks: LockList,
}

impl Side {
    /// The nonce of the newest proof, 0 before any.
    pub fn nonce(&self) -> u64 {
        self.proof.map_or(0, |p| p.proof.nonce)
    }

    /// Everything this side has paid.
    pub fn transferred(&self) -> u128 {
        self.proof.map_or(0, |p| p.proof.transferred)
    }

    /// The sum of this side's pending locks.
    pub fn locked(&self) -> u128 {
        self.proof.map_or(0, |p| p.proof.locked)
    }
}

/// A channel between us and a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The on-chain id.
    pub id: u64,
    /// The token (zero: ETH).
    pub token: Address,
    /// Our address.
    pub us: Address,
    /// The partner's address.
    pub partner: Address,
    /// Blocks between a unilateral close and settlement.
    pub settle_timeout: u64,
    /// Where the channel is.
    pub status: ChannelStatus,
    /// Our side: what we sent.
    pub ours: Side,
    /// The partner's side: what it sent.
    pub theirs: Side,
    /// A lock may be removed as expired `lock_expiry_confirmations` blocks after its
    /// expiration (so that a registration in the expiration block itself is seen first).
    pub lock_expiry_confirmations: u64,
}

/// What kind of change a received proof claims.
enum Change<'a> {
    Direct,
    Locked(&'a Lock),
    Unlock(&'a B256),
    Expired(&'a B256),
}

impl Channel {
    /// A newly opened channel with no deposits.
    pub fn new(id: u64, token: Address, us: Address, partner: Address, settle_timeout: u64) -> Self {
        Self {
            id,
            token,
            us,
            partner,
            settle_timeout,
            status: ChannelStatus::Opened,
            ours: Side::default(),
            theirs: Side::default(),
            lock_expiry_confirmations: 1,
        }
    }

    /// `Do + Tp - To`: what we would own if every pending lock expired.
    pub fn our_balance(&self) -> U256 {
        balance(&self.ours, &self.theirs)
    }

    /// `Dp + To - Tp`.
    pub fn partner_balance(&self) -> U256 {
        balance(&self.theirs, &self.ours)
    }

    /// What we may still pay or lock.
    pub fn our_distributable(&self) -> U256 {
        self.our_balance().saturating_sub(U256::from(self.ours.locked()))
    }

    /// What the partner may still pay or lock, in our view.
    pub fn partner_distributable(&self) -> U256 {
        self.partner_balance().saturating_sub(U256::from(self.theirs.locked()))
    }

    /// Both deposits.
    pub fn total_deposit(&self) -> U256 {
        U256::from(self.ours.deposit) + U256::from(self.theirs.deposit)
    }

    /// The balances of a cooperative settlement, as (participant 1, participant 2) with
    /// participant 1 the lower address.
    pub fn cooperative_balances(&self) -> ((Address, U256), (Address, U256)) {
        let ours = (self.us, self.our_balance());
        let theirs = (self.partner, self.partner_balance());
        if self.us < self.partner { (ours, theirs) } else { (theirs, ours) }
    }

    fn require_open(&self) -> Result<(), ChannelError> {
        match self.status {
            ChannelStatus::Opened => Ok(()),
            s => Err(ChannelError::NotOpen(self.id, s)),
        }
    }

    // ------------------------------------------------------------ sending

    /// Pays `amount` directly: our next proof with `transferred += amount`.
    pub fn send_direct(
        &mut self,
        key: &SigningKey,
        domain: &ChannelDomain,
        amount: u128,
        message_hash: B256,
    ) -> Result<SignedBalanceProof, ChannelError> {
        self.require_open()?;
        self.check_can_send(amount)?;
        let transferred = self.ours.transferred().checked_add(amount).ok_or(ChannelError::AmountOverflow)?;
        let proof = self.next_proof(transferred, &self.ours.locks, message_hash)?;
        Ok(self.commit_sent(proof.sign(key, domain), self.ours.locks.clone()))
    }

    /// Locks `lock.amount` under `lock.secrethash` until `lock.expiration`.
    pub fn send_locked(
        &mut self,
        key: &SigningKey,
        domain: &ChannelDomain,
        lock: Lock,
        head: u64,
        message_hash: B256,
    ) -> Result<SignedBalanceProof, ChannelError> {
        self.require_open()?;
        if lock.expiration <= head {
            return Err(ChannelError::LockAlreadyExpired { expiration: lock.expiration, head });
        }
        self.check_can_send(lock.amount)?;
        let mut locks = self.ours.locks.clone();
        locks.push(lock)?;
        let proof = self.next_proof(self.ours.transferred(), &locks, message_hash)?;
        Ok(self.commit_sent(proof.sign(key, domain), locks))
    }

    /// Pays out our pending lock `secrethash` (its secret is known): `transferred +=
    /// amount`, the lock leaves the list.
    pub fn send_unlock(
        &mut self,
        key: &SigningKey,
        domain: &ChannelDomain,
        secrethash: &B256,
        message_hash: B256,
    ) -> Result<(SignedBalanceProof, Lock), ChannelError> {
        self.require_open()?;
        let mut locks = self.ours.locks.clone();
        let lock = locks.remove(secrethash)?;
        let transferred =
            self.ours.transferred().checked_add(lock.amount).ok_or(ChannelError::AmountOverflow)?;
        let proof = self.next_proof(transferred, &locks, message_hash)?;
        Ok((self.commit_sent(proof.sign(key, domain), locks), lock))
    }

    /// Removes our expired pending lock `secrethash`; its amount is ours again.
    pub fn send_lock_expired(
        &mut self,
        key: &SigningKey,
        domain: &ChannelDomain,
        secrethash: &B256,
        head: u64,
        message_hash: B256,
    ) -> Result<(SignedBalanceProof, Lock), ChannelError> {
        self.require_open()?;
        let lock = *self.ours.locks.get(secrethash).ok_or(LockError::NotFound(*secrethash))?;
        self.check_expired(&lock, head)?;
        let mut locks = self.ours.locks.clone();
        locks.remove(secrethash)?;
        let proof = self.next_proof(self.ours.transferred(), &locks, message_hash)?;
        Ok((self.commit_sent(proof.sign(key, domain), locks), lock))
    }

    fn check_can_send(&self, amount: u128) -> Result<(), ChannelError> {
        if amount == 0 {
            return Err(ChannelError::ZeroAmount);
        }
        let available = self.our_distributable();
        if U256::from(amount) > available {
            return Err(ChannelError::InsufficientCapacity { available, needed: U256::from(amount) });
        }
        Ok(())
    }

    fn check_expired(&self, lock: &Lock, head: u64) -> Result<(), ChannelError> {
        let allowed = lock.expiration.saturating_add(self.lock_expiry_confirmations);
        if head < allowed {
            return Err(ChannelError::LockNotExpired { expiration: lock.expiration, allowed });
        }
        Ok(())
    }

    fn next_proof(
        &self,
        transferred: u128,
        locks: &LockList,
        message_hash: B256,
    ) -> Result<BalanceProof, ChannelError> {
        let locked = u128::try_from(locks.total()).map_err(|_| ChannelError::AmountOverflow)?;
        Ok(BalanceProof {
            channel_id: self.id,
            nonce: self.ours.nonce() + 1,
            transferred,
            locked,
            locksroot: locks.root(),
            message_hash,
        })
    }

    fn commit_sent(&mut self, signed: SignedBalanceProof, locks: LockList) -> SignedBalanceProof {
        self.ours.proof = Some(signed);
        self.ours.locks = locks;
        signed
    }

    // ------------------------------------------------------------ receiving

    /// A direct payment from the partner; returns the amount received.
    pub fn receive_direct(
        &mut self,
        proof: &VerifiedBalanceProof,
        message_hash: B256,
    ) -> Result<u128, ChannelError> {
        let locks = self.check_received(proof, message_hash, Change::Direct)?;
        let amount = proof.proof().transferred - self.theirs.transferred();
        self.accept(proof, locks);
        Ok(amount)
    }

    /// A new lock from the partner. `head` is our L1 head: an already expired lock is refused
    /// (the caller applies the stricter timing rules of its role).
    pub fn receive_locked(
        &mut self,
        proof: &VerifiedBalanceProof,
        lock: &Lock,
        head: u64,
        message_hash: B256,
    ) -> Result<(), ChannelError> {
        if lock.expiration <= head {
            return Err(ChannelError::LockAlreadyExpired { expiration: lock.expiration, head });
        }
        let locks = self.check_received(proof, message_hash, Change::Locked(lock))?;
        self.accept(proof, locks);
        Ok(())
    }

    /// The partner pays out its lock opened by `secret`; returns that lock.
    pub fn receive_unlock(
        &mut self,
        proof: &VerifiedBalanceProof,
        secret: &B256,
        message_hash: B256,
    ) -> Result<Lock, ChannelError> {
        let hash = secrethash(secret);
        let lock = *self.theirs.locks.get(&hash).ok_or(ChannelError::SecretMismatch)?;
        let locks = self.check_received(proof, message_hash, Change::Unlock(&hash))?;
        self.accept(proof, locks);
        Ok(lock)
    }

    /// The partner removes its expired lock `secrethash`. The caller must refuse it when it
    /// knows the secret was registered on chain in time (the lock is then claimable).
    pub fn receive_lock_expired(
        &mut self,
        proof: &VerifiedBalanceProof,
        secrethash: &B256,
        head: u64,
        message_hash: B256,
    ) -> Result<Lock, ChannelError> {
        let lock = *self.theirs.locks.get(secrethash).ok_or(LockError::NotFound(*secrethash))?;
        self.check_expired(&lock, head)?;
        let locks = self.check_received(proof, message_hash, Change::Expired(secrethash))?;
        self.accept(proof, locks);
        Ok(lock)
    }

    /// Every check on a received proof; returns the partner's lock list after the change.
    fn check_received(
        &self,
        verified: &VerifiedBalanceProof,
        message_hash: B256,
        change: Change<'_>,
    ) -> Result<LockList, ChannelError> {
        self.require_open()?;
        let new = verified.proof();
        if new.channel_id != self.id {
            return Err(ChannelError::WrongChannel { expected: self.id, got: new.channel_id });
        }
        if verified.signer() != self.partner {
            return Err(ChannelError::WrongSigner { expected: self.partner, got: verified.signer() });
        }
        let last = self.theirs.nonce();
        if new.nonce <= last {
            return Err(ChannelError::StaleNonce { last, got: new.nonce });
        }
        if new.nonce != last + 1 {
            return Err(ChannelError::NonceGap { expected: last + 1, got: new.nonce });
        }
        if new.message_hash != message_hash {
            return Err(ChannelError::MessageHashMismatch);
        }
        let old_t = self.theirs.transferred();
        let mut locks = self.theirs.locks.clone();
        let expected_t = match change {
            Change::Direct => {
                if new.transferred <= old_t {
                    return Err(ChannelError::BalanceProofMismatch(
                        "a direct transfer must raise the transferred amount",
                    ));
                }
                new.transferred
            }
            Change::Locked(lock) => {
                if lock.amount == 0 {
                    return Err(ChannelError::ZeroAmount);
                }
                locks.push(*lock)?;
                old_t
            }
            Change::Unlock(hash) => {
                let lock = locks.remove(hash)?;
                old_t.checked_add(lock.amount).ok_or(ChannelError::AmountOverflow)?
            }
            Change::Expired(hash) => {
                locks.remove(hash)?;
                old_t
            }
        };
        if new.transferred != expected_t {
            return Err(ChannelError::BalanceProofMismatch("wrong transferred amount"));
        }
        if U256::from(new.locked) != locks.total() || new.locksroot != locks.root() {
            return Err(ChannelError::LocksrootMismatch);
        }
        // The partner's new T + L may not exceed its deposit plus what we paid it.
        let needed = U256::from(new.transferred) + U256::from(new.locked);
        let available = U256::from(self.theirs.deposit) + U256::from(self.ours.transferred());
        if needed > available {
            let already = U256::from(old_t) + U256::from(self.theirs.locked());
            return Err(ChannelError::InsufficientCapacity {
                available: available.saturating_sub(already),
                needed: needed.saturating_sub(already),
            });
        }
        Ok(locks)
    }

    fn accept(&mut self, proof: &VerifiedBalanceProof, locks: LockList) {
        self.theirs.proof = Some(*proof.signed());
        self.theirs.locks = locks;
    }
}

fn balance(side: &Side, other: &Side) -> U256 {
    (U256::from(side.deposit) + U256::from(other.transferred()))
        .saturating_sub(U256::from(side.transferred()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    struct Pair {
        domain: ChannelDomain,
        alice_key: SigningKey,
        bob_key: SigningKey,
        alice: Channel,
        bob: Channel,
    }

    fn pair(da: u128, db: u128) -> Pair {
        let domain = ChannelDomain::new(1337, Address::repeat_byte(0x11));
        let alice_key = SigningKey::from_bytes(&[1u8; 32]).unwrap();
        let bob_key = SigningKey::from_bytes(&[2u8; 32]).unwrap();
        let mut alice = Channel::new(7, Address::ZERO, alice_key.address(), bob_key.address(), 40);
        let mut bob = Channel::new(7, Address::ZERO, bob_key.address(), alice_key.address(), 40);
        alice.ours.deposit = da;
        alice.theirs.deposit = db;
        bob.ours.deposit = db;
        bob.theirs.deposit = da;
        Pair { domain, alice_key, bob_key, alice, bob }
    }

    fn mh(i: u64) -> B256 {
        keccak256(i.to_be_bytes())
    }

    fn lock(secret: &B256, amount: u128, expiration: u64) -> Lock {
        Lock { expiration, amount, secrethash: secrethash(secret) }
    }

    #[test]
    fn direct_payments_move_balances_both_ways() {
        let mut p = pair(100, 50);
        for i in 1..=10 {
            let sent = p.alice.send_direct(&p.alice_key, &p.domain, 3, mh(i)).unwrap();
            let v = sent.verify(&p.domain).unwrap();
            assert_eq!(p.bob.receive_direct(&v, mh(i)).unwrap(), 3);
        }
        let back = p.bob.send_direct(&p.bob_key, &p.domain, 70, mh(99)).unwrap();
        p.alice.receive_direct(&back.verify(&p.domain).unwrap(), mh(99)).unwrap();
        assert_eq!(p.alice.our_balance(), U256::from(100 - 30 + 70));
        assert_eq!(p.bob.our_balance(), U256::from(50 + 30 - 70));
        assert_eq!(p.alice.our_balance() + p.alice.partner_balance(), U256::from(150));
        assert_eq!(p.alice.cooperative_balances(), {
            let a = (p.alice.us, U256::from(140));
            let b = (p.alice.partner, U256::from(10));
            if p.alice.us < p.alice.partner { (a, b) } else { (b, a) }
        });
        // Bob can not pay more than he has.
        let err = p.bob.send_direct(&p.bob_key, &p.domain, 11, mh(100)).unwrap_err();
        assert!(matches!(err, ChannelError::InsufficientCapacity { .. }));
        assert_eq!(p.bob.send_direct(&p.bob_key, &p.domain, 0, mh(100)), Err(ChannelError::ZeroAmount));
    }

    #[test]
    fn refusals_leave_the_channel_unchanged() {
        let mut p = pair(100, 50);
        let first = p.alice.send_direct(&p.alice_key, &p.domain, 5, mh(1)).unwrap();
        let second = p.alice.send_direct(&p.alice_key, &p.domain, 5, mh(2)).unwrap();
        let before = p.bob.clone();

        // A gap: nonce 2 before nonce 1.
        let v2 = second.verify(&p.domain).unwrap();
        assert_eq!(p.bob.receive_direct(&v2, mh(2)), Err(ChannelError::NonceGap { expected: 1, got: 2 }));
        // Wrong message binding.
        let v1 = first.verify(&p.domain).unwrap();
        assert_eq!(p.bob.receive_direct(&v1, mh(9)), Err(ChannelError::MessageHashMismatch));
        // A forgery: Bob's own key, or a proof with a changed amount.
        let forged = BalanceProof { transferred: 50, ..first.proof }.sign(&p.bob_key, &p.domain);
        assert!(matches!(
            p.bob.receive_direct(&forged.verify(&p.domain).unwrap(), mh(1)),
            Err(ChannelError::WrongSigner { .. })
        ));
        let mut tampered = first;
        tampered.proof.transferred = 50;
        assert!(matches!(
            p.bob.receive_direct(&tampered.verify(&p.domain).unwrap(), mh(1)),
            Err(ChannelError::WrongSigner { .. })
        ));
        // Another channel's proof.
        let other = BalanceProof { channel_id: 8, ..first.proof }.sign(&p.alice_key, &p.domain);
        assert_eq!(
            p.bob.receive_direct(&other.verify(&p.domain).unwrap(), mh(1)),
            Err(ChannelError::WrongChannel { expected: 7, got: 8 })
        );
        assert_eq!(p.bob, before, "nothing changed");

        p.bob.receive_direct(&v1, mh(1)).unwrap();
        // A replay.
        assert_eq!(p.bob.receive_direct(&v1, mh(1)), Err(ChannelError::StaleNonce { last: 1, got: 1 }));
        p.bob.receive_direct(&v2, mh(2)).unwrap();
        assert_eq!(p.bob.receive_direct(&v1, mh(1)), Err(ChannelError::StaleNonce { last: 2, got: 1 }));
        assert_eq!(p.bob.partner_balance(), U256::from(90));

        // Over capacity: a proof Alice signed for more than she has (a misbehaving sender).
        let over = BalanceProof { nonce: 3, transferred: 101, message_hash: mh(3), ..second.proof }
            .sign(&p.alice_key, &p.domain);
        assert!(matches!(
            p.bob.receive_direct(&over.verify(&p.domain).unwrap(), mh(3)),
            Err(ChannelError::InsufficientCapacity { .. })
        ));
        // A "direct payment" that lowers the transferred amount.
        let lower = BalanceProof { nonce: 3, transferred: 9, message_hash: mh(3), ..second.proof }
            .sign(&p.alice_key, &p.domain);
        assert!(matches!(
            p.bob.receive_direct(&lower.verify(&p.domain).unwrap(), mh(3)),
            Err(ChannelError::BalanceProofMismatch(_))
        ));
    }

    #[test]
    fn locks_unlock_and_expire() {
        let mut p = pair(100, 0);
        let s1 = B256::repeat_byte(1);
        let s2 = B256::repeat_byte(2);
        let l1 = lock(&s1, 30, 50);
        let l2 = lock(&s2, 20, 60);
        for (i, l) in [(1, l1), (2, l2)] {
            let sent = p.alice.send_locked(&p.alice_key, &p.domain, l, 10, mh(i)).unwrap();
            p.bob.receive_locked(&sent.verify(&p.domain).unwrap(), &l, 10, mh(i)).unwrap();
        }
        assert_eq!(p.alice.our_distributable(), U256::from(50));
        assert_eq!(p.bob.our_balance(), U256::ZERO, "locked amounts are not Bob's yet");
        let over = lock(&B256::repeat_byte(3), 51, 60);
        assert!(matches!(
            p.alice.send_locked(&p.alice_key, &p.domain, over, 10, mh(3)),
            Err(ChannelError::InsufficientCapacity { .. })
        ));

        // Unlock with the wrong secret is refused; with the right one it pays.
        let (unlock, _) = p.alice.send_unlock(&p.alice_key, &p.domain, &l1.secrethash, mh(3)).unwrap();
        let vu = unlock.verify(&p.domain).unwrap();
        assert_eq!(
            p.bob.receive_unlock(&vu, &s2, mh(3)),
            Err(ChannelError::BalanceProofMismatch("wrong transferred amount"))
        );
        assert_eq!(
            p.bob.receive_unlock(&vu, &B256::repeat_byte(9), mh(3)),
            Err(ChannelError::SecretMismatch)
        );
        assert_eq!(p.bob.receive_unlock(&vu, &s1, mh(3)).unwrap(), l1);
        assert_eq!(p.bob.our_balance(), U256::from(30));

        // Expiry: not before expiration + confirmations, on either side.
        assert!(matches!(
            p.alice.send_lock_expired(&p.alice_key, &p.domain, &l2.secrethash, 60, mh(4)),
            Err(ChannelError::LockNotExpired { expiration: 60, allowed: 61 })
        ));
        let (expired, _) =
            p.alice.send_lock_expired(&p.alice_key, &p.domain, &l2.secrethash, 61, mh(4)).unwrap();
        let ve = expired.verify(&p.domain).unwrap();
        assert!(matches!(
            p.bob.receive_lock_expired(&ve, &l2.secrethash, 60, mh(4)),
            Err(ChannelError::LockNotExpired { .. })
        ));
        p.bob.receive_lock_expired(&ve, &l2.secrethash, 61, mh(4)).unwrap();
        assert_eq!(p.bob.partner_balance(), U256::from(70));
        assert_eq!(p.bob.partner_distributable(), U256::from(70));
        assert!(p.bob.theirs.locks.is_empty());
        assert_eq!(p.bob.theirs.proof.unwrap().proof.locksroot, keccak256([]));
    }

    #[test]
    fn received_lock_changes_are_checked() {
        let mut p = pair(100, 0);
        let s = B256::repeat_byte(1);
        let l = lock(&s, 30, 50);
        let sent = p.alice.send_locked(&p.alice_key, &p.domain, l, 10, mh(1)).unwrap();
        let v = sent.verify(&p.domain).unwrap();
        // Claimed lock differs from the one in the proof's locksroot.
        let other = Lock { amount: 31, ..l };
        assert_eq!(p.bob.receive_locked(&v, &other, 10, mh(1)), Err(ChannelError::LocksrootMismatch));
        // Already expired in Bob's view.
        assert_eq!(
            p.bob.receive_locked(&v, &l, 50, mh(1)),
            Err(ChannelError::LockAlreadyExpired { expiration: 50, head: 50 })
        );
        // A locked transfer that also moves the transferred amount.
        let sneaky = BalanceProof { transferred: 1, ..sent.proof }.sign(&p.alice_key, &p.domain);
        assert_eq!(
            p.bob.receive_locked(&sneaky.verify(&p.domain).unwrap(), &l, 10, mh(1)),
            Err(ChannelError::BalanceProofMismatch("wrong transferred amount"))
        );
        p.bob.receive_locked(&v, &l, 10, mh(1)).unwrap();
        // The same secrethash twice.
        let again = p.alice.send_locked(&p.alice_key, &p.domain, Lock { amount: 1, ..l }, 10, mh(2));
        assert_eq!(again, Err(ChannelError::Lock(LockError::Duplicate(l.secrethash))));
    }

    #[test]
    fn a_closed_channel_takes_no_proofs() {
        let mut p = pair(100, 0);
        let sent = p.alice.send_direct(&p.alice_key, &p.domain, 1, mh(1)).unwrap();
        p.bob.status = ChannelStatus::Closed { closer: p.bob.us, settle_block: 100 };
        assert!(matches!(
            p.bob.receive_direct(&sent.verify(&p.domain).unwrap(), mh(1)),
            Err(ChannelError::NotOpen(7, _))
        ));
        p.alice.status = ChannelStatus::Closing { expiration: 5 };
        assert!(matches!(
            p.alice.send_direct(&p.alice_key, &p.domain, 1, mh(2)),
            Err(ChannelError::NotOpen(..))
        ));
    }

    /// One step of a random run: who sends, what, and how a cheater bends the proof first.
    #[derive(Debug, Clone)]
    enum Step {
        Direct(u128),
        /// Amount, secret index, blocks past the next one until expiration.
        Lock(u128, u8, u64),
        Unlock(u8),
        Expire(u8),
        /// The L1 head moves on.
        Tick(u64),
    }

    /// What the receiver is handed along with the proof.
    #[derive(Debug, Clone, Copy)]
    enum Delivery {
        Direct,
        Locked(Lock),
        Unlock(B256),
        Expired(B256),
    }

    fn any_step() -> impl proptest::strategy::Strategy<Value = (bool, Step, Option<u8>)> {
        use proptest::prelude::*;
        let step = prop_oneof![
            (1u128..40).prop_map(Step::Direct),
            (1u128..40, 0u8..4, 0u64..20).prop_map(|(a, s, e)| Step::Lock(a, s, e)),
            (0u8..4).prop_map(Step::Unlock),
            (0u8..4).prop_map(Step::Expire),
            (1u64..15).prop_map(Step::Tick),
        ];
        (any::<bool>(), step, proptest::option::of(0u8..7))
    }

    fn secret(i: u8) -> B256 {
        B256::repeat_byte(i + 1)
    }

    fn deliver(
        r: &mut Channel,
        proof: &SignedBalanceProof,
        what: Delivery,
        head: u64,
        message_hash: B256,
        domain: &ChannelDomain,
    ) -> Result<(), ChannelError> {
        let v = proof.verify(domain).expect("every proof here is validly signed by someone");
        match what {
            Delivery::Direct => r.receive_direct(&v, message_hash).map(|_| ()),
            Delivery::Locked(l) => r.receive_locked(&v, &l, head, message_hash),
            Delivery::Unlock(s) => r.receive_unlock(&v, &s, message_hash).map(|_| ()),
            Delivery::Expired(h) => r.receive_lock_expired(&v, &h, head, message_hash).map(|_| ()),
        }
    }

    /// Runs one step; a sender's refusal must change nothing, a bent proof must be refused by
    /// the receiver with nothing changed, and the honest proof must then be taken.
    fn run_step(
        p: &mut Pair,
        head: &mut u64,
        i: u64,
        (from_alice, step, bend): (bool, Step, Option<u8>),
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        use proptest::prelude::*;
        let domain = p.domain;
        let (sender, skey, receiver, rkey) = if from_alice {
            (&mut p.alice, &p.alice_key, &mut p.bob, &p.bob_key)
        } else {
            (&mut p.bob, &p.bob_key, &mut p.alice, &p.alice_key)
        };
        let before = sender.clone();
        let m = mh(i);
        let sent = match step {
            Step::Tick(n) => {
                *head += n;
                return Ok(());
            }
            Step::Direct(a) => sender.send_direct(skey, &domain, a, m).map(|p| (p, Delivery::Direct)),
            Step::Lock(a, s, e) => {
                let l = lock(&secret(s), a, *head + 1 + e);
                sender.send_locked(skey, &domain, l, *head, m).map(|p| (p, Delivery::Locked(l)))
            }
            Step::Unlock(s) => sender
                .send_unlock(skey, &domain, &secrethash(&secret(s)), m)
                .map(|(p, _)| (p, Delivery::Unlock(secret(s)))),
            Step::Expire(s) => {
                let h = secrethash(&secret(s));
                sender.send_lock_expired(skey, &domain, &h, *head, m).map(|(p, _)| (p, Delivery::Expired(h)))
            }
        };
        let Ok((proof, what)) = sent else {
            prop_assert_eq!(&*sender, &before, "a refused send changed the sender");
            return Ok(());
        };
        if let Some(bend) = bend {
            let honest = proof.proof;
            let capacity = sender.ours.deposit + sender.theirs.transferred();
            let (bent, bent_m) = match bend {
                0 => (BalanceProof { nonce: honest.nonce + 1, ..honest }.sign(skey, &domain), m),
                1 => (BalanceProof { nonce: honest.nonce - 1, ..honest }.sign(skey, &domain), m),
                2 => (honest.sign(rkey, &domain), m),
                3 => (proof, mh(i + 1_000_000)),
                4 => (BalanceProof { locked: honest.locked + 1, ..honest }.sign(skey, &domain), m),
                5 => (BalanceProof { channel_id: honest.channel_id + 1, ..honest }.sign(skey, &domain), m),
                _ => (BalanceProof { transferred: capacity + 1, ..honest }.sign(skey, &domain), m),
            };
            let untouched = receiver.clone();
            let got = deliver(receiver, &bent, what, *head, bent_m, &domain);
            prop_assert!(got.is_err(), "bent proof ({bend}) taken: {what:?}");
            prop_assert_eq!(&*receiver, &untouched, "a refusal changed the receiver");
        }
        prop_assert_eq!(deliver(receiver, &proof, what, *head, m, &domain), Ok(()));
        Ok(())
    }

    proptest::proptest! {
        /// Random runs of direct payments, locks, unlocks, expiries and head moves in both
        /// directions, each proof possibly bent by its sender (nonce gap or replay, another
        /// signer, another message, a wrong locked amount, another channel, more than the
        /// sender holds): both views always agree, no side ever commits more than it holds,
        /// and the contract's settle arithmetic pays each side exactly its off-chain balance.
        #[test]
        fn random_runs_keep_both_views_equal_and_settle_to_the_balances(
            da in 0u128..200,
            db in 0u128..200,
            steps in proptest::collection::vec(any_step(), 1..60),
        ) {
            use proptest::prelude::*;
            let mut p = pair(da, db);
            let mut head = 10;
            for (i, step) in steps.into_iter().enumerate() {
                run_step(&mut p, &mut head, i as u64, step)?;
                prop_assert_eq!(&p.alice.ours, &p.bob.theirs);
                prop_assert_eq!(&p.alice.theirs, &p.bob.ours);
                for c in [&p.alice, &p.bob] {
                    prop_assert!(c.ours.transferred() + c.ours.locked() <= c.ours.deposit + c.theirs.transferred());
                }
                let (a, b) = (&p.alice.ours, &p.bob.ours);
                let s = crate::settle::settle_amounts(
                    U256::from(da), U256::from(db),
                    U256::from(a.transferred()), U256::from(a.locked()),
                    U256::from(b.transferred()), U256::from(b.locked()),
                );
                prop_assert_eq!(s.amount1, p.alice.our_distributable());
                prop_assert_eq!(s.amount2, p.bob.our_distributable());
                prop_assert_eq!(s.locked1, U256::from(a.locked()));
                prop_assert_eq!(s.locked2, U256::from(b.locked()));
                prop_assert_eq!(p.alice.our_balance() + p.bob.our_balance(), U256::from(da + db));
            }
        }
    }
}
