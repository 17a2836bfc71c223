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
//!   receiver when some lock is claimable, the sender when none is.

use alloy_primitives::{Address, B256};
use loft_channels::{ChannelStatus, lock::secrethash};

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

    /// After a settlement: unlock each side's pending locks whose turn is ours (the
    /// contract says what is left to unlock).
    pub(super) fn unlock_settled(&mut self, id: u64) {
        let (Some(c), Some(record)) = (self.channels.get(&id), self.onchain.get(&id)) else { return };
        let (ours_values, theirs_values) = if record.closer == c.us {
            (record.closer_side, record.non_closer)
        } else {
            (record.non_closer, record.closer_side)
        };
        let sides = [
            (false, &c.ours.locks, ours_values.locksroot, c.us),
            (true, &c.theirs.locks, theirs_values.locksroot, c.partner),
        ];
        for (theirs, locks, locksroot, sender) in sides {
            if locks.is_empty() {
                continue;
            }
            if locks.root() != locksroot {
                // An older proof of that side was settled; its locks are not the ones we hold.
                tracing::warn!(channel = id, theirs, "settled locks differ from ours: not unlocking them");
                continue;
            }
            let locks = locks.clone();
            let contracts = crate::contracts::ChannelContracts::new(&self.l1, self.deployment);
            let events = self.events.clone();
            tokio::spawn(async move {
                let result = contracts
                    .unlock_when_ours(id, sender, &locks, theirs)
                    .await
                    .map(|r| r.map(|r| L1Receipt { tx: r.transaction_hash, gas_used: r.gas_used }))
                    .map_err(|e| e.to_string());
                let _ = events.send(Event::Unlocked { channel: id, theirs, result });
            });
        }
    }

    /// The outcome of an unlock: the settled channel's locks of that side are done with;
    /// the payments we were owed through them end (paid if we knew their secret).
    pub(super) fn on_unlocked(&mut self, id: u64, theirs: bool, result: Result<Option<L1Receipt>, String>) {
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
        let claimed = matches!(result, Ok(Some(_)));
        let Some(c) = self.channels.get_mut(&id) else { return };
        let side = if theirs { &mut c.theirs } else { &mut c.ours };
        let hashes: Vec<B256> = side.locks.iter().map(|l| l.secrethash).collect();
        side.locks = Default::default();
        let encoded = side.locks.encode();
        self.writes.push(Write::Locks(id, if theirs { Side::Theirs } else { Side::Ours }, encoded));
        for h in hashes {
            let paid = match self.transfers.get(&h) {
                Some(Transfer::Target(t)) if theirs => claimed && t.secret.is_some(),
                Some(Transfer::Mediator(t)) if theirs => claimed && t.secret.is_some(),
                _ => continue,
            };
            self.transfers.remove(&h);
            self.dirty_transfers.insert(h);
            self.payment_ended(h, if paid { PaymentStatus::Completed } else { PaymentStatus::Expired });
        }
    }
}
