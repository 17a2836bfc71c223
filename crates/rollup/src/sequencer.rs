//! The sequencer: orders the pool's transactions into L2 blocks at the configured interval,
//! each pinned to an L1 origin (epoch) chosen by the same rule derivation applies, so that
//! its batches are accepted. It reads L1 through the alloy client; the L2 chain is an
//! engine [`Node`] served over JSON-RPC.

use std::{collections::BTreeMap, sync::Arc};

use alloy::{eips::BlockNumberOrTag, providers::Provider, sol_types::SolCall};
use alloy_primitives::B256;
use loft_chain::{BuiltBlock, Chain, ChainError};
use loft_l1::{L1Client, L1Error};
use loft_node::Node;

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
    /// The deposits that fund accounts on a new rollup's L2 did not arrive.
    #[error("funding accounts on L2: {0}")]
    Funding(String),
    /// A withdrawal's call on L1 failed; the withdrawal stays open and may be finalized again.
    #[error(
        "the call of withdrawal {withdrawal} failed on L1 (transaction {transaction}); it stays open: \
         finalize it again once its target accepts it"
    )]
    WithdrawalCallFailed {
        /// The withdrawal's hash.
        withdrawal: B256,
        /// The L1 transaction that tried it.
        transaction: B256,
    },
}

/// The epoch (L1 block number) recorded by an L2 block's L1-info deposit.
pub fn block_epoch(chain: &Chain, number: u64) -> Result<u64, ChainError> {
    block_origin(chain, number).map(|(n, _)| n)
}

/// The L1 origin (number and hash) recorded by an L2 block's L1-info deposit.
pub fn block_origin(chain: &Chain, number: u64) -> Result<(u64, B256), ChainError> {
    let txs = chain.block_txs(number)?;
    txs.first()
        .and_then(|tx| tx.tx.as_deposit())
        .and_then(|d| setL1BlockValuesCall::abi_decode(&d.input).ok())
        .map(|call| (call.number_, call.hash_))
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
    l1_confs: u64,
}

/// What a sequencer step did.
#[derive(Clone, Debug)]
pub enum Sequenced {
    /// A new block.
    Block(Box<BuiltBlock>),
    /// Nothing yet (its time has not come, or L1 must move first).
    Waiting,
    /// L1 reorganised the origin of the sequencer's blocks: it went back to the last block
    /// whose origin L1 still has, returning the transactions of the blocks undone to its pool.
    Rewound {
        /// The L2 blocks undone.
        undone: u64,
        /// The block it continues from.
        to: u64,
    },
}

impl Sequencer {
    /// A sequencer extending `node`'s chain.
    pub fn new(config: RollupConfig, node: Arc<Node>, l1: L1Client) -> Result<Self, NodeError> {
        let head = node.with_chain(|ch| l2_head(ch, &config, ch.head().header.number))?;
        Ok(Self { config, node, l1, epochs: BTreeMap::new(), head, l1_confs: 0 })
    }

    /// Takes an L1 block as a new origin only once `confs` blocks are on top of it (OP's
    /// `sequencer.l1-confs`), so that a shallow L1 reorg never takes an origin away.
    pub fn with_l1_confs(mut self, confs: u64) -> Self {
        self.l1_confs = confs;
        self
    }

    /// Whether L1 still has the origin of the sequencer's head; if not, goes back to the last
    /// block whose origin it has. Deposits of the undone blocks come back with their L1
    /// blocks; other transactions go back to the pool.
    async fn follow_l1(&mut self) -> Result<Option<(u64, u64)>, NodeError> {
        let l1 = self.l1.clone();
        let canonical = |n: u64| {
            let l1 = l1.clone();
            async move {
                let block = l1
                    .provider()
                    .get_block_by_number(BlockNumberOrTag::Number(n))
                    .await
                    .map_err(L1Error::from)?;
                Ok::<_, NodeError>(block.map(|b| b.header.hash))
            }
        };
        if self.head.number == 0 {
            return Ok(None);
        }
        let (epoch, hash) = self.node.with_chain(|ch| block_origin(ch, self.head.number))?;
        if canonical(epoch).await? == Some(hash) {
            return Ok(None);
        }
        let mut keep = self.head.number;
        while keep > 0 {
            keep -= 1;
            if keep == 0 {
                break;
            }
            let (epoch, hash) = self.node.with_chain(|ch| block_origin(ch, keep))?;
            if canonical(epoch).await? == Some(hash) {
                break;
            }
        }
        let undone = self.head.number - keep;
        self.node.with_chain(|ch| ch.rewind_to(keep))?;
        self.head = self.node.with_chain(|ch| l2_head(ch, &self.config, keep))?;
        self.epochs.clear();
        tracing::warn!(undone, keep, "L1 reorganised the sequencer's origin: blocks undone");
        Ok(Some((undone, keep)))
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
    /// returns it, or `None` to try again later. (A step that finds the L1 origin of its
    /// blocks gone rewinds and returns `None`; [`Sequencer::step_report`] tells.)
    pub async fn step(&mut self, now: u64) -> Result<Option<BuiltBlock>, NodeError> {
        match self.step_report(now).await? {
            Sequenced::Block(block) => Ok(Some(*block)),
            Sequenced::Waiting | Sequenced::Rewound { .. } => Ok(None),
        }
    }

    /// One step: a block, nothing, or a rewind after an L1 reorg of its origin.
    pub async fn step_report(&mut self, now: u64) -> Result<Sequenced, NodeError> {
        let next_ts = self.head.timestamp + self.config.block_time;
        if next_ts > now {
            return Ok(Sequenced::Waiting);
        }
        if let Some((undone, to)) = self.follow_l1().await? {
            return Ok(Sequenced::Rewound { undone, to });
        }
        let current =
            self.epoch_block(self.head.epoch).await?.ok_or(NodeError::MissingL1Block(self.head.epoch))?;
        let l1_head = self.l1.block_number().await?;
        let next = if l1_head >= self.head.epoch + 1 + self.l1_confs {
            self.epoch_block(self.head.epoch + 1).await?
        } else {
            None
        };
        let epoch = match next {
            Some(next) if next.info.timestamp <= next_ts => next,
            _ if next_ts > current.info.timestamp + self.config.max_sequencer_drift => {
                // Too far ahead of L1: wait for its next block rather than break the rule.
                tracing::warn!(next_ts, epoch = current.info.number, "sequencer drift limit: waiting for L1");
                return Ok(Sequenced::Waiting);
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
        Ok(Sequenced::Block(Box::new(block)))
    }
}
