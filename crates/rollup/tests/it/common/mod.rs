//! What the rollup's I/O-free tests share: a small configuration (L2 blocks every 2 s, L1
//! blocks every 4 s from timestamp 1000, a 4-block sequencing window) and its L1 blocks.

#![allow(dead_code)]

use alloy_primitives::{Address, B256, Bytes};
use loft_chain::TxDeposit;
use loft_rollup::{RollupConfig, config::L1Anchor, deposits::L1BlockInfo, derive::L1Block};

/// The test rollup's configuration.
pub(crate) fn config() -> RollupConfig {
    let anchor = L1Anchor { number: 0, hash: l1_hash(0), timestamp: 1000 };
    RollupConfig {
        block_time: 2,
        sequencing_window: 4,
        max_sequencer_drift: 30,
        channel_timeout: 10,
        ..RollupConfig::devnet(anchor, Address::repeat_byte(0xba), Address::repeat_byte(0xaa))
    }
}

/// Hash of test L1 block `n`.
pub(crate) fn l1_hash(n: u64) -> B256 {
    B256::left_padding_from(&(n + 0xabc000).to_be_bytes())
}

/// L1 block `n` at timestamp 1000 + 4n with a base fee of `base_fee`.
pub(crate) fn l1_block_with_fee(
    n: u64,
    base_fee: u128,
    deposits: Vec<TxDeposit>,
    batcher_data: Vec<Bytes>,
) -> L1Block {
    L1Block {
        info: L1BlockInfo {
            number: n,
            timestamp: 1000 + 4 * n,
            hash: l1_hash(n),
            base_fee,
            blob_base_fee: 1,
            batcher_hash: B256::ZERO,
        },
        parent_hash: if n == 0 { B256::ZERO } else { l1_hash(n - 1) },
        deposits,
        batcher_data,
    }
}
