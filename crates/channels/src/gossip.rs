//! The channel graph learnt by gossip (docs/channels.md §6), and routing over it.
//!
//! Each node signs one [`ChannelUpdate`] per channel direction it owns (what it can send,
//! what it charges to forward out of it); peers check and flood them. A [`Graph`] keeps the
//! channels seen opened on L1 and the newest update of each direction, and finds the route
//! of lowest total fee with enough capacity: Dijkstra from the target backwards, where a
//! node's weight is what it must receive, so fees compound exactly as the payment planner
//! ([`crate::route::plan`]) charges them.

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use alloy_primitives::{Address, B256, U256};

use crate::{
    ChannelDomain, Signature65, SignatureError, SigningKey,
    eip712::typed,
    route::{FeePolicy, RouteHop},
    wire::{ChannelUpdate, MAX_HOPS},
};

impl ChannelUpdate {
    /// The EIP-712 digest its owner signs.
    pub fn digest(&self, domain: &ChannelDomain) -> B256 {
        domain.digest(&typed::ChannelUpdate {
            channelId: self.channel_id,
            node: self.node,
            capacity: U256::from(self.capacity),
            feeFlat: U256::from(self.fee_flat),
            feePpm: self.fee_ppm,
            expiryDelta: self.expiry_delta,
            timestamp: self.timestamp,
        })
    }

    /// The update of `key`'s direction of `channel_id`, signed.
    pub fn signed(
        key: &SigningKey,
        domain: &ChannelDomain,
        channel_id: u64,
        capacity: u128,
        policy: FeePolicy,
        timestamp: u64,
    ) -> Self {
        let mut u = Self {
            channel_id,
            node: key.address(),
            capacity,
            fee_flat: policy.fee_flat,
            fee_ppm: policy.fee_ppm,
            expiry_delta: u16::try_from(policy.expiry_delta).unwrap_or(u16::MAX),
            timestamp,
            signature: Signature65([0; 65]),
        };
        u.signature = key.sign_digest(&u.digest(domain));
        u
    }

    /// The fees and expiry delta it announces.
    pub fn policy(&self) -> FeePolicy {
        FeePolicy {
            fee_flat: self.fee_flat,
            fee_ppm: self.fee_ppm,
            expiry_delta: u64::from(self.expiry_delta),
        }
    }
}

/// Why an update was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// The signature is malformed or not the named node's.
    #[error("update not signed by its node: {0}")]
    Signature(String),
    /// The channel is not (yet) known open on L1.
    #[error("channel {0} is not known open on L1")]
    UnknownChannel(u64),
    /// The node is not a participant of the channel.
    #[error("{node} is not a participant of channel {channel}")]
    NotParticipant {
        /// The channel.
        channel: u64,
        /// The node the update names.
        node: Address,
    },
    /// Not newer than the update kept.
    #[error("stale update (timestamp {got}, have {have})")]
    Stale {
        /// Its timestamp.
        got: u64,
        /// The kept one's.
        have: u64,
    },
}

/// The channels and their announced directions.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Open channels on L1: id => participants.
    channels: BTreeMap<u64, (Address, Address)>,
    /// The newest update per (channel, owner).
    updates: HashMap<(u64, Address), ChannelUpdate>,
}

/// A node's weight in the search: what it must receive, then hops, then the path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    receive: u128,
    hops: usize,
    node: Address,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: the smallest amount first, then the fewest hops.
        other.receive.cmp(&self.receive).then(other.hops.cmp(&self.hops)).then(self.node.cmp(&other.node))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Graph {
    /// Records a channel seen opened on L1.
    pub fn add_channel(&mut self, id: u64, participant1: Address, participant2: Address) {
        self.channels.insert(id, (participant1, participant2));
    }

    /// Forgets a channel that closed or settled.
    pub fn remove_channel(&mut self, id: u64) {
        if let Some((a, b)) = self.channels.remove(&id) {
            self.updates.remove(&(id, a));
            self.updates.remove(&(id, b));
        }
    }

    /// Whether `id` is known open.
    pub fn has_channel(&self, id: u64) -> bool {
        self.channels.contains_key(&id)
    }

    /// Checks `update` and keeps it if it is newer than the one kept.
    pub fn accept(&mut self, domain: &ChannelDomain, update: ChannelUpdate) -> Result<(), GossipError> {
        let signer = update
            .signature
            .recover(&update.digest(domain))
            .map_err(|e: SignatureError| GossipError::Signature(e.to_string()))?;
        if signer != update.node {
            return Err(GossipError::Signature(format!("signed by {signer}")));
        }
        let (a, b) =
            *self.channels.get(&update.channel_id).ok_or(GossipError::UnknownChannel(update.channel_id))?;
        if update.node != a && update.node != b {
            return Err(GossipError::NotParticipant { channel: update.channel_id, node: update.node });
        }
        let key = (update.channel_id, update.node);
        if let Some(have) = self.updates.get(&key)
            && have.timestamp >= update.timestamp
        {
            return Err(GossipError::Stale { got: update.timestamp, have: have.timestamp });
        }
        self.updates.insert(key, update);
        Ok(())
    }

    /// Every update kept (to fill a new peer).
    pub fn updates(&self) -> impl Iterator<Item = &ChannelUpdate> {
        self.updates.values()
    }

    /// The route of lowest total fee from `source` to `target` for `amount`: the nodes after
    /// `source` with their announced policies, the target last. Channels in `exclude` are not
    /// used; `local` gives `source`'s own channels' exact capacities (its partners do not
    /// announce what `source` can send).
    pub fn find_route(
        &self,
        source: Address,
        target: Address,
        amount: u128,
        exclude: &HashSet<u64>,
        local: &HashMap<u64, u128>,
    ) -> Option<Vec<RouteHop>> {
        // Edges into each node v: (u, channel, u's update or None for our own).
        let mut into: HashMap<Address, Vec<(Address, u64)>> = HashMap::new();
        for (&id, &(a, b)) in &self.channels {
            if exclude.contains(&id) {
                continue;
            }
            into.entry(b).or_default().push((a, id));
            into.entry(a).or_default().push((b, id));
        }
        // best[v] = (what v must receive, hops to the target, next node, channel to it)
        let mut best: HashMap<Address, (u128, usize, Address, u64)> = HashMap::new();
        best.insert(target, (amount, 0, target, 0));
        let mut heap = BinaryHeap::from([Candidate { receive: amount, hops: 0, node: target }]);
        let mut done: HashSet<Address> = HashSet::new();
        while let Some(Candidate { receive, hops, node: v }) = heap.pop() {
            if !done.insert(v) || v == source {
                continue;
            }
            if hops >= MAX_HOPS {
                continue;
            }
            for &(u, id) in into.get(&v).map(Vec::as_slice).unwrap_or_default() {
                if done.contains(&u) {
                    continue;
                }
                // u pays v `receive` on channel id.
                let (capacity, fee) = if u == source {
                    match local.get(&id) {
                        Some(c) => (*c, 0),
                        None => continue,
                    }
                } else {
                    let Some(up) = self.updates.get(&(id, u)) else { continue };
                    // A mediator forwarding to the target or another mediator charges its fee.
                    let Some(fee) = up.policy().fee(receive) else { continue };
                    (up.capacity, fee)
                };
                if capacity < receive {
                    continue;
                }
                let Some(need) = receive.checked_add(fee) else { continue };
                let better = best.get(&u).is_none_or(|(b, h, _, _)| (need, hops + 1) < (*b, *h));
                if better {
                    best.insert(u, (need, hops + 1, v, id));
                    heap.push(Candidate { receive: need, hops: hops + 1, node: u });
                }
            }
        }
        // Walk from the source along the next pointers.
        let mut route = Vec::new();
        let mut at = source;
        while at != target {
            let &(_, _, next, id) = best.get(&at)?;
            if route.len() > MAX_HOPS {
                return None;
            }
            // The policy that matters for `next` is the one it announced for its own outgoing
            // channel; filled in below once `next`'s outgoing channel is known.
            route.push((next, id));
            at = next;
        }
        let hops = route
            .iter()
            .enumerate()
            .map(|(i, &(node, _))| {
                let policy = route
                    .get(i + 1)
                    .and_then(|&(_, out)| self.updates.get(&(out, node)))
                    .map(ChannelUpdate::policy)
                    .unwrap_or_default();
                RouteHop { node, policy }
            })
            .collect::<Vec<_>>();
        (!hops.is_empty()).then_some(hops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32]).unwrap()
    }

    fn policy(flat: u128, ppm: u32) -> FeePolicy {
        FeePolicy { fee_flat: flat, fee_ppm: ppm, expiry_delta: 10 }
    }

    #[test]
    fn updates_are_checked_and_only_newer_ones_kept() {
        let domain = ChannelDomain::new(1, Address::repeat_byte(9));
        let (a, b, c) = (key(1), key(2), key(3));
        let mut g = Graph::default();
        let u = ChannelUpdate::signed(&a, &domain, 1, 100, policy(1, 0), 5);
        assert_eq!(g.accept(&domain, u), Err(GossipError::UnknownChannel(1)));
        g.add_channel(1, a.address(), b.address());
        assert_eq!(g.accept(&domain, u), Ok(()));
        assert!(matches!(g.accept(&domain, u), Err(GossipError::Stale { .. })));
        let mut forged = ChannelUpdate::signed(&a, &domain, 1, 100, policy(1, 0), 6);
        forged.capacity = 1_000_000;
        assert!(matches!(g.accept(&domain, forged), Err(GossipError::Signature(_))));
        let outsider = ChannelUpdate::signed(&c, &domain, 1, 100, policy(1, 0), 6);
        assert!(matches!(g.accept(&domain, outsider), Err(GossipError::NotParticipant { .. })));
        let other_domain = ChannelDomain::new(2, Address::repeat_byte(9));
        let replayed = ChannelUpdate::signed(&a, &other_domain, 1, 100, policy(1, 0), 7);
        assert!(matches!(g.accept(&domain, replayed), Err(GossipError::Signature(_))));
        g.remove_channel(1);
        assert_eq!(g.updates().count(), 0);
    }

    #[test]
    fn the_cheapest_route_with_capacity_wins_and_exclusions_reroute() {
        // S - M1 - T (M1 cheap but small), S - M2 - T (dear), S - M3 - M4 - T (cheap, long).
        let domain = ChannelDomain::new(1, Address::repeat_byte(9));
        let (s, m1, m2, m3, m4, t) = (key(1), key(2), key(3), key(4), key(5), key(6));
        let mut g = Graph::default();
        let channels = [
            (1, &s, &m1),
            (2, &m1, &t),
            (3, &s, &m2),
            (4, &m2, &t),
            (5, &s, &m3),
            (6, &m3, &m4),
            (7, &m4, &t),
        ];
        for (id, x, y) in channels {
            g.add_channel(id, x.address(), y.address());
        }
        let up = |k: &SigningKey, id, cap, p| ChannelUpdate::signed(k, &domain, id, cap, p, 1);
        for u in [
            up(&m1, 2, 50, policy(1, 0)),
            up(&m2, 4, 1_000, policy(100, 0)),
            up(&m3, 6, 1_000, policy(5, 0)),
            up(&m4, 7, 1_000, policy(5, 0)),
        ] {
            g.accept(&domain, u).unwrap();
        }
        let local = HashMap::from([(1, 1_000), (3, 1_000), (5, 1_000)]);
        let none = HashSet::new();
        // Small amounts go through M1 (fee 1).
        let r = g.find_route(s.address(), t.address(), 40, &none, &local).unwrap();
        assert_eq!(r.iter().map(|h| h.node).collect::<Vec<_>>(), vec![m1.address(), t.address()]);
        assert_eq!(r[0].policy.fee_flat, 1);
        // Above M1's capacity: M3-M4 (fees 10) beats M2 (fee 100).
        let r = g.find_route(s.address(), t.address(), 60, &none, &local).unwrap();
        assert_eq!(
            r.iter().map(|h| h.node).collect::<Vec<_>>(),
            vec![m3.address(), m4.address(), t.address()]
        );
        let plan = crate::route::plan(60, 0, 5, &r).unwrap();
        assert_eq!(plan.fees(60), 10);
        // M3-M4 failed: excluded, M2 it is.
        let r = g.find_route(s.address(), t.address(), 60, &HashSet::from([6]), &local).unwrap();
        assert_eq!(r.iter().map(|h| h.node).collect::<Vec<_>>(), vec![m2.address(), t.address()]);
        // Our own channel's capacity counts: without it, nothing.
        assert_eq!(g.find_route(s.address(), t.address(), 60, &none, &HashMap::new()), None);
        assert_eq!(g.find_route(s.address(), t.address(), 5_000, &none, &local), None);
        // A direct partner is a one-hop route.
        let r = g.find_route(s.address(), m1.address(), 10, &none, &local).unwrap();
        assert_eq!(r.len(), 1);
    }
}
