//! Mediated payments' amounts and expirations (docs/channels.md §4.3): computed from the target
//! backwards, each mediator adding its fee (`fee_flat + amount · fee_ppm / 10^6`, BOLT #7's
//! base plus proportional fee) and its expiry delta, so locks shrink in amount and expiration
//! hop by hop towards the target, and every mediator has at least its delta to learn the
//! secret downstream and claim upstream.

use alloy_primitives::Address;

use crate::wire::Hop;

/// What a node charges to forward a payment out of its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeePolicy {
    /// Flat fee per forwarded payment.
    pub fee_flat: u128,
    /// Proportional fee in millionths of the forwarded amount.
    pub fee_ppm: u32,
    /// Blocks between the incoming and the outgoing lock's expiration.
    pub expiry_delta: u64,
}

impl FeePolicy {
    /// The fee to forward `amount`; `None` on overflow.
    pub fn fee(&self, amount: u128) -> Option<u128> {
        let proportional = amount.checked_mul(u128::from(self.fee_ppm))? / 1_000_000;
        self.fee_flat.checked_add(proportional)
    }
}

/// One node of a route after the payer: a mediator with its fee policy, or the target (its
/// policy unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteHop {
    /// The node.
    pub node: Address,
    /// Its fees and expiry delta.
    pub policy: FeePolicy,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The route has no target.
    #[error("empty route")]
    Empty,
    /// An amount or expiration does not fit its type.
    #[error("amounts or expirations overflow")]
    Overflow,
    /// The route is longer than a locked transfer can carry.
    #[error("route of {0} hops is too long")]
    TooLong(usize),
}

/// The plan of a payment: the lock on the payer's own channel and the hops after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Amount locked on the first channel (target amount plus every fee).
    pub first_amount: u128,
    /// Expiration of the first lock.
    pub first_expiration: u64,
    /// For every node after the first receiver: what it receives and until when.
    pub hops: Vec<Hop>,
    /// The target's lock expiration.
    pub target_expiration: u64,
}

impl Plan {
    /// Total fees paid to mediators.
    pub fn fees(&self, amount: u128) -> u128 {
        self.first_amount - amount
    }
}

/// Plans paying `amount` to the last node of `route` (the others mediate), with the target's
/// lock expiring `final_delta` blocks after `head`.
pub fn plan(amount: u128, head: u64, final_delta: u64, route: &[RouteHop]) -> Result<Plan, PlanError> {
    let Some((_target, mediators)) = route.split_last() else { return Err(PlanError::Empty) };
    if route.len() > crate::wire::MAX_HOPS {
        return Err(PlanError::TooLong(route.len()));
    }
    let target_expiration = head.checked_add(final_delta).ok_or(PlanError::Overflow)?;
    // Walk from the target back: what each node receives.
    let mut received = vec![(amount, target_expiration)];
    let (mut a, mut e) = (amount, target_expiration);
    for hop in mediators.iter().rev() {
        a = a.checked_add(hop.policy.fee(a).ok_or(PlanError::Overflow)?).ok_or(PlanError::Overflow)?;
        e = e.checked_add(hop.policy.expiry_delta).ok_or(PlanError::Overflow)?;
        received.push((a, e));
    }
    received.reverse(); // received[i] = what route[i] receives
    let hops = route[1..]
        .iter()
        .zip(&received[1..])
        .map(|(hop, (amount, expiration))| Hop { node: hop.node, amount: *amount, expiration: *expiration })
        .collect();
    Ok(Plan { first_amount: received[0].0, first_expiration: received[0].1, hops, target_expiration })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_compound_from_the_target_and_expirations_shrink() {
        let m1 = RouteHop {
            node: Address::repeat_byte(1),
            policy: FeePolicy { fee_flat: 10, fee_ppm: 1_000, expiry_delta: 8 },
        };
        let m2 = RouteHop {
            node: Address::repeat_byte(2),
            policy: FeePolicy { fee_flat: 5, fee_ppm: 0, expiry_delta: 6 },
        };
        let t = RouteHop { node: Address::repeat_byte(3), policy: FeePolicy::default() };
        let p = plan(1_000_000, 100, 8, &[m1, m2, t]).unwrap();
        // M2 forwards 1,000,000 and keeps 5; M1 forwards 1,000,005 and keeps 10 + 1,000.
        assert_eq!(
            p.hops,
            vec![
                Hop { node: m2.node, amount: 1_000_005, expiration: 114 },
                Hop { node: t.node, amount: 1_000_000, expiration: 108 },
            ]
        );
        assert_eq!(p.first_amount, 1_000_005 + 10 + 1_000);
        assert_eq!(p.first_expiration, 122);
        assert_eq!(p.fees(1_000_000), 1_015);
        // A direct neighbour: no fee, no hops.
        let p = plan(7, 100, 8, &[t]).unwrap();
        assert_eq!((p.first_amount, p.first_expiration, p.hops.len()), (7, 108, 0));
        assert_eq!(plan(7, 100, 8, &[]), Err(PlanError::Empty));
        let greedy = RouteHop {
            node: Address::ZERO,
            policy: FeePolicy { fee_flat: u128::MAX, fee_ppm: 0, expiry_delta: 1 },
        };
        assert_eq!(plan(7, 100, 8, &[greedy, t]), Err(PlanError::Overflow));
    }
}
