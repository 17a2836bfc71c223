//! The sequencer: orders the pool's transactions into L2 blocks at the configured interval,
//! each pinned to an L1 origin (epoch) chosen by the same rule derivation applies, so that
//! its batches are accepted. It reads L1 through the alloy client; the L2 chain is an
//! engine [`Node`] served over JSON-RPC.

use std::{collections::BTreeMap, sync::Arc};

use alloy::sol_types::SolCall;
use loft_chain::{BuiltBlock, Chain, ChainError};
use loft_l1::{L1Client, L1Error};
use loft_rpc::Node;

use crate::{
    block::block_spec,
    config::RollupConfig,
    deposits::setL1BlockValuesCall,
    derive::{L1Block, L2Head, attributes},
    l1_source::fetch_l1_block,
};

/// Errors of the rollup's services.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Talking to L1 failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The L2 engine failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// L1 does not have a block the rollup depends on (it reorganised under us).
    #[error("L1 block {0} is missing")]
    MissingL1Block(u64),
    /// L1 reorganised in a way the node can not follow.
    #[error("L1 reorg: {0}")]
    Reorg(String),
    /// A batch could not be encoded.
    #[error("batch: {0}")]
    Batch(String),
    /// Derivation could not go on.
    #[error(transparent)]
    Derive(#[from] crate::derive::DeriveError),
    /// The batcher's record failed or its account was misused.
    #[error(transparent)]
    Batcher(#[from] crate::batcher::BatcherError),
}

/// The epoch (L1 block number) recorded by an L2 block's L1-info deposit.
pub fn block_epoch(chain: &Chain, number: u64) -> Result<u64, ChainError> {
    let txs = chain.block_txs(number)?;
    txs.first()
        .and_then(|tx| tx.tx.as_deposit())
        .and_then(|d| setL1BlockValuesCall::abi_decode(&d.input).ok())
        .map(|call| call.number_)
        .ok_or_else(|| ChainError::Corrupt(format!("L2 block {number} has no L1-info deposit")))
}

/// The [`L2Head`] of block `number` (its epoch and position in the epoch read back from the
/// blocks themselves, so that a restarted node resumes exactly).
pub fn l2_head(chain: &Chain, config: &RollupConfig, number: u64) -> Result<L2Head, ChainError> {
    let header =
        chain.header_by_number(number)?.ok_or_else(|| ChainError::NotFound(format!("block {number}")))?;
    if number == 0 {
        return Ok(L2Head {
            number: 0,
            hash: header.hash,
            timestamp: header.header.timestamp,
            epoch: config.l1_anchor.number,
            sequence_number: 0,
        });
    }
    let epoch = block_epoch(chain, number)?;
    let mut sequence_number = 0;
    let mut n = number;
    while n > 1 && block_epoch(chain, n - 1)? == epoch {
        sequence_number += 1;
        n -= 1;
    }
    if n == 1 && epoch == config.l1_anchor.number {
        sequence_number += 1; // the genesis is the anchor epoch's block 0
    }
    Ok(L2Head { number, hash: header.hash, timestamp: header.header.timestamp, epoch, sequence_number })
}

/// The sequencer's state.
pub struct Sequencer {
    config: RollupConfig,
    node: Arc<Node>,
    l1: L1Client,
    epochs: BTreeMap<u64, L1Block>,
    head: L2Head,
}

impl Sequencer {
    /// A sequencer extending `node`'s chain.
    pub fn new(config: RollupConfig, node: Arc<Node>, l1: L1Client) -> Result<Self, NodeError> {
        let head = node.with_chain(|ch| l2_head(ch, &config, ch.head().header.number))?;
        Ok(Self { config, node, l1, epochs: BTreeMap::new(), head })
    }

    /// The last block sequenced.
    pub fn head(&self) -> L2Head {
        self.head
    }

    /// The L2 node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    async fn epoch_block(&mut self, number: u64) -> Result<Option<L1Block>, NodeError> {
        if let Some(b) = self.epochs.get(&number) {
            return Ok(Some(b.clone()));
        }
        let block = fetch_l1_block(&self.l1, &self.config, number).await?;
        if let Some(b) = &block {
            self.epochs.insert(number, b.clone());
        }
        Ok(block)
    }

    /// Builds the next L2 block if its time (`now`, seconds) has come and L1 allows it;
    /// returns it, or `None` to try again later.
    pub async fn step(&mut self, now: u64) -> Result<Option<BuiltBlock>, NodeError> {
        let next_ts = self.head.timestamp + self.config.block_time;
        if next_ts > now {
            return Ok(None);
        }
        let current =
            self.epoch_block(self.head.epoch).await?.ok_or(NodeError::MissingL1Block(self.head.epoch))?;
        let l1_head = self.l1.block_number().await?;
        let next =
            if l1_head > self.head.epoch { self.epoch_block(self.head.epoch + 1).await? } else { None };
        let epoch = match next {
            Some(next) if next.info.timestamp <= next_ts => next,
            _ if next_ts > current.info.timestamp + self.config.max_sequencer_drift => {
                // Too far ahead of L1: wait for its next block rather than break the rule.
                tracing::warn!(next_ts, epoch = current.info.number, "sequencer drift limit: waiting for L1");
                return Ok(None);
            }
            _ => current,
        };
        let attrs = attributes(&self.head, &epoch, next_ts, vec![], false);
        let mut spec = block_spec(&attrs, self.config.l2_chain_id);
        spec.txs = None;
        let block = self.node.build_with(spec)?;
        self.head = L2Head {
            number: block.header.header.number,
            hash: block.header.hash,
            timestamp: next_ts,
            epoch: attrs.epoch.number,
            sequence_number: attrs.sequence_number,
        };
        self.epochs = self.epochs.split_off(&self.head.epoch);
        Ok(Some(block))
    }
}
