//! What an hour of the optimistic rollup costs on L1, idle and at a steady 10 transactions per
//! second, simulated: 3,600 one-second L2 blocks over 300 twelve-second L1 blocks, the
//! batcher ticking every 2 seconds as `loft devnet` runs it, deciding with the batcher's own
//! [`ChannelPolicy`] on channels encoded with the batcher's own encoder. Prices are fixed:
//! execution gas at 1 gwei, blob gas at the 1-wei floor (the policy compares them to choose
//! calldata or blobs). Two policies in the same run: posting everything every tick as
//! blobs (the batcher before channels waited to fill) and [`ChannelPolicy::DEFAULT`].

use alloy_primitives::{B128, B256, Bytes};
use loft_rollup::batch::{ChannelEncoder, Compression, L2BlockBatch};
use loft_rollup::{
    batcher::{DataMode, MAX_BLOB_PAYLOAD, MAX_CALLDATA_PAYLOAD},
    channel_policy::{
        ChannelPolicy, DataChoice, GAS_PER_BLOB, L1Prices, TX_BASE_GAS, blob_txs_and_blobs, calldata_gas,
    },
};

/// Seconds per simulated L1 block.
const L1_BLOCK_TIME: u64 = 12;
/// Seconds between batcher ticks.
const BATCHER_TICK: u64 = 2;
/// L1 blocks the sequencer waits before taking an origin (as on the devnet).
const ORIGIN_CONFS: u64 = 2;
/// The simulated L1 prices.
pub const PRICES: L1Prices = L1Prices { gas: 1_000_000_000, blob_gas: 1 };

/// L1 cost of one simulated hour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HourCost {
    /// Execution gas of the batch transactions.
    pub gas: u64,
    /// Blob gas.
    pub blob_gas: u64,
    /// Batch transactions.
    pub transactions: u64,
}

/// Simulates one hour with `transfers` (signed L2 transactions, `per_block` in each L2 block;
/// none for an idle hour) under `policy`.
pub fn hour_cost(policy: ChannelPolicy, transfers: &[Bytes], per_block: usize) -> anyhow::Result<HourCost> {
    let mut cost = HourCost::default();
    let mut pending: Option<(u64, ChannelEncoder)> = None; // (first block's epoch, channel)
    let mut txs = transfers.chunks(per_block.max(1));
    for second in 1..=3600u64 {
        let l1_head = second / L1_BLOCK_TIME;
        let epoch = l1_head.saturating_sub(ORIGIN_CONFS);
        let batch = L2BlockBatch {
            parent_hash: B256::from(alloy_primitives::keccak256(second.to_be_bytes())),
            epoch_number: epoch,
            epoch_hash: B256::from(alloy_primitives::keccak256(epoch.to_le_bytes())),
            timestamp: 1_700_000_000 + second,
            transactions: if per_block == 0 {
                vec![]
            } else {
                txs.next().map(<[Bytes]>::to_vec).unwrap_or_default()
            },
        };
        let (_, encoder) = match pending.as_mut() {
            Some(p) => p,
            None => {
                let id = B128::from_slice(&second.to_be_bytes().repeat(2));
                pending.insert((epoch, ChannelEncoder::new(id, Compression::default())?))
            }
        };
        encoder.add_batch(&batch)?;
        if second % BATCHER_TICK != 0 {
            continue;
        }
        let Some((first_epoch, encoder)) = pending.as_ref() else { continue };
        let blocks = encoder.batches() as u64;
        if !policy.should_close(blocks, *first_epoch, encoder.estimated_compressed_bytes(), l1_head) {
            continue;
        }
        let Some((_, mut encoder)) = pending.take() else { continue };
        encoder.close()?;
        let data = encoder.compressed_data().cloned().unwrap_or_default();
        match policy.mode_for(&data, PRICES) {
            DataMode::Calldata => {
                for payload in encoder.into_tx_data(MAX_CALLDATA_PAYLOAD)? {
                    cost.gas += calldata_gas(&payload);
                    cost.transactions += 1;
                }
            }
            DataMode::Blobs => {
                for payload in encoder.into_tx_data(MAX_BLOB_PAYLOAD)? {
                    let (n_txs, blobs) = blob_txs_and_blobs(payload.len());
                    cost.gas += n_txs * TX_BASE_GAS;
                    cost.blob_gas += blobs * GAS_PER_BLOB;
                    cost.transactions += n_txs;
                }
            }
        }
    }
    Ok(cost)
}

/// The policy of the batcher before channels waited to fill: every tick, everything, as blobs.
pub fn before() -> ChannelPolicy {
    ChannelPolicy::immediate(DataChoice::Blobs)
}
