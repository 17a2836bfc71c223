//! The L1 data fee of a rollup transaction: what posting its bytes to L1 is expected to
//! cost, charged on top of the L2 gas fee and paid to a vault that funds the batcher.
//!
//! loft uses the OP Stack's Fjord formula, so wallets that know it estimate correctly: the
//! transaction's size after compression is estimated from its FastLZ-compressed length
//! (a linear fit measured by Optimism on mainnet transactions against brotli batches), then
//! priced at the L1 origin's base fee and blob base fee, each weighted by a scalar:
//!
//! ```text
//! size_scaled = max(100e6, -42_585_600 + 836_500 * fastlz_len(tx))     (bytes × 1e6)
//! fee_scaled  = 16 * base_fee_scalar * l1_base_fee + blob_base_fee_scalar * l1_blob_base_fee
//! l1_fee      = size_scaled * fee_scaled / 1e12
//! ```
//!
//! The scalars are in millionths: `base_fee_scalar = 1_000_000` charges the full calldata
//! price of the estimated compressed size.

use alloy_primitives::{Address, U256};

/// The minimum estimated size, in bytes × 1e6.
const MIN_SIZE_SCALED: i128 = 100_000_000;
/// The fit's intercept, in bytes × 1e6.
const FASTLZ_INTERCEPT: i128 = -42_585_600;
/// The fit's slope, × 1e6.
const FASTLZ_COEF: i128 = 836_500;

/// The chain's L1 fee rule (consensus: every node of the rollup uses the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1FeeConfig {
    /// Weight of the L1 base fee, in millionths.
    pub base_fee_scalar: u64,
    /// Weight of the L1 blob base fee, in millionths.
    pub blob_base_fee_scalar: u64,
    /// Who receives the fees.
    pub vault: Address,
}

/// The L1 prices a block's transactions pay: its L1 origin's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1Prices {
    /// The L1 origin block's base fee.
    pub base_fee: u128,
    /// The L1 origin block's blob base fee.
    pub blob_base_fee: u128,
}

/// Estimated compressed size of a transaction in bytes × 1e6.
pub fn estimated_size_scaled(encoded_tx: &[u8]) -> u128 {
    let flz = i128::from(op_alloy_flz::flz_compress_len(encoded_tx));
    (FASTLZ_INTERCEPT + FASTLZ_COEF * flz).max(MIN_SIZE_SCALED) as u128
}

/// The L1 data fee of a transaction with this EIP-2718 encoding.
pub fn l1_fee(config: &L1FeeConfig, prices: &L1Prices, encoded_tx: &[u8]) -> U256 {
    let fee_scaled = U256::from(16u64) * U256::from(config.base_fee_scalar) * U256::from(prices.base_fee)
        + U256::from(config.blob_base_fee_scalar) * U256::from(prices.blob_base_fee);
    U256::from(estimated_size_scaled(encoded_tx)) * fee_scaled / U256::from(1_000_000_000_000u64)
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn small_transactions_pay_for_at_least_100_bytes() {
        let config =
            L1FeeConfig { base_fee_scalar: 1_000_000, blob_base_fee_scalar: 0, vault: Address::ZERO };
        let prices = L1Prices { base_fee: 1_000_000_000, blob_base_fee: 1 };
        // 100 bytes of calldata at 16 gas each and 1 gwei
        assert_eq!(l1_fee(&config, &prices, &[0u8; 10]), U256::from(100u64 * 16 * 1_000_000_000));
    }

    #[test]
    fn fee_grows_with_incompressible_size_and_prices() {
        let config =
            L1FeeConfig { base_fee_scalar: 1_000_000, blob_base_fee_scalar: 1_000_000, vault: Address::ZERO };
        let noise: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let low = L1Prices { base_fee: 1_000_000_000, blob_base_fee: 1 };
        let high = L1Prices { base_fee: 2_000_000_000, blob_base_fee: 1 };
        let small = l1_fee(&config, &low, &noise[..300]);
        let large = l1_fee(&config, &low, &noise);
        assert!(large > small * U256::from(2u8));
        assert!(l1_fee(&config, &high, &noise) > large);
        // repetitive data compresses, so it pays less than noise of the same length
        assert!(l1_fee(&config, &low, &[7u8; 1000]) < large);
    }
}
