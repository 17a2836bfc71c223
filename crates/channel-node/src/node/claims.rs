//! Locks settled on L1 (docs/channels.md §4.3): what a node does when a mediated payment's
//! secret shows up in the `SecretRegistry`, when a payer does not unlock a lock whose secret
//! we registered in time, and when a channel settles with pending locks.
//!
//! - Every node follows the registry's `SecretRevealed` logs. A payer whose outgoing lock's
//!   secret was registered by the lock's expiration pays that lock off-chain (its payee could
//!   claim it on chain anyway) and, as a mediator, asks its own payer with the secret.
//! - A payee whose lock is still pending after its expiration, with the secret registered
//!   in time, closes the channel with the payer's newest balance proof (which holds the lock).
//! - Once settled, the pending locks of each side are unlocked by one side only: the
//!   receiver when some lock is claimable, the sender when none is. The locks are those of
//!   the proof that was settled, which need not be the newest: every lock a side ever had
//!   pending is in the store's lock log with the nonces that added and removed it.

use alloy_primitives::{Address, B256};
use loft_channels::{ChannelStatus, LockList, lock::secrethash};

use super::{Core, Event, L1Receipt, Side, Write, history::PaymentStatus, mediated::Transfer};

impl Core {
    /// A `SecretRevealed` log: the registry holds `secret` since `block`.
    pub(super) fn on_secret_revealed(&mut self, h: B256, secret: B256, block: u64) {
        if secrethash(&secret) != h {
            return;
        }
        match self.transfers.get(&h) {
            Some(Transfer::Initiator(t)) if !t.done && block <= t.lock.expiration => {
                tracing::info!(%h, block, "our payment's secret was registered on L1: paying the first hop");
                self.initiator_paid(h);
            }
            Some(Transfer::Mediator(t)) if t.secret.is_none() && block <= t.out_lock.expiration => {
                tracing::info!(%h, block, "learned a secret from L1: paying downstream, asking upstream");
                self.mediator_learned(h, secret);
            }
            _ => {}
        }
    }

    /// Closes the channel in which `payer` still owes us lock `h` (its secret registered in
    /// time), so that the lock can be unlocked on chain after the settlement.
    pub(super) fn claim_on_chain(&mut self, payer: Address, h: B256) {
        let Some(c) = self.channels.values().find(|c| c.partner == payer && c.theirs.locks.get(&h).is_some())
        else {
            return;
        };
        let id = c.id;
        if !matches!(c.status, ChannelStatus::Opened | ChannelStatus::Closing { .. }) {
            // Closed already: the settlement and the unlock follow.
            return;
        }
        let Some(proof) = c.theirs.proof else { return };
        tracing::warn!(channel = id, %h, "the payer did not unlock a lock we can claim: closing on L1");
        self.send_l1(id, "closeChannel", move |l1| async move { l1.close(id, Some(&proof)).await });
    }

    /// A close for a claim failed: the claims on that channel are tried again (the lock
    /// timers look the registry up again and close again).
    pub(super) fn claim_failed(&mut self, channel: u64) {
        let Some(c) = self.channels.get(&channel) else { return };
        let payer = c.partner;
        for t in self.transfers.values_mut() {
            match t {
                Transfer::Target(t) if t.payer == payer => t.claiming = false,
                Transfer::Mediator(t) if t.payer == payer => t.claiming = false,
                _ => {}
            }
        }
    }

    /// After a settlement: unlock each side's settled locks whose turn is ours (the contract
    /// says what is left to unlock). The settled locks are those of the proof on chain: our
    /// newest when it is that one, else rebuilt from the lock log (the partner closed with an
    /// older proof of ours, or our watchtower submitted an older one of the partner's).
    pub(super) fn unlock_settled(&mut self, id: u64) {
        let (Some(c), Some(record)) = (self.channels.get(&id), self.onchain.get(&id)) else { return };
        let (ours_values, theirs_values) = if record.closer == c.us {
            (record.closer_side, record.non_closer)
        } else {
            (record.non_closer, record.closer_side)
        };
        let sides = [
            (Side::Ours, &c.ours.locks, ours_values, c.us),
            (Side::Theirs, &c.theirs.locks, theirs_values, c.partner),
        ];
        let mut nothing_to_unlock = Vec::new();
        for (side, current, values, sender) in sides {
            let theirs = side == Side::Theirs;
            if values.locked.is_zero() {
                // The contract holds nothing of this side: whatever we still track is over.
                nothing_to_unlock.push(theirs);
                continue;
            }
            let locks = if current.root() == values.locksroot {
                current.clone()
            } else {
                match self.store.locks_at(id, side, values.nonce) {
                    Ok(list) if list.root() == values.locksroot => {
                        tracing::info!(
                            channel = id,
                            theirs,
                            nonce = values.nonce,
                            "an older proof was settled: unlocking its locks"
                        );
                        list
                    }
                    Ok(_) => {
                        tracing::warn!(
                            channel = id,
                            theirs,
                            nonce = values.nonce,
                            "settled locks are not in our lock log: not unlocking them"
                        );
                        nothing_to_unlock.push(theirs);
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(channel = id, theirs, error = %e, "reading the lock log");
                        continue;
                    }
                }
            };
            let contracts = crate::contracts::ChannelContracts::new(&self.l1, self.deployment);
            let events = self.events.clone();
            tokio::spawn(async move {
                let result = contracts
                    .unlock_when_ours(id, sender, &locks, theirs)
                    .await
                    .map(|r| r.map(|r| L1Receipt { tx: r.transaction_hash, gas_used: r.gas_used }))
                    .map_err(|e| e.to_string());
                let _ = events.send(Event::Unlocked { channel: id, theirs, locks, result });
            });
        }
        for theirs in nothing_to_unlock {
            self.settled_locks_done(id, theirs, &LockList::new(), false);
        }
    }

    /// The outcome of an unlock of `locks`: the settled channel's locks of that side are done
    /// with; the payments we were owed through them end (paid if we knew their secret).
    pub(super) fn on_unlocked(
        &mut self,
        id: u64,
        theirs: bool,
        locks: LockList,
        result: Result<Option<L1Receipt>, String>,
    ) {
        match &result {
            Ok(Some(r)) => {
                tracing::info!(channel = id, theirs, tx = %r.tx, gas = r.gas_used, "locks unlocked on L1")
            }
            Ok(None) => tracing::debug!(channel = id, theirs, "the partner unlocks these locks"),
            Err(e) => {
                tracing::warn!(channel = id, theirs, error = %e, "unlock failed");
                return;
            }
        }
        self.settled_locks_done(id, theirs, &locks, matches!(result, Ok(Some(_))));
    }

    /// Forgets one side's locks of a settled channel (and its lock log): a payment owed to us
    /// through them ends paid if we claimed its lock in `unlocked` with its secret, else
    /// expired.
    fn settled_locks_done(&mut self, id: u64, theirs: bool, unlocked: &LockList, claimed: bool) {
        let Some(c) = self.channels.get_mut(&id) else { return };
        let side = if theirs { &mut c.theirs } else { &mut c.ours };
        let mut hashes: Vec<B256> = side.locks.iter().map(|l| l.secrethash).collect();
        hashes.extend(unlocked.iter().map(|l| l.secrethash).filter(|h| side.locks.get(h).is_none()));
        side.locks = Default::default();
        let store_side = if theirs { Side::Theirs } else { Side::Ours };
        self.writes.push(Write::Locks(id, store_side, side.locks.encode()));
        self.writes.push(Write::LockLogDropped(id, store_side));
        for h in hashes {
            let in_claim = claimed && unlocked.get(&h).is_some();
            let paid = match self.transfers.get(&h) {
                Some(Transfer::Target(t)) if theirs => in_claim && t.secret.is_some(),
                Some(Transfer::Mediator(t)) if theirs => in_claim && t.secret.is_some(),
                _ => continue,
            };
            self.transfers.remove(&h);
            self.dirty_transfers.insert(h);
            self.payment_ended(h, if paid { PaymentStatus::Completed } else { PaymentStatus::Expired });
        }
    }
}
