//! The core's gossip (docs/channels.md §6): announcing our channel directions, checking and
//! flooding the updates of others, and finding routes over the graph they make.
//!
//! The graph's channels come from the L1 watcher (every `ChannelOpened` of the deployment,
//! rebuilt from L1 on start), so an update is only kept for a channel open on L1 between its
//! node and another. An update that arrives before our watcher saw its channel waits (a
//! bounded number of them) until it does.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::Address;
use loft_channels::{
    ChannelStatus,
    gossip::GossipError,
    route::RouteHop,
    wire::{ChannelUpdate, Message},
};

use super::Core;

/// Updates waiting for their channel to appear on L1.
const MAX_WAITING: usize = 1_024;
/// A direction is announced again at least this often, even unchanged.
const REFRESH: Duration = Duration::from_secs(60);

/// What the core keeps for gossip.
#[derive(Default)]
pub(super) struct Gossip {
    pub(super) graph: loft_channels::gossip::Graph,
    /// Our last announcement per channel: capacity, fee policy and when.
    announced: HashMap<u64, (u128, loft_channels::route::FeePolicy, Instant)>,
    /// The last timestamp we signed (strictly increasing).
    clock: u64,
    /// Updates of channels our watcher has not seen yet, with who sent them.
    waiting: VecDeque<(ChannelUpdate, Address)>,
}

impl Core {
    /// Announces each of our open channels' direction whose capacity moved by a tenth or
    /// more (at most once per `gossip_interval`), whose policy changed, or that was not
    /// announced for a while.
    pub(super) fn announce(&mut self) {
        let now = Instant::now();
        let policy = self.mediation.policy;
        let min_interval = self.gossip_interval;
        let mut due = Vec::new();
        for c in self.channels.values().filter(|c| c.status == ChannelStatus::Opened) {
            let capacity = u128::try_from(c.our_distributable()).unwrap_or(u128::MAX);
            let announce = match self.gossip.announced.get(&c.id) {
                None => true,
                Some((last, last_policy, at)) => {
                    let moved = last.abs_diff(capacity).saturating_mul(10) >= *last && *last != capacity;
                    (now.duration_since(*at) >= min_interval && (moved || *last_policy != policy))
                        || now.duration_since(*at) >= REFRESH
                }
            };
            if announce {
                due.push((c.id, capacity));
            }
        }
        for (id, capacity) in due {
            let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            self.gossip.clock = wall.max(self.gossip.clock + 1);
            let update =
                ChannelUpdate::signed(&self.key, &self.domain, id, capacity, policy, self.gossip.clock);
            self.gossip.announced.insert(id, (capacity, policy, now));
            // Ours is kept too: our peers' graphs and ours agree, and it floods on connect.
            if self.gossip.graph.accept(&self.domain, update).is_ok() {
                self.flood(&update, None);
            }
        }
    }

    /// Sends `update` to every connected peer but `except`.
    fn flood(&self, update: &ChannelUpdate, except: Option<Address>) {
        let bytes = Message::ChannelUpdate(*update).encode();
        for (peer, p) in &self.peers {
            if Some(*peer) == except {
                continue;
            }
            if let Some(c) = p.conn.as_ref() {
                let _ = c.writer.send(bytes.clone());
            }
        }
    }

    /// Everything we know, for a peer that just connected.
    pub(super) fn gossip_to(&self, peer: Address) {
        let Some(c) = self.peers.get(&peer).and_then(|p| p.conn.as_ref()) else { return };
        for u in self.gossip.graph.updates() {
            let _ = c.writer.send(Message::ChannelUpdate(*u).encode());
        }
    }

    /// A peer's update: kept and flooded on if it is valid and new.
    pub(super) fn receive_update(&mut self, from: Address, update: ChannelUpdate) {
        tracing::trace!(%from, channel = update.channel_id, node = %update.node, capacity = update.capacity, "gossip update");
        match self.gossip.graph.accept(&self.domain, update) {
            Ok(()) => self.flood(&update, Some(from)),
            Err(GossipError::UnknownChannel(_)) => {
                if self.gossip.waiting.len() >= MAX_WAITING {
                    self.gossip.waiting.pop_front();
                }
                self.gossip.waiting.push_back((update, from));
            }
            Err(GossipError::Stale { .. }) => {}
            Err(e) => tracing::debug!(%from, error = %e, "gossip update refused"),
        }
    }

    /// A channel opened on L1 (ours or not).
    pub(super) fn graph_opened(&mut self, id: u64, participant1: Address, participant2: Address) {
        self.gossip.graph.add_channel(id, participant1, participant2);
        let (ready, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.gossip.waiting).into_iter().partition(|(u, _)| u.channel_id == id);
        self.gossip.waiting = rest.into();
        for (update, from) in ready {
            self.receive_update(from, update);
        }
    }

    /// A channel closed or settled: no longer routable.
    pub(super) fn graph_closed(&mut self, id: u64) {
        self.gossip.graph.remove_channel(id);
        self.gossip.announced.remove(&id);
    }

    /// The cheapest route to `to` for `amount` avoiding `exclude`, over our open channels'
    /// exact capacities and the graph.
    pub(super) fn find_route(
        &self,
        to: Address,
        amount: u128,
        exclude: &HashSet<u64>,
    ) -> Option<Vec<RouteHop>> {
        let local: HashMap<u64, u128> = self
            .channels
            .values()
            .filter(|c| c.status == ChannelStatus::Opened)
            .map(|c| (c.id, u128::try_from(c.our_distributable()).unwrap_or(u128::MAX)))
            .collect();
        self.gossip.graph.find_route(self.key.address(), to, amount, exclude, &local)
    }
}
