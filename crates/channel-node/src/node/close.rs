//! Cooperative close: the request, the counterparty's signature or refusal, and the quiet
//! state (no payment in flight) a channel must be in for it.

use super::*;

impl Core {
    /// Whether `channel` can close cooperatively now: open, nothing in flight to the partner,
    /// no pending locks either way.
    pub(super) fn quiet(&self, c: &Channel) -> bool {
        c.status == ChannelStatus::Opened
            && c.ours.locks.is_empty()
            && c.theirs.locks.is_empty()
            && self.peers.get(&c.partner).is_none_or(|p| p.outbox.is_empty())
    }

    pub(super) fn close_digest(&self, c: &Channel, balance1: U256, balance2: U256, expiration: u64) -> B256 {
        let (p1, p2) = if c.us < c.partner { (c.us, c.partner) } else { (c.partner, c.us) };
        self.domain.cooperative_settle_digest(c.id, p1, balance1, p2, balance2, expiration)
    }

    pub(super) fn receive_close_request(&mut self, peer: Address, m: &CloseRequest) -> Result<(), String> {
        let c = self
            .channels
            .get(&m.channel_id)
            .filter(|c| c.partner == peer)
            .ok_or("no such channel with us")?;
        let ((_, b1), (_, b2)) = c.cooperative_balances();
        let refuse = if !self.quiet(c) {
            Some(1)
        } else if (b1, b2) != (U256::from(m.balance1), U256::from(m.balance2)) || m.expiration <= self.head {
            Some(2)
        } else {
            None
        };
        if let Some(reason) = refuse {
            self.enqueue(peer, Reliable::CloseRefused { channel_id: m.channel_id, reason });
            return Ok(());
        }
        let digest = self.close_digest(c, b1, b2, m.expiration);
        match m.signature.recover(&digest) {
            Ok(signer) if signer == peer => {}
            _ => return Err("close request not signed by the partner".into()),
        }
        let signature = self.key.sign_digest(&digest);
        if let Some(c) = self.channels.get_mut(&m.channel_id) {
            c.status = ChannelStatus::Closing { expiration: m.expiration };
        }
        self.persist_channel(m.channel_id);
        self.enqueue(peer, Reliable::CloseSigned { channel_id: m.channel_id, signature });
        Ok(())
    }

    pub(super) fn receive_close_signed(
        &mut self,
        peer: Address,
        id: u64,
        signature: &Signature65,
    ) -> Result<(), String> {
        let Some(pending) = self.closes.get(&id) else { return Ok(()) };
        let c = self.channels.get(&id).filter(|c| c.partner == peer).ok_or("no such channel with us")?;
        let digest = self.close_digest(c, pending.balance1, pending.balance2, pending.expiration);
        match signature.recover(&digest) {
            Ok(signer) if signer == peer => {}
            _ => return Err("close signature not the partner's".into()),
        }
        let (sig1, sig2) = if c.us < c.partner {
            (pending.our_signature, *signature)
        } else {
            (*signature, pending.our_signature)
        };
        let (b1, b2, expiration) = (pending.balance1, pending.balance2, pending.expiration);
        self.send_l1(id, "cooperativeSettle", move |l1| async move {
            l1.cooperative_settle(id, b1, b2, expiration, &sig1, &sig2).await
        });
        Ok(())
    }

    pub(super) fn receive_close_refused(
        &mut self,
        peer: Address,
        id: u64,
        reason: u16,
    ) -> Result<(), String> {
        if self.closes.remove(&id).is_some() {
            if let Some(c) = self.channels.get_mut(&id).filter(|c| c.partner == peer) {
                c.status = ChannelStatus::Opened;
            }
            self.persist_channel(id);
            if let Some(reply) = self.l1_replies.remove(&(id, "cooperativeSettle")) {
                let why = if reason == 1 {
                    "partner busy (payments in flight)"
                } else {
                    "partner disagrees on balances"
                };
                let _ = reply.send(Err(NodeError::L1(format!("cooperative close refused: {why}"))));
            }
        }
        Ok(())
    }
}
