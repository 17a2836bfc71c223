//! A replica: rebuilds the L2 chain from L1 alone (deposits and batches), never talking to
//! the sequencer. Its head is the safe head.

use std::{collections::BTreeMap, sync::Arc};

use alloy::{eips::BlockNumberOrTag, providers::Provider};
use alloy_primitives::B256;
use loft_l1::{L1Client, L1Error};
use loft_node::Node;

use crate::{
    block::block_spec,
    config::RollupConfig,
    derive::{DeriveError, Deriver, L2Head},
    l1_source::fetch_l1_block,
    sequencer::{NodeError, block_epoch, l2_head},
};

/// The replica's state.
pub struct Replica {
    config: RollupConfig,
    node: Arc<Node>,
    l1: L1Client,
    deriver: Deriver,
    safe: L2Head,
    /// The last L2 block derived from finalized L1 data.
    finalized: u64,
    next_l1: u64,
    /// Hashes of the L1 blocks read (the last [`L1_HISTORY`]), to find where a reorg forked.
    l1_hashes: BTreeMap<u64, B256>,
    /// For each L2 block derived, the L1 height read when it was derived.
    derived_at: BTreeMap<u64, u64>,
}

/// How many L1 block hashes the replica remembers: the deepest reorg it can follow.
pub const L1_HISTORY: u64 = 2_000;

/// What a step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// L2 blocks derived.
    pub derived: u64,
    /// L2 blocks undone because the L1 data they came from was reorganised away.
    pub rewound: u64,
}

impl Replica {
    /// A replica deriving into `node`'s chain. A fresh chain is derived from the L1 anchor
    /// on; a chain derived before (a restart) resumes from its head, reading L1 again from a
    /// channel timeout before the head's epoch, where its next batches may have started.
    pub async fn new(config: RollupConfig, node: Arc<Node>, l1: L1Client) -> Result<Self, NodeError> {
        let (head, finalized) = node.with_chain(|ch| (ch.head().header.number, ch.finalized_number()));
        let safe = node.with_chain(|ch| l2_head(ch, &config, head))?;
        let anchor = config.l1_anchor.number;
        let base =
            if head == 0 { anchor } else { safe.epoch.saturating_sub(config.channel_timeout).max(anchor) };
        let base_block = fetch_l1_block(&l1, &config, base).await?.ok_or(NodeError::MissingL1Block(base))?;
        let mut l1_hashes = BTreeMap::new();
        l1_hashes.insert(base, base_block.info.hash);
        // Where the data of the blocks derived before a restart was read is not recorded; their
        // batches were on L1 by their epoch's sequencing window at the latest, a bound that
        // errs on the safe side both for finality and for how far a reorg rewinds.
        let mut derived_at = BTreeMap::new();
        if head > 0 {
            let l1_head = l1.block_number().await?;
            for n in finalized.max(head.saturating_sub(L1_HISTORY)) + 1..=head {
                let epoch = node.with_chain(|ch| block_epoch(ch, n))?;
                derived_at.insert(n, (epoch + config.sequencing_window).min(l1_head));
            }
        }
        let deriver = Deriver::new(config.clone(), base_block);
        Ok(Self { config, node, l1, deriver, safe, finalized, next_l1: base + 1, l1_hashes, derived_at })
    }

    /// The safe head.
    pub fn safe(&self) -> L2Head {
        self.safe
    }

    /// The finalized head: the last L2 block derived only from L1 blocks that L1 calls
    /// finalized.
    pub fn finalized(&self) -> u64 {
        self.finalized
    }

    /// The L2 node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Reads the L1 blocks that appeared since the last call and derives every L2 block they
    /// allow. When L1 reorganised under the blocks read, the L2 blocks derived from the lost
    /// data are undone first and derivation restarts from the fork.
    pub async fn step(&mut self) -> Result<StepReport, NodeError> {
        let mut report = StepReport::default();
        if let Some(fork) = self.find_fork().await? {
            report.rewound = self.rewind_to_l1(fork).await?;
        }
        let l1_head = self.l1.block_number().await?;
        while self.next_l1 <= l1_head {
            let Some(block) = fetch_l1_block(&self.l1, &self.config, self.next_l1).await? else {
                break;
            };
            let (number, hash) = (block.info.number, block.info.hash);
            match self.deriver.add_l1_block(block) {
                Ok(()) => {}
                // L1 changed between two reads: the next step finds the fork.
                Err(DeriveError::L1Mismatch { .. }) => break,
                Err(e) => return Err(e.into()),
            }
            self.l1_hashes.insert(number, hash);
            self.next_l1 += 1;
        }
        let keep_from = self.next_l1.saturating_sub(L1_HISTORY);
        self.l1_hashes = self.l1_hashes.split_off(&keep_from);
        while let Some(attrs) = self.deriver.next_attributes(&self.safe)? {
            let built = self.node.build_with(block_spec(&attrs, self.config.l2_chain_id))?;
            self.safe = L2Head {
                number: built.header.header.number,
                hash: built.header.hash,
                timestamp: attrs.timestamp,
                epoch: attrs.epoch.number,
                sequence_number: attrs.sequence_number,
            };
            self.derived_at.insert(self.safe.number, self.next_l1 - 1);
            report.derived += 1;
        }
        if let Some((&first, _)) = self.derived_at.first_key_value()
            && self.derived_at.len() as u64 > L1_HISTORY * 10
        {
            self.derived_at.remove(&first);
        }
        self.update_finalized().await?;
        Ok(report)
    }

    /// Moves the finalized head to the last L2 block derived by the time L1's finalized block
    /// was read, and records safe and finalized in the node (its `safe`/`finalized` tags).
    async fn update_finalized(&mut self) -> Result<(), NodeError> {
        let l1_finalized = self
            .l1
            .provider()
            .get_block_by_number(BlockNumberOrTag::Finalized)
            .await
            .map_err(L1Error::from)?
            .map(|b| b.header.number)
            .unwrap_or_default();
        let finalized = self
            .derived_at
            .iter()
            .filter(|(_, l1)| **l1 <= l1_finalized)
            .map(|(l2, _)| *l2)
            .max()
            .unwrap_or(0)
            .max(self.finalized)
            .min(self.safe.number);
        self.finalized = finalized;
        self.node.with_chain(|c| c.set_forkchoice(self.safe.number, finalized))?;
        Ok(())
    }

    /// The highest L1 block read that L1 still has, when the last one read is gone.
    async fn find_fork(&self) -> Result<Option<u64>, NodeError> {
        let last = self.next_l1 - 1;
        let still = |n: u64| async move {
            let block = self
                .l1
                .provider()
                .get_block_by_number(BlockNumberOrTag::Number(n))
                .await
                .map_err(L1Error::from)?;
            Ok::<_, NodeError>(block.map(|b| b.header.hash) == self.l1_hashes.get(&n).copied())
        };
        if still(last).await? {
            return Ok(None);
        }
        let mut n = last;
        while n > self.config.l1_anchor.number {
            n -= 1;
            if !self.l1_hashes.contains_key(&n) {
                return Err(NodeError::Reorg(format!(
                    "L1 reorganised deeper than the {L1_HISTORY} blocks remembered"
                )));
            }
            if still(n).await? {
                return Ok(Some(n));
            }
        }
        Err(NodeError::Reorg("L1 reorganised below the rollup's anchor".into()))
    }

    /// Undoes the L2 blocks derived after L1 block `fork` and restarts derivation there;
    /// returns how many L2 blocks were undone.
    async fn rewind_to_l1(&mut self, fork: u64) -> Result<u64, NodeError> {
        let keep = self
            .derived_at
            .iter()
            .filter(|(_, l1)| **l1 <= fork)
            .map(|(l2, _)| *l2)
            .max()
            .unwrap_or(self.finalized);
        let undone = self.safe.number.saturating_sub(keep);
        self.node.with_chain(|c| c.rewind_to(keep))?;
        self.safe = self.node.with_chain(|c| l2_head(c, &self.config, keep))?;
        self.derived_at.retain(|l2, _| *l2 <= keep);
        if self.finalized > keep {
            tracing::error!(finalized = self.finalized, keep, "L1 reorganised finalized blocks");
            self.finalized = keep;
        }
        self.l1_hashes.retain(|n, _| *n <= fork);
        // Channels may have started up to a channel timeout before the fork: read from there.
        let base = fork
            .saturating_sub(self.config.channel_timeout)
            .min(self.safe.epoch)
            .max(self.config.l1_anchor.number);
        let base_block =
            fetch_l1_block(&self.l1, &self.config, base).await?.ok_or(NodeError::MissingL1Block(base))?;
        self.deriver = Deriver::new(self.config.clone(), base_block);
        for n in base + 1..=fork {
            let block =
                fetch_l1_block(&self.l1, &self.config, n).await?.ok_or(NodeError::MissingL1Block(n))?;
            self.deriver.add_l1_block(block)?;
        }
        self.next_l1 = fork + 1;
        tracing::warn!(fork, undone, safe = keep, "L1 reorg: replica rewound");
        Ok(undone)
    }
}
