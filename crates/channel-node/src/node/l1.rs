//! L1: the watcher that polls the contracts' logs, what the node does when a channel opens,
//! gets a deposit, closes or settles, and the transactions it sends (each reported back to
//! the core when mined).

use super::*;

/// The values of one side's proof as submitted on chain (all zero: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SideValues {
    pub(super) nonce: u64,
    pub(super) transferred: U256,
    pub(super) locked: U256,
    pub(super) locksroot: B256,
}

/// A closed channel's on-chain proofs, for the update and the settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OnChain {
    pub(super) closer: Address,
    pub(super) settle_block: u64,
    /// The non-closer's proof, submitted by the closer.
    pub(super) non_closer: SideValues,
    /// The closer's proof, submitted by the non-closer (or its watchtower).
    pub(super) closer_side: SideValues,
}

impl OnChain {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(232);
        out.extend_from_slice(self.closer.as_slice());
        out.extend_from_slice(&self.settle_block.to_be_bytes());
        for v in [&self.non_closer, &self.closer_side] {
            out.extend_from_slice(&v.nonce.to_be_bytes());
            out.extend_from_slice(&v.transferred.to_be_bytes::<32>());
            out.extend_from_slice(&v.locked.to_be_bytes::<32>());
            out.extend_from_slice(v.locksroot.as_slice());
        }
        out
    }

    pub(super) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 232 {
            return None;
        }
        let side = |o: usize| SideValues {
            nonce: u64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes")),
            transferred: U256::from_be_slice(&b[o + 8..o + 40]),
            locked: U256::from_be_slice(&b[o + 40..o + 72]),
            locksroot: B256::from_slice(&b[o + 72..o + 104]),
        };
        Some(Self {
            closer: Address::from_slice(&b[..20]),
            settle_block: u64::from_be_bytes(b[20..28].try_into().expect("8 bytes")),
            non_closer: side(28),
            closer_side: side(132),
        })
    }
}

/// A cooperative close we asked for.
pub(super) struct PendingClose {
    pub(super) balance1: U256,
    pub(super) balance2: U256,
    pub(super) expiration: u64,
    pub(super) our_signature: Signature65,
}

/// An L1 fact about a channel of ours.
#[derive(Debug, Clone)]
pub(super) enum L1Event {
    Opened {
        id: u64,
        partner: Address,
        token: Address,
        settle_timeout: u64,
    },
    Deposit {
        id: u64,
        participant: Address,
        total: u128,
    },
    Closed {
        id: u64,
        closer: Address,
        block: u64,
        values: SideValues,
    },
    Updated {
        id: u64,
        values: SideValues,
    },
    Settled {
        id: u64,
    },
    /// A secret registered in the `SecretRegistry` (any payment's; the core keeps its own).
    SecretRevealed {
        secrethash: B256,
        secret: B256,
        block: u64,
    },
    /// Any channel of the deployment opened (for the gossip graph).
    GraphOpened {
        id: u64,
        participants: (Address, Address),
    },
    /// Any channel closed or settled.
    GraphClosed {
        id: u64,
    },
    Cursor(u64),
    Head(u64),
}

/// How long a handle waits for its node's L1 watcher to see its own transaction.
pub(super) const L1_SEEN: Duration = Duration::from_secs(60);

pub(super) fn store_cursor(store: &Store) -> Result<Option<u64>, StoreError> {
    store
        .meta("l1Cursor")
        .map(|v| v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok()).map(u64::from_be_bytes))
}

/// Polls the `ChannelManager`'s logs from `cursor` and reports those about our channels.
/// What a log means for the gossip graph: any channel opened, closed or settled.
pub(super) fn graph_event(log: &alloy::rpc::types::Log) -> Option<L1Event> {
    if let Ok(l) = log.log_decode::<ChannelManager::ChannelOpened>() {
        let e = l.inner.data;
        return Some(L1Event::GraphOpened { id: e.id, participants: (e.participant1, e.participant2) });
    }
    let id = if let Ok(l) = log.log_decode::<ChannelManager::ChannelClosed>() {
        l.inner.data.id
    } else if let Ok(l) = log.log_decode::<ChannelManager::ChannelSettled>() {
        l.inner.data.id
    } else if let Ok(l) = log.log_decode::<ChannelManager::ChannelCooperativeSettled>() {
        l.inner.data.id
    } else {
        return None;
    };
    Some(L1Event::GraphClosed { id })
}

pub(super) async fn watch_l1(config: NodeConfig, mut cursor: u64, events: mpsc::UnboundedSender<Event>) {
    let Ok(url) = config.l1_url.parse() else {
        tracing::error!(url = %config.l1_url, "bad L1 URL");
        return;
    };
    let provider = ProviderBuilder::new().connect_http(url);
    let us = config.key.address();
    // The gossip graph is not stored: it is rebuilt from the logs before the cursor.
    if cursor > config.deployment.deploy_block {
        let filter = Filter::new()
            .address(config.deployment.channel_manager)
            .event_signature(vec![
                ChannelManager::ChannelOpened::SIGNATURE_HASH,
                ChannelManager::ChannelClosed::SIGNATURE_HASH,
                ChannelManager::ChannelSettled::SIGNATURE_HASH,
                ChannelManager::ChannelCooperativeSettled::SIGNATURE_HASH,
            ])
            .from_block(config.deployment.deploy_block + 1)
            .to_block(cursor);
        loop {
            match provider.get_logs(&filter).await {
                Ok(logs) => {
                    for ev in logs.iter().filter_map(graph_event) {
                        if events.send(Event::L1(ev)).is_err() {
                            return;
                        }
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "L1 logs (rebuilding the channel graph)");
                    tokio::time::sleep(config.l1_poll).await;
                }
            }
        }
    }
    loop {
        let head = match provider.get_block_number().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "L1 head");
                tokio::time::sleep(config.l1_poll).await;
                continue;
            }
        };
        if events.send(Event::L1(L1Event::Head(head))).is_err() {
            return;
        }
        // Logs are read up to the confirmed block only; the head itself drives the timers.
        let confirmed = head.saturating_sub(config.l1_confirmations);
        if confirmed > cursor {
            let filter = Filter::new()
                .address(vec![config.deployment.channel_manager, config.deployment.secret_registry])
                .from_block(cursor + 1)
                .to_block(confirmed);
            match provider.get_logs(&filter).await {
                Ok(logs) => {
                    for log in logs {
                        if let Some(ev) = graph_event(&log)
                            && events.send(Event::L1(ev)).is_err()
                        {
                            return;
                        }
                        let block = log.block_number.unwrap_or(confirmed);
                        let Some(topic) = log.topic0() else { continue };
                        let ev = if *topic == ChannelManager::ChannelOpened::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelOpened>().ok().and_then(|l| {
                                let e = l.inner.data;
                                let partner = if e.participant1 == us {
                                    e.participant2
                                } else if e.participant2 == us {
                                    e.participant1
                                } else {
                                    return None;
                                };
                                Some(L1Event::Opened {
                                    id: e.id,
                                    partner,
                                    token: e.token,
                                    settle_timeout: e.settleTimeout,
                                })
                            })
                        } else if *topic == ChannelManager::ChannelDeposit::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelDeposit>().ok().and_then(|l| {
                                let e = l.inner.data;
                                Some(L1Event::Deposit {
                                    id: e.id,
                                    participant: e.participant,
                                    total: u128::try_from(e.totalDeposit).ok()?,
                                })
                            })
                        } else if *topic == ChannelManager::ChannelClosed::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelClosed>().ok().map(|l| {
                                let e = l.inner.data;
                                L1Event::Closed {
                                    id: e.id,
                                    closer: e.closer,
                                    block,
                                    values: SideValues {
                                        nonce: e.nonce,
                                        transferred: e.transferredAmount,
                                        locked: e.lockedAmount,
                                        locksroot: e.locksroot,
                                    },
                                }
                            })
                        } else if *topic == ChannelManager::BalanceProofUpdated::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::BalanceProofUpdated>().ok().map(|l| {
                                let e = l.inner.data;
                                L1Event::Updated {
                                    id: e.id,
                                    values: SideValues {
                                        nonce: e.nonce,
                                        transferred: e.transferredAmount,
                                        locked: e.lockedAmount,
                                        locksroot: e.locksroot,
                                    },
                                }
                            })
                        } else if *topic == ChannelManager::ChannelSettled::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelSettled>()
                                .ok()
                                .map(|l| L1Event::Settled { id: l.inner.data.id })
                        } else if *topic == ChannelManager::ChannelCooperativeSettled::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelCooperativeSettled>()
                                .ok()
                                .map(|l| L1Event::Settled { id: l.inner.data.id })
                        } else if *topic == SecretRegistry::SecretRevealed::SIGNATURE_HASH
                            && log.address() == config.deployment.secret_registry
                        {
                            log.log_decode::<SecretRegistry::SecretRevealed>().ok().map(|l| {
                                let e = l.inner.data;
                                L1Event::SecretRevealed { secrethash: e.secrethash, secret: e.secret, block }
                            })
                        } else {
                            None
                        };
                        // Events of channels that are not ours are dropped by the core (it
                        // knows its channels, including those from before a restart).
                        if let Some(ev) = ev
                            && events.send(Event::L1(ev)).is_err()
                        {
                            return;
                        }
                    }
                    cursor = confirmed;
                    if events.send(Event::L1(L1Event::Cursor(cursor))).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "L1 logs"),
            }
        }
        tokio::time::sleep(config.l1_poll).await;
    }
}

impl Core {
    /// Sends an L1 transaction from a task; its outcome comes back as `L1Done`.
    pub(super) fn send_l1<F, Fut>(&mut self, channel: u64, what: &'static str, call: F)
    where
        F: FnOnce(ChannelContracts) -> Fut + Send + 'static,
        Fut: std::future::Future<
                Output = Result<alloy::rpc::types::TransactionReceipt, crate::contracts::ContractError>,
            > + Send,
    {
        if self.l1_busy.insert((channel, what), ()).is_some() {
            return;
        }
        let contracts = ChannelContracts::new(&self.l1, self.deployment);
        let events = self.events.clone();
        tokio::spawn(async move {
            let result = call(contracts)
                .await
                .map(|r| L1Receipt { tx: r.transaction_hash, gas_used: r.gas_used })
                .map_err(|e| e.to_string());
            let _ = events.send(Event::L1Done { channel, what, result });
        });
    }

    pub(super) fn on_l1_done(&mut self, channel: u64, what: &'static str, result: Result<L1Receipt, String>) {
        self.l1_busy.remove(&(channel, what));
        match &result {
            Ok(r) => tracing::info!(channel, what, tx = %r.tx, gas = r.gas_used, "L1 transaction mined"),
            Err(e) => tracing::warn!(channel, what, error = %e, "L1 transaction failed"),
        }
        if what == "cooperativeSettle" {
            self.closes.remove(&channel);
        }
        if what == "closeChannel" && result.is_err() {
            self.claim_failed(channel);
        }
        if let Some(reply) = self.l1_replies.remove(&(channel, what)) {
            let _ = reply.send(result.map_err(NodeError::L1));
        }
    }

    pub(super) fn on_committed(&mut self, c: Committed) {
        self.stats.commits += 1;
        self.stats.batches += c.batches as u64;
        if self.stats.commit_us.len() >= 100_000 {
            self.stats.commit_us.drain(..50_000);
        }
        self.stats.commit_us.push(c.commit_time.as_micros() as u64);
        let mut acks: HashMap<Address, u64> = HashMap::new();
        let mut sends: Vec<Address> = Vec::new();
        while self.pending.front().is_some_and(|(t, _)| *t <= c.token) {
            let (_, releases) = self.pending.pop_front().expect("front exists");
            for r in releases {
                match r {
                    Release::Send(peer, seq) => {
                        if let Some(p) = self.peers.get_mut(&peer) {
                            p.out_committed = p.out_committed.max(seq);
                        }
                        sends.push(peer);
                    }
                    Release::Ack(peer, seq) => {
                        let e = acks.entry(peer).or_default();
                        *e = (*e).max(seq);
                    }
                    Release::Answer(h) => self.answer_payment(h),
                    Release::Tower(id) => {
                        if let (Some(tower), Some(c)) = (&self.tower, self.channels.get(&id))
                            && let Some(proof) = c.theirs.proof
                        {
                            let _ = tower.send(tower::TowerUpdate::Proof {
                                channel: id,
                                partner: c.partner,
                                proof,
                            });
                        }
                    }
                }
            }
        }
        sends.sort();
        sends.dedup();
        for peer in sends {
            self.send_ready(peer);
        }
        for (peer, seq) in acks {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.last_in_committed = p.last_in_committed.max(seq);
                if let Some(c) = p.conn.as_ref() {
                    let _ = c.writer.send(Message::Ack(p.last_in_committed).encode());
                }
            }
        }
    }

    pub(super) fn on_l1(&mut self, e: L1Event) {
        match e {
            L1Event::Opened { id, partner, token, settle_timeout } => {
                if !self.channels.contains_key(&id) {
                    let c = Channel::new(id, token, self.key.address(), partner, settle_timeout);
                    self.writes.push(Write::Channel(id, encode_channel(&c)));
                    self.channels.insert(id, c);
                    let p = self.peers.entry(partner).or_default();
                    p.next_out = p.next_out.max(1);
                }
            }
            L1Event::Deposit { id, participant, total } => {
                if let Some(c) = self.channels.get_mut(&id) {
                    if participant == c.us {
                        c.ours.deposit = c.ours.deposit.max(total);
                    } else if participant == c.partner {
                        c.theirs.deposit = c.theirs.deposit.max(total);
                    }
                    self.writes.push(Write::Channel(id, encode_channel(c)));
                }
            }
            L1Event::Closed { id, closer, block, values } => {
                let Some(c) = self.channels.get_mut(&id) else { return };
                let settle_block = block + c.settle_timeout;
                c.status = ChannelStatus::Closed { closer, settle_block };
                let record =
                    OnChain { closer, settle_block, non_closer: values, closer_side: SideValues::default() };
                self.writes.push(Write::Meta(format!("onchain/{id}"), record.encode()));
                self.onchain.insert(id, record);
                self.persist_channel(id);
                self.closes.remove(&id);
                if let Some(reply) = self.l1_replies.remove(&(id, "cooperativeSettle")) {
                    let _ =
                        reply.send(Err(NodeError::L1("the partner closed the channel unilaterally".into())));
                }
                self.maybe_update(id);
            }
            L1Event::Updated { id, values } => {
                if let Some(record) = self.onchain.get_mut(&id) {
                    record.closer_side = values;
                    let bytes = record.encode();
                    self.writes.push(Write::Meta(format!("onchain/{id}"), bytes));
                }
            }
            L1Event::Settled { id } => {
                self.unlock_settled(id);
                if let Some(c) = self.channels.get_mut(&id) {
                    c.status = ChannelStatus::Settled;
                    self.writes.push(Write::Channel(id, encode_channel(c)));
                    if let Some(tower) = &self.tower {
                        let _ = tower.send(tower::TowerUpdate::Forget(id));
                    }
                }
                self.closes.remove(&id);
            }
            L1Event::Head(head) => {
                self.head = head;
                self.on_head();
                self.announce();
            }
            L1Event::GraphOpened { id, participants: (a, b) } => self.graph_opened(id, a, b),
            L1Event::GraphClosed { id } => self.graph_closed(id),
            L1Event::SecretRevealed { secrethash, secret, block } => {
                self.on_secret_revealed(secrethash, secret, block)
            }
            L1Event::Cursor(block) => {
                self.l1_cursor = block;
                self.writes.push(Write::Meta("l1Cursor".into(), block.to_be_bytes().to_vec()))
            }
        }
    }

    /// When the partner closed, submit its newest proof we hold if the chain has an older one
    /// (the closer's own payments to us are only on chain through our update).
    pub(super) fn maybe_update(&mut self, id: u64) {
        let (Some(c), Some(record)) = (self.channels.get(&id), self.onchain.get(&id)) else { return };
        if record.closer != c.partner {
            return;
        }
        let Some(proof) = c.theirs.proof.filter(|p| p.proof.nonce > record.closer_side.nonce) else { return };
        let ChannelStatus::Closed { settle_block, .. } = c.status else { return };
        if self.head > settle_block {
            return;
        }
        let us = c.us;
        self.send_l1(id, "updateNonClosingBalanceProof", move |l1| async move {
            l1.update_non_closing(id, us, &proof, None).await
        });
    }

    /// Timers on the L1 head: expired cooperative closes reopen; settle periods that ended are
    /// settled (by whichever side is first; the other's transaction fails harmlessly).
    pub(super) fn on_head(&mut self) {
        self.retry_deferred();
        self.lock_timers();
        self.redial();
        let head = self.head;
        let expired: Vec<u64> = self
            .channels
            .values()
            .filter(|c| matches!(c.status, ChannelStatus::Closing { expiration } if head > expiration))
            .map(|c| c.id)
            .collect();
        for id in expired {
            if let Some(c) = self.channels.get_mut(&id) {
                c.status = ChannelStatus::Opened;
            }
            self.persist_channel(id);
            self.closes.remove(&id);
            if let Some(reply) = self.l1_replies.remove(&(id, "cooperativeSettle")) {
                let _ = reply.send(Err(NodeError::L1("cooperative close expired unmined".into())));
            }
        }
        let due: Vec<(u64, OnChain, Address, Address)> = self
            .channels
            .values()
            .filter_map(|c| match c.status {
                ChannelStatus::Closed { settle_block, .. } if head > settle_block => {
                    self.onchain.get(&c.id).map(|r| (c.id, *r, c.us, c.partner))
                }
                _ => None,
            })
            .collect();
        for (id, record, us, partner) in due {
            let non_closer = if record.closer == us { partner } else { us };
            let data = |who: Address, v: &SideValues| ChannelManager::SettleData {
                participant: who,
                transferredAmount: v.transferred,
                lockedAmount: v.locked,
                locksroot: v.locksroot,
            };
            let a = data(record.closer, &record.closer_side);
            let b = data(non_closer, &record.non_closer);
            self.send_l1(id, "settleChannel", move |l1| async move { l1.settle(id, a, b).await });
        }
    }
}
