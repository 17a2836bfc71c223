//! The settle arithmetic of `ChannelManager.settleAmounts`, mirrored so a node knows what a
//! unilateral settlement will pay (docs/channels.md §2.4, after Raiden's
//! `getSettleTransferAmounts`). It takes each side's deposit and the transferred and locked
//! amounts of the proof of that side that was submitted (possibly old, or zero when none);
//! it never fails and always pays out exactly the deposits.

use alloy_primitives::U256;

/// What settlement pays: to each side now, and kept for each side's pending locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleAmounts {
    /// Paid to participant 1 at settlement.
    pub amount1: U256,
    /// Paid to participant 2 at settlement.
    pub amount2: U256,
    /// Kept for participant 1's pending locks (unlocked later).
    pub locked1: U256,
    /// Kept for participant 2's pending locks.
    pub locked2: U256,
}

/// `ChannelManager.settleAmounts(d1, d2, t1, l1, t2, l2)`. Deposits are below 2^128 (the
/// contract's cap), so their sum does not overflow.
pub fn settle_amounts(d1: U256, d2: U256, t1: U256, l1: U256, t2: U256, l2: U256) -> SettleAmounts {
    let m1 = t1.saturating_add(l1);
    let m2 = t2.saturating_add(l2);
    if m1 <= m2 {
        ordered(d1, d2, l1, l2, m2 - m1)
    } else {
        let s = ordered(d2, d1, l2, l1, m1 - m2);
        SettleAmounts { amount1: s.amount2, amount2: s.amount1, locked1: s.locked2, locked2: s.locked1 }
    }
}

fn ordered(d1: U256, d2: U256, l1: U256, l2: U256, diff: U256) -> SettleAmounts {
    let total = d1 + d2;
    let r1 = diff.saturating_add(d1).min(total);
    let r2 = total - r1;
    let locked2 = r1.min(l2);
    let locked1 = r2.min(l1);
    SettleAmounts { amount1: r1 - locked2, amount2: r2 - locked1, locked1, locked2 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn u(x: u128) -> U256 {
        U256::from(x)
    }

    #[test]
    fn latest_proofs_pay_deposit_minus_sent_plus_received() {
        let s = settle_amounts(u(10), u(20), u(3), u(2), u(7), u(1));
        assert_eq!(s, SettleAmounts { amount1: u(12), amount2: u(15), locked1: u(2), locked2: u(1) });
    }

    /// One honest history: each side alternately pays or locks amounts within its capacity.
    fn history() -> impl Strategy<Value = (u128, u128, Vec<(bool, u128)>)> {
        (1u128..1 << 64, 1u128..1 << 64, prop::collection::vec((any::<bool>(), 0u128..1 << 62), 0..40))
    }

    proptest! {
        #[test]
        fn any_values_conserve_the_deposits(
            d1 in 0u128..=u128::MAX, d2 in 0u128..=u128::MAX,
            t1 in any::<[u64; 4]>(), l1 in any::<[u64; 4]>(),
            t2 in any::<[u64; 4]>(), l2 in any::<[u64; 4]>(),
        ) {
            let (t1, l1, t2, l2) = (U256::from_limbs(t1), U256::from_limbs(l1), U256::from_limbs(t2), U256::from_limbs(l2));
            let s = settle_amounts(u(d1), u(d2), t1, l1, t2, l2);
            prop_assert_eq!(s.amount1 + s.amount2 + s.locked1 + s.locked2, u(d1) + u(d2));
            prop_assert!(s.locked1 <= l1 && s.locked2 <= l2);
        }

        /// With any older proof of its partner submitted, a side never gets more than with the
        /// partner's newest, and with the newest proofs it gets exactly its balance.
        #[test]
        fn older_partner_proofs_never_help((d1, d2, steps) in history(), pick in any::<prop::sample::Index>()) {
            // Transferred totals over time, per side; only direct payments within capacity.
            let (mut t1, mut t2) = (0u128, 0u128);
            let mut t2_history = vec![0u128];
            for (by_one, amount) in steps {
                if by_one {
                    let cap = d1 + t2 - t1;
                    t1 += amount.min(cap);
                } else {
                    let cap = d2 + t1 - t2;
                    t2 += amount.min(cap);
                    t2_history.push(t2);
                }
            }
            let newest = settle_amounts(u(d1), u(d2), u(t1), U256::ZERO, u(t2), U256::ZERO);
            prop_assert_eq!(newest.amount1, u(d1 + t2 - t1));
            prop_assert_eq!(newest.amount2, u(d2 + t1 - t2));
            let old_t2 = t2_history[pick.index(t2_history.len())];
            let stale = settle_amounts(u(d1), u(d2), u(t1), U256::ZERO, u(old_t2), U256::ZERO);
            prop_assert!(stale.amount1 <= newest.amount1);
        }
    }
}
