//! Mediated payments through hash-time locks (docs/channels.md §4.3), one role per secrethash:
//!
//! - the **initiator** makes the secret, locks the first hop's amount (target amount plus every
//!   fee) and reveals the secret only to the target, once the target asks for it with exactly
//!   the planned amount and expiration;
//! - a **mediator** accepts the incoming lock and, in the same step, locks the next hop's
//!   amount on its outgoing channel if the fee and the expiry delta are its own and it has
//!   the capacity (else `TransferFailed` goes back); when the secret comes back from
//!   downstream it pays downstream first (`Unlock`), then reveals upstream;
//! - the **target** asks the initiator for the secret, reveals it to its payer, and is paid by
//!   its payer's `Unlock`.
//!
//! A lock leaves a balance proof only by `Unlock` (secret known) or by `LockExpired` after its
//! expiration, so a failed payment's locks return to their payers when they expire.

use std::time::Instant;

use alloy_primitives::{Address, B256};
use loft_channels::{
    Lock, LockList, SignedBalanceProof,
    lock::secrethash,
    route::{FeePolicy, RouteHop, plan},
    wire::{
        FailReason, LockExpired, LockedTransfer, Reliable, RevealSecret, SecretRequest, TransferFailed,
        Unlock, lock_expired_message_hash, locked_message_hash, unlock_message_hash,
    },
};
use tokio::sync::oneshot;

use loft_channels::ChannelError;

use super::{
    Core, NodeError, Refusal, Side, VerifiedBalanceProof, Write,
    history::{PaymentRole, PaymentStatus},
};

/// How a node mediates and times mediated payments (in L1 blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediationConfig {
    /// Fees and expiry delta this node charges to forward.
    pub policy: FeePolicy,
    /// A lock must leave at least this many blocks to learn and use its secret.
    pub reveal_timeout: u64,
    /// Blocks from now to the target's lock expiration.
    pub final_delta: u64,
}

impl Default for MediationConfig {
    fn default() -> Self {
        Self {
            policy: FeePolicy { fee_flat: 0, fee_ppm: 0, expiry_delta: 100 },
            reveal_timeout: 50,
            final_delta: 100,
        }
    }
}

/// The outcome of a mediated payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentReport {
    /// Fees paid to the mediators.
    pub fee: u128,
    /// From the start to our committed `Unlock` (irrevocable for everyone downstream).
    pub elapsed: std::time::Duration,
}

/// How a payment ended, held until the commit that records it.
pub(super) struct PaymentAnswer {
    reply: oneshot::Sender<Result<PaymentReport, NodeError>>,
    /// The fee paid and when the payment started, or why it failed.
    outcome: Result<(u128, Instant), NodeError>,
}

pub(super) enum Transfer {
    Initiator(Initiator),
    Mediator(Mediator),
    Target(Target),
}

pub(super) struct Initiator {
    pub(super) pid: B256,
    pub(super) secret: B256,
    pub(super) target: Address,
    pub(super) target_amount: u128,
    pub(super) target_expiration: u64,
    pub(super) first: Address,
    pub(super) channel: u64,
    pub(super) lock: Lock,
    pub(super) revealed: bool,
    pub(super) done: bool,
    pub(super) started: Instant,
}

pub(super) struct Mediator {
    pub(super) pid: B256,
    pub(super) payer: Address,
    pub(super) payee: Address,
    pub(super) in_lock: Lock,
    pub(super) out_channel: u64,
    pub(super) out_lock: Lock,
    pub(super) secret: Option<B256>,
    /// Our outgoing lock was unlocked or expired.
    pub(super) out_done: bool,
    /// Not stored: a restart registers (harmlessly) again.
    pub(super) registering: bool,
    /// Not stored: the on-chain claim of the incoming lock is under way.
    pub(super) claiming: bool,
}

pub(super) struct Target {
    pub(super) payer: Address,
    /// The lock our payer gave us.
    pub(super) lock: Lock,
    pub(super) secret: Option<B256>,
    pub(super) registering: bool,
    pub(super) claiming: bool,
}

impl Transfer {
    /// The record kept in the store (a restart resumes the role; only `started` is reset).
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let secret = |out: &mut Vec<u8>, s: &Option<B256>| match s {
            Some(s) => {
                out.push(1);
                out.extend_from_slice(s.as_slice());
            }
            None => out.push(0),
        };
        match self {
            Transfer::Initiator(t) => {
                out.push(1);
                out.extend_from_slice(t.pid.as_slice());
                out.extend_from_slice(t.secret.as_slice());
                out.extend_from_slice(t.target.as_slice());
                out.extend_from_slice(&t.target_amount.to_be_bytes());
                out.extend_from_slice(&t.target_expiration.to_be_bytes());
                out.extend_from_slice(t.first.as_slice());
                out.extend_from_slice(&t.channel.to_be_bytes());
                out.extend_from_slice(&t.lock.encode());
                out.push(u8::from(t.revealed));
                out.push(u8::from(t.done));
            }
            Transfer::Mediator(t) => {
                out.push(2);
                out.extend_from_slice(t.pid.as_slice());
                out.extend_from_slice(t.payer.as_slice());
                out.extend_from_slice(t.payee.as_slice());
                out.extend_from_slice(&t.in_lock.encode());
                out.extend_from_slice(&t.out_channel.to_be_bytes());
                out.extend_from_slice(&t.out_lock.encode());
                secret(&mut out, &t.secret);
                out.push(u8::from(t.out_done));
            }
            Transfer::Target(t) => {
                out.push(3);
                out.extend_from_slice(t.payer.as_slice());
                out.extend_from_slice(&t.lock.encode());
                secret(&mut out, &t.secret);
            }
        }
        out
    }

    /// Reads a record written by [`Transfer::encode`].
    pub(super) fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Cursor(b);
        let t = match r.u8()? {
            1 => Transfer::Initiator(Initiator {
                pid: r.b32()?,
                secret: r.b32()?,
                target: r.addr()?,
                target_amount: u128::from_be_bytes(r.take(16)?.try_into().ok()?),
                target_expiration: r.u64()?,
                first: r.addr()?,
                channel: r.u64()?,
                lock: r.lock()?,
                revealed: r.u8()? == 1,
                done: r.u8()? == 1,
                started: Instant::now(),
            }),
            2 => Transfer::Mediator(Mediator {
                pid: r.b32()?,
                payer: r.addr()?,
                payee: r.addr()?,
                in_lock: r.lock()?,
                out_channel: r.u64()?,
                out_lock: r.lock()?,
                secret: r.secret()?,
                out_done: r.u8()? == 1,
                registering: false,
                claiming: false,
            }),
            3 => Transfer::Target(Target {
                payer: r.addr()?,
                lock: r.lock()?,
                secret: r.secret()?,
                registering: false,
                claiming: false,
            }),
            _ => return None,
        };
        r.0.is_empty().then_some(t)
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn b32(&mut self) -> Option<B256> {
        Some(B256::from_slice(self.take(32)?))
    }
    fn addr(&mut self) -> Option<Address> {
        Some(Address::from_slice(self.take(20)?))
    }
    fn lock(&mut self) -> Option<Lock> {
        Some(Lock::decode(self.take(56)?.try_into().ok()?))
    }
    fn secret(&mut self) -> Option<Option<B256>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.b32()?)),
            _ => None,
        }
    }
}

impl Core {
    /// Starts a payment of `amount` to the last node of `route` through the others.
    pub(super) fn pay_route(
        &mut self,
        route: Vec<RouteHop>,
        amount: u128,
        reply: oneshot::Sender<Result<PaymentReport, NodeError>>,
    ) {
        let result = self.start_payment(&route, amount);
        match result {
            Ok(h) => {
                self.payment_replies.insert(h, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn start_payment(&mut self, route: &[RouteHop], amount: u128) -> Result<B256, NodeError> {
        let first = route.first().ok_or(NodeError::Route("empty route".into()))?.node;
        let target = route.last().map(|h| h.node).unwrap_or(first);
        let head = self.head;
        let p = plan(amount, head, self.mediation.final_delta, route)
            .map_err(|e| NodeError::Route(e.to_string()))?;
        let channel = self
            .channels
            .values_mut()
            .find(|c| c.partner == first && c.status == loft_channels::ChannelStatus::Opened)
            .ok_or(NodeError::NoChannel(first))?;
        // The first lock must expire well inside the channel's settle period.
        if p.first_expiration.saturating_sub(head) + 2 >= channel.settle_timeout {
            return Err(NodeError::Route(format!(
                "route needs {} blocks of lock time, the channel's settle timeout is {}",
                p.first_expiration - head,
                channel.settle_timeout
            )));
        }
        let secret = B256::from(super::rand_bytes());
        let pid = B256::from(super::rand_bytes());
        let h = secrethash(&secret);
        let lock = Lock { expiration: p.first_expiration, amount: p.first_amount, secrethash: h };
        let mh = locked_message_hash(&pid, &self.key.address(), &target, &lock, &p.hops);
        let proof = channel.send_locked(&self.key, &self.domain, lock, head, mh)?;
        let id = channel.id;
        lock_proof_writes(
            &mut self.writes,
            id,
            Side::Ours,
            &proof,
            &channel.ours.locks,
            LockChange::Added(lock),
        );
        self.enqueue(
            first,
            Reliable::Locked(LockedTransfer {
                pid,
                initiator: self.key.address(),
                target,
                lock,
                hops: p.hops,
                proof,
                initiator_endpoint: self.endpoint,
            }),
        );
        self.transfers.insert(
            h,
            Transfer::Initiator(Initiator {
                pid,
                secret,
                target,
                target_amount: amount,
                target_expiration: p.target_expiration,
                first,
                channel: id,
                lock,
                revealed: false,
                done: false,
                started: Instant::now(),
            }),
        );
        self.dirty_transfers.insert(h);
        self.payment_started(h, PaymentRole::Sent, target, amount, p.first_amount - amount);
        Ok(h)
    }

    pub(super) fn receive_locked_transfer(
        &mut self,
        peer: Address,
        m: &LockedTransfer,
        v: &VerifiedBalanceProof,
    ) -> Result<(), String> {
        let id = m.proof.proof.channel_id;
        let head = self.head;
        let mh = locked_message_hash(&m.pid, &m.initiator, &m.target, &m.lock, &m.hops);
        let c_in = self
            .channels
            .get_mut(&id)
            .filter(|c| c.partner == peer)
            .ok_or(format!("no channel {id} with us"))?;
        c_in.receive_locked(v, &m.lock, head, mh).map_err(|e| e.to_string())?;
        lock_proof_writes(
            &mut self.writes,
            id,
            Side::Theirs,
            &m.proof,
            &c_in.theirs.locks,
            LockChange::Added(m.lock),
        );
        let h = m.lock.secrethash;
        if self.transfers.contains_key(&h) {
            // A secrethash we already carry (a loop in the route, or a replayed payment):
            // accepted as a lock, never forwarded twice; it expires.
            self.fail_upstream(peer, m.pid, h, FailReason::Other, id);
            return Ok(());
        }
        let r = self.mediation.reveal_timeout;
        let Some((next, rest)) = m.hops.split_first() else {
            if m.target != self.key.address() || m.lock.expiration <= head + r {
                self.fail_upstream(peer, m.pid, h, FailReason::TargetRefused, id);
                return Ok(());
            }
            self.transfers.insert(
                h,
                Transfer::Target(Target {
                    payer: peer,
                    lock: m.lock,
                    secret: None,
                    registering: false,
                    claiming: false,
                }),
            );
            self.dirty_transfers.insert(h);
            self.payment_started(h, PaymentRole::Received, m.initiator, m.lock.amount, 0);
            if let Some(endpoint) = m.initiator_endpoint {
                self.reach(m.initiator, endpoint);
            }
            self.enqueue(
                m.initiator,
                Reliable::SecretRequest(SecretRequest {
                    pid: m.pid,
                    secrethash: h,
                    amount: m.lock.amount,
                    expiration: m.lock.expiration,
                }),
            );
            return Ok(());
        };
        let policy = self.mediation.policy;
        let fee_ok = policy
            .fee(next.amount)
            .and_then(|f| f.checked_add(next.amount))
            .is_some_and(|need| m.lock.amount >= need);
        if !fee_ok {
            self.fail_upstream(peer, m.pid, h, FailReason::FeeTooLow, id);
            return Ok(());
        }
        if m.lock.expiration < next.expiration.saturating_add(policy.expiry_delta)
            || next.expiration <= head + r
        {
            self.fail_upstream(peer, m.pid, h, FailReason::ExpiryTooSoon, id);
            return Ok(());
        }
        let out_lock = Lock { expiration: next.expiration, amount: next.amount, secrethash: h };
        let mh_out = locked_message_hash(&m.pid, &m.initiator, &m.target, &out_lock, rest);
        let Some(c_out) = self
            .channels
            .values_mut()
            .find(|c| c.partner == next.node && c.status == loft_channels::ChannelStatus::Opened)
        else {
            self.fail_upstream(peer, m.pid, h, FailReason::NoChannel, id);
            return Ok(());
        };
        let proof = match c_out.send_locked(&self.key, &self.domain, out_lock, head, mh_out) {
            Ok(p) => p,
            Err(_) => {
                let failed = c_out.id;
                self.fail_upstream(peer, m.pid, h, FailReason::InsufficientCapacity, failed);
                return Ok(());
            }
        };
        let out_id = c_out.id;
        let added = LockChange::Added(out_lock);
        lock_proof_writes(&mut self.writes, out_id, Side::Ours, &proof, &c_out.ours.locks, added);
        self.enqueue(
            next.node,
            Reliable::Locked(LockedTransfer {
                pid: m.pid,
                initiator: m.initiator,
                target: m.target,
                lock: out_lock,
                hops: rest.to_vec(),
                proof,
                initiator_endpoint: m.initiator_endpoint,
            }),
        );
        self.transfers.insert(
            h,
            Transfer::Mediator(Mediator {
                pid: m.pid,
                payer: peer,
                payee: next.node,
                in_lock: m.lock,
                out_channel: out_id,
                out_lock,
                secret: None,
                out_done: false,
                registering: false,
                claiming: false,
            }),
        );
        self.dirty_transfers.insert(h);
        self.payment_started(
            h,
            PaymentRole::Forwarded,
            next.node,
            out_lock.amount,
            m.lock.amount - out_lock.amount,
        );
        Ok(())
    }

    fn fail_upstream(&mut self, payer: Address, pid: B256, h: B256, reason: FailReason, channel: u64) {
        self.enqueue(
            payer,
            Reliable::TransferFailed(TransferFailed {
                pid,
                secrethash: h,
                reason: reason as u16,
                failed_channel: channel,
            }),
        );
    }

    pub(super) fn receive_secret_request(&mut self, peer: Address, m: &SecretRequest) -> Result<(), String> {
        let head = self.head;
        let r = self.mediation.reveal_timeout;
        let Some(Transfer::Initiator(t)) = self.transfers.get_mut(&m.secrethash) else { return Ok(()) };
        // Only the target, for exactly what we planned, in time.
        if peer != t.target
            || m.amount != t.target_amount
            || m.expiration != t.target_expiration
            || head + r >= t.target_expiration
            || t.done
        {
            tracing::warn!(%peer, "secret request does not match the payment; not revealing");
            return Ok(());
        }
        t.revealed = true;
        self.dirty_transfers.insert(m.secrethash);
        let (pid, secret, target) = (t.pid, t.secret, t.target);
        self.enqueue(target, Reliable::RevealSecret(RevealSecret { pid, secret }));
        Ok(())
    }

    pub(super) fn receive_reveal_secret(&mut self, peer: Address, m: &RevealSecret) -> Result<(), String> {
        let h = secrethash(&m.secret);
        self.dirty_transfers.insert(h);
        match self.transfers.get_mut(&h) {
            Some(Transfer::Target(_)) if self.misbehaviour == super::Misbehaviour::WithholdSecret => {
                tracing::warn!(%h, "misbehaving: withholding the secret from our payer");
            }
            Some(Transfer::Target(t)) if t.secret.is_none() => {
                t.secret = Some(m.secret);
                if self.misbehaviour == super::Misbehaviour::RevealOnChainOnly {
                    tracing::warn!(%h, "misbehaving: keeping the secret for L1");
                    return Ok(());
                }
                let payer = t.payer;
                self.enqueue(payer, Reliable::RevealSecret(RevealSecret { pid: m.pid, secret: m.secret }));
            }
            Some(Transfer::Mediator(t)) if peer == t.payee && t.secret.is_none() => {
                self.mediator_learned(h, m.secret);
            }
            Some(Transfer::Initiator(t)) if peer == t.first && !t.done => {
                self.initiator_paid(h);
            }
            _ => {}
        }
        Ok(())
    }

    /// A mediator learned the secret (from its payee, or from L1 in time for the payee to
    /// claim there): it pays downstream first, then asks upstream.
    pub(super) fn mediator_learned(&mut self, h: B256, secret: B256) {
        let Some(Transfer::Mediator(t)) = self.transfers.get_mut(&h) else { return };
        t.secret = Some(secret);
        t.out_done = true;
        self.dirty_transfers.insert(h);
        let (pid, payer, payee, out_channel) = (t.pid, t.payer, t.payee, t.out_channel);
        self.unlock_out(out_channel, payee, pid, secret);
        self.enqueue(payer, Reliable::RevealSecret(RevealSecret { pid, secret }));
    }

    /// Our payment reached its target (the first hop revealed the secret, or it was
    /// registered on L1 in time for the first hop to claim there): pay the first hop.
    pub(super) fn initiator_paid(&mut self, h: B256) {
        let Some(Transfer::Initiator(t)) = self.transfers.get_mut(&h) else { return };
        if self.misbehaviour == super::Misbehaviour::NeverUnlock {
            // Keeps the lock, to expire it later.
            tracing::warn!(%h, "misbehaving: not paying the first hop");
            return;
        }
        t.done = true;
        let (pid, secret, first, channel, started, lock, amount) =
            (t.pid, t.secret, t.first, t.channel, t.started, t.lock, t.target_amount);
        self.unlock_out(channel, first, pid, secret);
        self.decide_payment(h, Ok((lock.amount - amount, started)));
        self.transfers.remove(&h);
        self.dirty_transfers.insert(h);
        self.payment_ended(h, PaymentStatus::Completed);
    }

    /// The `pay_route` call waiting for `h` gets `outcome` once this step is on disk (its
    /// `Unlock`, or the record of its failure): a caller told "paid" finds it so after a crash.
    fn decide_payment(&mut self, h: B256, outcome: Result<(u128, Instant), NodeError>) {
        if let Some(reply) = self.payment_replies.remove(&h) {
            self.payment_answers.insert(h, PaymentAnswer { reply, outcome });
            self.releases.push(super::Release::Answer(h));
        }
    }

    /// Answers the `pay_route` call of `h` (its step is committed).
    pub(super) fn answer_payment(&mut self, h: B256) {
        if let Some(PaymentAnswer { reply, outcome }) = self.payment_answers.remove(&h) {
            let _ =
                reply.send(outcome.map(|(fee, started)| PaymentReport { fee, elapsed: started.elapsed() }));
        }
    }

    fn unlock_out(&mut self, channel: u64, to: Address, pid: B256, secret: B256) {
        let h = secrethash(&secret);
        if self.misbehaviour == super::Misbehaviour::NeverUnlock {
            tracing::warn!(channel, "misbehaving: not sending Unlock");
            return;
        }
        let Some(c) = self.channels.get_mut(&channel) else { return };
        match c.send_unlock(&self.key, &self.domain, &h, unlock_message_hash(&pid, &secret)) {
            Ok((proof, _)) => {
                lock_proof_writes(
                    &mut self.writes,
                    channel,
                    Side::Ours,
                    &proof,
                    &c.ours.locks,
                    LockChange::Removed(h),
                );
                self.enqueue(to, Reliable::Unlock(Unlock { pid, secret, proof }));
            }
            Err(e) => tracing::warn!(channel, error = %e, "cannot unlock"),
        }
    }

    pub(super) fn receive_unlock(
        &mut self,
        peer: Address,
        m: &Unlock,
        v: &VerifiedBalanceProof,
    ) -> Result<(), String> {
        let id = m.proof.proof.channel_id;
        let c = self
            .channels
            .get_mut(&id)
            .filter(|c| c.partner == peer)
            .ok_or(format!("no channel {id} with us"))?;
        c.receive_unlock(v, &m.secret, unlock_message_hash(&m.pid, &m.secret)).map_err(|e| e.to_string())?;
        let h = secrethash(&m.secret);
        lock_proof_writes(
            &mut self.writes,
            id,
            Side::Theirs,
            &m.proof,
            &c.theirs.locks,
            LockChange::Removed(h),
        );
        self.dirty_transfers.insert(h);
        if matches!(self.transfers.get(&h), Some(Transfer::Target(_) | Transfer::Mediator(_))) {
            self.payment_ended(h, PaymentStatus::Completed);
        }
        match self.transfers.get(&h) {
            Some(Transfer::Target(_)) => {
                self.transfers.remove(&h);
            }
            Some(Transfer::Mediator(t)) if t.out_done => {
                self.transfers.remove(&h);
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn receive_lock_expired(
        &mut self,
        peer: Address,
        m: &LockExpired,
        v: &VerifiedBalanceProof,
    ) -> Result<(), Refusal> {
        let knows_secret = match self.transfers.get(&m.secrethash) {
            Some(Transfer::Target(t)) => t.secret.is_some(),
            Some(Transfer::Mediator(t)) => t.secret.is_some(),
            _ => false,
        };
        if knows_secret {
            return Err(Refusal::Refuse("lock expired refused: we know its secret".into()));
        }
        let id = m.proof.proof.channel_id;
        let head = self.head;
        let c = self
            .channels
            .get_mut(&id)
            .filter(|c| c.partner == peer)
            .ok_or_else(|| Refusal::Refuse(format!("no channel {id} with us")))?;
        match c.receive_lock_expired(v, &m.secrethash, head, lock_expired_message_hash(&m.pid, &m.secrethash))
        {
            Ok(_) => {}
            // Our L1 view lags the sender's: wait for our head rather than refuse.
            Err(ChannelError::LockNotExpired { .. }) => return Err(Refusal::NotYet),
            Err(e) => return Err(Refusal::Refuse(e.to_string())),
        }
        let removed = LockChange::Removed(m.secrethash);
        lock_proof_writes(&mut self.writes, id, Side::Theirs, &m.proof, &c.theirs.locks, removed);
        self.dirty_transfers.insert(m.secrethash);
        self.payment_ended(m.secrethash, PaymentStatus::Expired);
        match self.transfers.get(&m.secrethash) {
            Some(Transfer::Target(_)) => {
                self.transfers.remove(&m.secrethash);
            }
            Some(Transfer::Mediator(t)) if t.out_done => {
                self.transfers.remove(&m.secrethash);
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn receive_transfer_failed(
        &mut self,
        peer: Address,
        m: &TransferFailed,
    ) -> Result<(), String> {
        match self.transfers.get(&m.secrethash) {
            // The lock reached the target once it asked for the secret (or gave it back): a
            // failure after that is a lie, and for the initiator a retry with a new secret
            // would pay twice. The payment ends by the secret's way back, or by expiry.
            Some(Transfer::Initiator(Initiator { revealed: true, .. }))
            | Some(Transfer::Mediator(Mediator { secret: Some(_), .. })) => {
                tracing::warn!(%peer, secrethash = %m.secrethash, "ignoring TransferFailed: the secret is out");
            }
            Some(Transfer::Mediator(t)) if peer == t.payee => {
                let payer = t.payer;
                self.enqueue(payer, Reliable::TransferFailed(*m));
                self.payment_ended(m.secrethash, PaymentStatus::Failed);
            }
            Some(Transfer::Initiator(t)) if peer == t.first => {
                self.payment_ended(m.secrethash, PaymentStatus::Failed);
                let failed = NodeError::PaymentFailed { channel: m.failed_channel, reason: m.reason };
                self.decide_payment(m.secrethash, Err(failed));
            }
            _ => {}
        }
        Ok(())
    }

    /// Lock timers, on each L1 head:
    /// - our outgoing locks whose secret never came are expired after their expiration (a
    ///   revealed one only once L1 shows its secret was not registered in time);
    /// - an incoming lock whose secret we know but our payer has not unlocked gets its secret
    ///   registered on L1 `reveal_timeout` blocks before it expires, and once expired (the
    ///   payer had every chance to pay off-chain) it is claimed on chain
    ///   ([`Core::claim_on_chain`]).
    pub(super) fn lock_timers(&mut self) {
        let head = self.head;
        // Every log through this block was seen: a registration in time would be known.
        let cursor = self.l1_cursor;
        let margin = 2;
        let r = self.mediation.reveal_timeout;
        let cheat = self.misbehaviour == super::Misbehaviour::NeverUnlock;
        let mut expire: Vec<(B256, u64, Address, B256)> = Vec::new();
        let mut register: Vec<B256> = Vec::new();
        let mut check: Vec<B256> = Vec::new();
        for (h, t) in self.transfers.iter_mut() {
            match t {
                Transfer::Initiator(t)
                    if !t.done && (!t.revealed || cheat) && head >= t.lock.expiration + margin =>
                {
                    t.done = true;
                    expire.push((*h, t.channel, t.first, t.pid));
                }
                // We revealed the secret to the target but the first hop never claimed: the
                // lock may be expired only if the secret was not registered on L1 in time
                // (else the hop can still claim it on chain).
                Transfer::Initiator(t) if !t.done && t.revealed && head >= t.lock.expiration + margin => {
                    check.push(*h);
                }
                Transfer::Mediator(t)
                    if !t.out_done && t.secret.is_none() && cursor >= t.out_lock.expiration + margin =>
                {
                    t.out_done = true;
                    expire.push((*h, t.out_channel, t.payee, t.pid));
                }
                Transfer::Mediator(Mediator { secret: Some(s), in_lock: lock, registering, .. })
                | Transfer::Target(Target { secret: Some(s), lock, registering, .. })
                    if !*registering && head + r >= lock.expiration =>
                {
                    *registering = true;
                    register.push(*s);
                }
                Transfer::Mediator(Mediator { secret: Some(_), in_lock: lock, claiming, .. })
                | Transfer::Target(Target { secret: Some(_), lock, claiming, .. })
                    if !*claiming && head >= lock.expiration + margin =>
                {
                    *claiming = true;
                    check.push(*h);
                }
                _ => {}
            }
        }
        for h in check {
            if self.secret_checks.insert(h) {
                let contracts = crate::contracts::ChannelContracts::new(&self.l1, self.deployment);
                let events = self.events.clone();
                tokio::spawn(async move {
                    let block = contracts.secret_reveal_block(h).await.map_err(|e| e.to_string());
                    let _ = events.send(super::Event::SecretRevealBlock { secrethash: h, block });
                });
            }
        }
        for (h, channel, to, pid) in expire {
            self.expire_lock(h, channel, to, pid);
        }
        for secret in register {
            let h = secrethash(&secret);
            tracing::info!(%h, "registering the secret on L1 before our incoming lock expires");
            let key = u64::from_be_bytes(h.0[..8].try_into().expect("8 bytes"));
            self.send_l1(key, "registerSecret", move |l1| async move { l1.register_secret(secret).await });
        }
    }

    /// The answer to a registry lookup for a lock past its expiration. Our outgoing lock:
    /// expire it if the secret was not registered by the lock's expiration, else pay the hop
    /// (it could claim on chain). Our incoming lock: claim it on chain if the secret was
    /// registered in time, else it is lost and the payer may expire it.
    pub(super) fn on_secret_reveal_block(&mut self, h: B256, block: Result<u64, String>) {
        self.secret_checks.remove(&h);
        let block = match block {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%h, error = %e, "secret registry lookup failed; retrying");
                if let Some(
                    Transfer::Mediator(Mediator { claiming, .. }) | Transfer::Target(Target { claiming, .. }),
                ) = self.transfers.get_mut(&h)
                {
                    *claiming = false;
                }
                return;
            }
        };
        let in_time = |expiration: u64| block != 0 && block <= expiration;
        match self.transfers.get_mut(&h) {
            Some(Transfer::Initiator(t)) if !t.done => {
                if in_time(t.lock.expiration) {
                    self.initiator_paid(h);
                } else {
                    t.done = true;
                    let (channel, first, pid) = (t.channel, t.first, t.pid);
                    tracing::info!(%h, "the target withheld the secret and nobody registered it; expiring our lock");
                    self.expire_lock(h, channel, first, pid);
                }
            }
            Some(
                Transfer::Mediator(Mediator { payer, in_lock: lock, secret, .. })
                | Transfer::Target(Target { payer, lock, secret, .. }),
            ) => {
                if in_time(lock.expiration) {
                    let payer = *payer;
                    self.claim_on_chain(payer, h);
                } else {
                    tracing::warn!(%h, "the secret was not registered in time: the incoming lock is lost");
                    // Forget it, so that the payer's expiry is accepted.
                    *secret = None;
                    self.dirty_transfers.insert(h);
                }
            }
            _ => {}
        }
    }

    /// Removes our expired lock `h` from `channel` and tells `to`.
    fn expire_lock(&mut self, h: B256, channel: u64, to: Address, pid: B256) {
        let head = self.head;
        self.dirty_transfers.insert(h);
        let Some(c) = self.channels.get_mut(&channel) else { return };
        match c.send_lock_expired(&self.key, &self.domain, &h, head, lock_expired_message_hash(&pid, &h)) {
            Ok((proof, _)) => {
                lock_proof_writes(
                    &mut self.writes,
                    channel,
                    Side::Ours,
                    &proof,
                    &c.ours.locks,
                    LockChange::Removed(h),
                );
                self.enqueue(to, Reliable::LockExpired(LockExpired { pid, secrethash: h, proof }));
            }
            Err(e) => tracing::warn!(channel, error = %e, "cannot expire lock"),
        }
        self.decide_payment(h, Err(NodeError::Route("payment expired".into())));
        if let Some(Transfer::Initiator(_)) = self.transfers.get(&h) {
            self.transfers.remove(&h);
            self.payment_ended(h, PaymentStatus::Expired);
        }
    }
}

/// The lock a proof added or removed.
pub(super) enum LockChange {
    Added(Lock),
    Removed(B256),
}

/// The writes of a `side` proof that added or removed a lock: the proof, the side's pending
/// locks after it, and the lock log (which rebuilds the locks of any older proof of the side,
/// should that be the one settled on L1).
pub(super) fn lock_proof_writes(
    writes: &mut Vec<Write>,
    id: u64,
    side: Side,
    proof: &SignedBalanceProof,
    locks: &LockList,
    change: LockChange,
) {
    let nonce = proof.proof.nonce;
    writes.push(Write::Proof(id, side, proof.encode()));
    writes.push(Write::Locks(id, side, locks.encode()));
    writes.push(match change {
        LockChange::Added(lock) => Write::LockAdded(id, side, nonce, lock),
        LockChange::Removed(h) => Write::LockRemoved(id, side, h, nonce),
    });
}
