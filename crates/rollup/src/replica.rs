//! A replica: rebuilds the L2 chain from L1 alone (deposits and batches), never talking to
//! the sequencer. Its head is the safe head.

use std::sync::Arc;

use loft_l1::L1Client;
use loft_rpc::Node;

use crate::{
    block::block_spec,
    config::RollupConfig,
    derive::{Deriver, L2Head},
    l1_source::fetch_l1_block,
    sequencer::{NodeError, l2_head},
};

/// The replica's state.
pub struct Replica {
    config: RollupConfig,
    node: Arc<Node>,
    l1: L1Client,
    deriver: Deriver,
    safe: L2Head,
    next_l1: u64,
}

impl Replica {
    /// A replica deriving into `node`'s chain (a fresh L2 genesis), reading L1 from the
    /// anchor on.
    pub async fn new(config: RollupConfig, node: Arc<Node>, l1: L1Client) -> Result<Self, NodeError> {
        let safe = node.with_chain(|ch| l2_head(ch, &config, 0))?;
        let anchor = config.l1_anchor.number;
        let anchor_block =
            fetch_l1_block(&l1, &config, anchor).await?.ok_or(NodeError::MissingL1Block(anchor))?;
        let deriver = Deriver::new(config.clone(), anchor_block);
        Ok(Self { config, node, l1, deriver, safe, next_l1: anchor + 1 })
    }

    /// The safe head.
    pub fn safe(&self) -> L2Head {
        self.safe
    }

    /// The L2 node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Reads the L1 blocks that appeared since the last call and derives every L2 block they
    /// allow; returns how many were derived.
    pub async fn step(&mut self) -> Result<u64, NodeError> {
        let l1_head = self.l1.block_number().await?;
        while self.next_l1 <= l1_head {
            let Some(block) = fetch_l1_block(&self.l1, &self.config, self.next_l1).await? else {
                break;
            };
            self.deriver.add_l1_block(block)?;
            self.next_l1 += 1;
        }
        let mut derived = 0;
        while let Some(attrs) = self.deriver.next_attributes(&self.safe)? {
            let built = self.node.build_with(block_spec(&attrs, self.config.l2_chain_id))?;
            self.safe = L2Head {
                number: built.header.header.number,
                hash: built.header.hash,
                timestamp: attrs.timestamp,
                epoch: attrs.epoch.number,
                sequence_number: attrs.sequence_number,
            };
            self.deriver.prune_below(self.safe.epoch);
            derived += 1;
        }
        Ok(derived)
    }
}
