//! The batcher: turns L2 blocks not yet on L1 into a compressed channel, splits it into
//! frames and posts them to the batch inbox as calldata (or blobs). Posting a block twice is
//! harmless (derivation drops batches for blocks it already has); skipping one is not, so
//! the batcher moves its cursor only after the L1 receipts.

use std::sync::Arc;

use alloy::{network::TransactionBuilder, rpc::types::TransactionRequest};
use alloy_primitives::{B128, keccak256};
use loft_l1::L1Client;
use loft_primitives::batch::{ChannelEncoder, Compression};
use loft_rpc::Node;

use crate::{block::batch_for_block, config::RollupConfig, sequencer::NodeError};

/// Largest calldata payload per L1 transaction.
pub const MAX_CALLDATA_PAYLOAD: usize = 120_000;

/// How the batcher posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataMode {
    /// Calldata of a transaction to the inbox.
    Calldata,
    /// EIP-4844 blobs of a transaction to the inbox.
    Blobs,
}

/// What one posting did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostReport {
    /// L2 blocks posted, first and last.
    pub blocks: Option<(u64, u64)>,
    /// Sequenced transactions in them.
    pub transactions: usize,
    /// Batch bytes before compression.
    pub raw_bytes: usize,
    /// Compressed channel bytes.
    pub compressed_bytes: usize,
    /// L1 transactions sent.
    pub l1_transactions: usize,
    /// L1 gas they used.
    pub l1_gas: u64,
    /// Blob gas they used.
    pub l1_blob_gas: u64,
}

/// The batcher's state.
pub struct Batcher {
    config: RollupConfig,
    l2: Arc<Node>,
    l1: L1Client,
    posted: u64,
    mode: DataMode,
    compression: Compression,
}

impl Batcher {
    /// A batcher for `l2`'s blocks after `posted`, signing with `l1`'s account (the
    /// configured batcher).
    pub fn new(config: RollupConfig, l2: Arc<Node>, l1: L1Client, posted: u64, mode: DataMode) -> Self {
        Self { config, l2, l1, posted, mode, compression: Compression::default() }
    }

    /// The last L2 block posted.
    pub fn posted(&self) -> u64 {
        self.posted
    }

    /// Posts every L2 block after the last posted one (at most `max_blocks`).
    pub async fn post(&mut self, max_blocks: u64) -> Result<PostReport, NodeError> {
        let head = self.l2.with_chain(|ch| ch.head().header.number);
        if head <= self.posted {
            return Ok(PostReport::default());
        }
        let last = head.min(self.posted + max_blocks);
        let first = self.posted + 1;
        // The id is derived from the blocks, so a restarted batcher re-posts the same channel.
        let last_hash =
            self.l2.with_chain(|ch| ch.header_by_number(last))?.map(|h| h.hash).unwrap_or_default();
        let id =
            B128::from_slice(&keccak256([&first.to_be_bytes()[..], last_hash.as_slice()].concat())[..16]);
        let mut encoder =
            ChannelEncoder::new(id, self.compression).map_err(|e| NodeError::Batch(e.to_string()))?;
        let mut report = PostReport { blocks: Some((first, last)), ..Default::default() };
        for n in first..=last {
            let batch = self.l2.with_chain(|ch| batch_for_block(ch, n))?;
            report.transactions += batch.transactions.len();
            encoder.add_batch(&batch).map_err(|e| NodeError::Batch(e.to_string()))?;
        }
        encoder.close().map_err(|e| NodeError::Batch(e.to_string()))?;
        report.raw_bytes = encoder.input_bytes();
        report.compressed_bytes = encoder.compressed_bytes();
        let payload_size = match self.mode {
            DataMode::Calldata => MAX_CALLDATA_PAYLOAD,
            // 6 blobs of 4096 field elements carrying 31 bytes each, less the coder's framing
            DataMode::Blobs => 6 * 126_000,
        };
        let payloads = encoder.into_tx_data(payload_size).map_err(|e| NodeError::Batch(e.to_string()))?;
        for payload in payloads {
            let receipt = match self.mode {
                DataMode::Calldata => {
                    let tx =
                        TransactionRequest::default().with_to(self.config.batch_inbox).with_input(payload);
                    self.l1.send(tx).await?
                }
                DataMode::Blobs => self.l1.send_blobs(self.config.batch_inbox, &payload).await?,
            };
            report.l1_transactions += 1;
            report.l1_gas += receipt.gas_used;
            report.l1_blob_gas += receipt.blob_gas_used.unwrap_or_default();
        }
        self.posted = last;
        Ok(report)
    }
}
