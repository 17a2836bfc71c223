//! When the batcher closes a channel and how it posts it: pure rules, shared by the batcher
//! and by `loft bench rollup`'s simulation of an hour of L1 cost.
//!
//! As the OP Stack's batcher does, a channel collects L2 blocks until its compressed size
//! reaches a target (about one blob) or it has been open for a maximum duration in L1 blocks
//! (counted from the L1 origin of its first block), whichever comes first; then it is posted
//! as calldata or as blobs, whichever costs less at the L1's current prices for the data at
//! hand. An idle chain therefore costs one small transaction per maximum duration instead
//! of one per batcher tick, and the safe head lags the sequencer by at most that duration
//! (plus the time to mine the transaction).

use serde::{Deserialize, Serialize};

use crate::batcher::DataMode;

/// Usable bytes of one blob as the batcher fills it (4096 field elements of 31 bytes, less
/// the blob coder's framing).
pub const BLOB_USABLE_BYTES: usize = 126_000;

/// Blob gas of one blob (EIP-4844).
pub const GAS_PER_BLOB: u64 = 131_072;

/// Execution gas of a transaction with no calldata.
pub const TX_BASE_GAS: u64 = 21_000;

/// How the batcher chooses between calldata and blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataChoice {
    /// Always calldata (an L1 that does not serve blob contents).
    Calldata,
    /// Always blobs.
    Blobs,
    /// Whichever costs less at the current prices, channel by channel.
    Cheaper,
}

/// When a channel is closed and posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelPolicy {
    /// Close once the channel's compressed size reaches this many bytes.
    pub target_bytes: usize,
    /// Close once the L1 head is this many blocks past the L1 origin of the channel's first
    /// L2 block (0: post every block at once). Bounds the safe head's lag; must stay well
    /// below the sequencing window.
    pub max_duration: u64,
    /// Calldata, blobs or the cheaper.
    pub data: DataChoice,
}

impl ChannelPolicy {
    /// The policy of a public network: a blob's worth of data, or 25 L1 blocks (5 minutes
    /// of 12-second blocks), posted the cheaper way.
    pub const DEFAULT: ChannelPolicy =
        ChannelPolicy { target_bytes: BLOB_USABLE_BYTES, max_duration: 25, data: DataChoice::Cheaper };

    /// Post everything at once, every batcher tick (what loft's batcher did before channels
    /// waited to fill; end-to-end tests use it to keep their timing).
    pub fn immediate(data: DataChoice) -> Self {
        Self { target_bytes: 0, max_duration: 0, data }
    }

    /// Whether a channel of `blocks` pending L2 blocks, whose first block has L1 origin
    /// `first_epoch`, estimated at `compressed_bytes`, should be closed now that the L1 head
    /// is `l1_head`.
    pub fn should_close(&self, blocks: u64, first_epoch: u64, compressed_bytes: usize, l1_head: u64) -> bool {
        blocks > 0
            && (compressed_bytes >= self.target_bytes
                || l1_head >= first_epoch.saturating_add(self.max_duration))
    }

    /// How a closed channel of `data` (its compressed bytes) is posted at `prices`.
    pub fn mode_for(&self, data: &[u8], prices: L1Prices) -> DataMode {
        match self.data {
            DataChoice::Calldata => DataMode::Calldata,
            DataChoice::Blobs => DataMode::Blobs,
            DataChoice::Cheaper => {
                if prices.blob_cost(data.len()) < prices.calldata_cost(data) {
                    DataMode::Blobs
                } else {
                    DataMode::Calldata
                }
            }
        }
    }
}

/// The L1's current prices, wei per unit of gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1Prices {
    /// Execution gas.
    pub gas: u128,
    /// Blob gas.
    pub blob_gas: u128,
}

impl L1Prices {
    /// What posting `data` as calldata costs: one transaction per [`CALLDATA_CHUNK`] bytes.
    pub fn calldata_cost(&self, data: &[u8]) -> u128 {
        u128::from(calldata_gas(data)).saturating_mul(self.gas)
    }

    /// What posting `len` bytes as blobs costs: whole blobs, six per transaction.
    pub fn blob_cost(&self, len: usize) -> u128 {
        let (txs, blobs) = blob_txs_and_blobs(len);
        u128::from(txs * TX_BASE_GAS)
            .saturating_mul(self.gas)
            .saturating_add(u128::from(blobs * GAS_PER_BLOB).saturating_mul(self.blob_gas))
    }
}

/// Calldata bytes per batch transaction.
pub const CALLDATA_CHUNK: usize = 120_000;

/// Execution gas of posting `data` as calldata, under Prague's rules: per transaction
/// 21,000 plus the larger of the standard cost (4 per zero byte, 16 per other byte) and
/// the EIP-7623 floor (10 per token, a token being a zero byte or a quarter of another).
pub fn calldata_gas(data: &[u8]) -> u64 {
    let chunks = data.len().div_ceil(CALLDATA_CHUNK).max(1) as u64;
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let tokens = zeros + 4 * (data.len() as u64 - zeros);
    chunks * TX_BASE_GAS + (4 * tokens).max(10 * tokens)
}

/// Blob transactions and blobs that carry `len` bytes (at least one of each).
pub fn blob_txs_and_blobs(len: usize) -> (u64, u64) {
    let blobs = len.div_ceil(BLOB_USABLE_BYTES).max(1) as u64;
    (blobs.div_ceil(6), blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_closes_on_size_or_age() {
        let policy = ChannelPolicy { target_bytes: 1000, max_duration: 5, data: DataChoice::Cheaper };
        assert!(!policy.should_close(0, 10, 5000, 100), "nothing to post");
        assert!(!policy.should_close(3, 10, 999, 14), "small and young: wait");
        assert!(policy.should_close(3, 10, 1000, 14), "target reached");
        assert!(policy.should_close(3, 10, 10, 15), "open for the maximum duration");
        assert!(ChannelPolicy::immediate(DataChoice::Blobs).should_close(1, 10, 0, 10));
    }

    #[test]
    fn the_cheaper_way_is_chosen_for_the_data_at_hand() {
        let policy = ChannelPolicy::DEFAULT;
        let small = vec![0xab; 300];
        let large = vec![0xab; 100_000];
        // blob gas at the 1-wei floor, execution gas at 1 gwei: blobs win for any size
        let cheap_blobs = L1Prices { gas: 1_000_000_000, blob_gas: 1 };
        assert_eq!(policy.mode_for(&small, cheap_blobs), DataMode::Blobs);
        // blob gas priced like execution gas: a few hundred bytes fit calldata for less than
        // a whole blob; 100 KB do not
        let dear_blobs = L1Prices { gas: 1_000_000_000, blob_gas: 1_000_000_000 };
        assert_eq!(policy.mode_for(&small, dear_blobs), DataMode::Calldata);
        assert_eq!(policy.mode_for(&large, dear_blobs), DataMode::Blobs);
        assert_eq!(
            ChannelPolicy::immediate(DataChoice::Calldata).mode_for(&large, cheap_blobs),
            DataMode::Calldata
        );
    }

    #[test]
    fn calldata_gas_follows_the_floor() {
        // 100 non-zero bytes: 400 tokens, floor 4,000 above standard 1,600
        assert_eq!(calldata_gas(&[1u8; 100]), 21_000 + 4_000);
        assert_eq!(calldata_gas(&[0u8; 100]), 21_000 + 1_000);
        assert_eq!(
            calldata_gas(&vec![1u8; CALLDATA_CHUNK + 1]),
            2 * 21_000 + 40 * (CALLDATA_CHUNK as u64 + 1)
        );
        assert_eq!(blob_txs_and_blobs(10), (1, 1));
        assert_eq!(blob_txs_and_blobs(7 * BLOB_USABLE_BYTES), (2, 7));
    }
}
