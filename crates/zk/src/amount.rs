//! Packed amounts of the public data: `mantissa · 10^exponent`, so that a transfer's amount
//! fits in 5 bytes and its fee in 2 (zkSync Lite's packing).
//!
//! An amount is packable when it is exactly representable; `pack` finds the smallest exponent
//! (so every packable amount has one encoding), and the circuit range-checks the mantissa and
//! exponent bits and recomputes the value from them, so a packed amount always means one
//! integer. Wallets round a fee up (and an amount down) to a packable value.

/// Bits of a transfer amount's mantissa.
pub const AMOUNT_MANTISSA_BITS: u32 = 35;
/// Bits of a transfer amount's exponent.
pub const AMOUNT_EXPONENT_BITS: u32 = 5;
/// Bits of a fee's mantissa.
pub const FEE_MANTISSA_BITS: u32 = 11;
/// Bits of a fee's exponent.
pub const FEE_EXPONENT_BITS: u32 = 5;

/// A packing: how many bits of mantissa and exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packing {
    /// Mantissa bits.
    pub mantissa_bits: u32,
    /// Exponent bits (base 10).
    pub exponent_bits: u32,
}

/// Transfer amounts: 40 bits, 5 bytes.
pub const AMOUNT: Packing =
    Packing { mantissa_bits: AMOUNT_MANTISSA_BITS, exponent_bits: AMOUNT_EXPONENT_BITS };
/// Fees: 16 bits, 2 bytes.
pub const FEE: Packing = Packing { mantissa_bits: FEE_MANTISSA_BITS, exponent_bits: FEE_EXPONENT_BITS };

impl Packing {
    /// Bits of a packed value (exponent in the low bits, mantissa above).
    pub fn bits(&self) -> u32 {
        self.mantissa_bits + self.exponent_bits
    }

    /// The packed form of `amount`, if it is exactly representable.
    pub fn pack(&self, amount: u128) -> Option<u64> {
        let max_mantissa = (1u128 << self.mantissa_bits) - 1;
        let max_exponent = (1u32 << self.exponent_bits) - 1;
        let mut mantissa = amount;
        let mut exponent = 0u32;
        while mantissa > max_mantissa {
            if !mantissa.is_multiple_of(10) || exponent == max_exponent {
                return None;
            }
            mantissa /= 10;
            exponent += 1;
        }
        Some(((mantissa as u64) << self.exponent_bits) | exponent as u64)
    }

    /// The amount a packed value means (`None` past 2^128, and for any encoding but
    /// [`Packing::pack`]'s: a non-zero exponent with a mantissa that times 10 still fits).
    pub fn unpack(&self, packed: u64) -> Option<u128> {
        let exponent = (packed & ((1 << self.exponent_bits) - 1)) as u32;
        let mantissa = (packed >> self.exponent_bits) as u128;
        if packed >> self.bits() != 0 {
            return None;
        }
        let max_mantissa = (1u128 << self.mantissa_bits) - 1;
        if exponent != 0 && mantissa * 10 <= max_mantissa {
            return None;
        }
        10u128.checked_pow(exponent).and_then(|p| p.checked_mul(mantissa))
    }

    /// The largest packable amount not above `amount` (amounts are rounded down).
    pub fn round_down(&self, amount: u128) -> u128 {
        let max_mantissa = (1u128 << self.mantissa_bits) - 1;
        let mut scale = 1u128;
        let mut m = amount;
        while m > max_mantissa {
            m /= 10;
            scale *= 10;
        }
        m * scale
    }

    /// The smallest packable amount not below `amount` (fees are rounded up).
    pub fn round_up(&self, amount: u128) -> Option<u128> {
        let down = self.round_down(amount);
        if down == amount {
            return Some(amount);
        }
        let max_mantissa = (1u128 << self.mantissa_bits) - 1;
        let mut scale = 1u128;
        let mut m = amount;
        while m > max_mantissa {
            m /= 10;
            scale *= 10;
        }
        let up = (m + 1).checked_mul(scale)?;
        if self.pack(up).is_some() { Some(up) } else { self.round_up(up) }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn examples() {
        assert_eq!(
            AMOUNT.unpack(AMOUNT.pack(1_000_000_000_000_000_000).expect("1 ETH")),
            Some(10u128.pow(18))
        );
        assert_eq!(FEE.pack(2047), Some(2047 << 5));
        assert_eq!(FEE.pack(2049), None, "2049 needs a 12-bit mantissa");
        assert_eq!(FEE.pack(20_470), Some((2047 << 5) | 1));
        assert_eq!(
            FEE.unpack(FEE.pack(21_000_000_000_000).expect("21,000 gas at 1 gwei")),
            Some(21_000_000_000_000)
        );
        assert_eq!(FEE.round_up(2049), Some(2050));
        assert_eq!(AMOUNT.pack(0), Some(0));
        // 10 has one encoding, 10·10^0: 1·10^1 (and 0·10^3) mean nothing
        assert_eq!(FEE.unpack(10 << 5), Some(10));
        assert_eq!(FEE.unpack((1 << 5) | 1), None);
        assert_eq!(FEE.unpack(3), None);
        assert_eq!(AMOUNT.unpack((1 << 5) | 31), None, "exponent 31 with a small mantissa");
    }

    proptest! {
        #[test]
        fn pack_unpack_round_trip(m in 0u64..(1 << 35), e in 0u32..20) {
            let amount = m as u128 * 10u128.pow(e);
            let packed = AMOUNT.pack(amount).expect("representable");
            prop_assert_eq!(AMOUNT.unpack(packed), Some(amount));
            prop_assert!(packed < 1 << 40);
        }

        #[test]
        fn every_packed_value_has_one_meaning_and_one_encoding(packed in 0u64..(1 << 16)) {
            if let Some(fee) = FEE.unpack(packed) {
                prop_assert_eq!(FEE.pack(fee), Some(packed));
            }
        }

        #[test]
        fn rounding_brackets_the_amount(amount in 0u128..(1u128 << 100)) {
            let down = AMOUNT.round_down(amount);
            prop_assert!(down <= amount && AMOUNT.pack(down).is_some());
            let up = FEE.round_up(amount % 1_000_000).expect("small fees round up");
            prop_assert!(up >= amount % 1_000_000 && FEE.pack(up).is_some());
        }
    }
}
