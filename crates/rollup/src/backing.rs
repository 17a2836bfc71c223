//! Whether every wei on L2 is backed by ETH in the portal: the rollup's solvency, checked
//! from both layers. The portal must hold at least what L2 accounts own plus the withdrawals
//! sent on L2 and not yet paid on L1; ETH minted on L2 without a deposit (a genesis
//! allocation, a bug in deposit handling) breaks it.

use alloy::{eips::BlockId, providers::Provider, sol_types::SolEvent};
use alloy_primitives::{B256, U256};
use loft_chain::LogQuery;
use loft_l1::{L1Client, L1Error};
use loft_node::Node;

use crate::{
    config::L2_TO_L1_MESSAGE_PASSER,
    contracts::{L2ToL1MessagePasser, RollupDeployment, RollupPortal},
    sequencer::NodeError,
};

/// The portal's ETH against what L2 owes, read at one L2 head and one L1 block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backing {
    /// The L2 block the L2 side was read at.
    pub l2_block: u64,
    /// The L1 block the L1 side was read at.
    pub l1_block: u64,
    /// The portal's ETH balance.
    pub portal: U256,
    /// Every L2 account's ETH, the message passer's excepted (its ETH belongs to the
    /// withdrawals below).
    pub l2_accounts: U256,
    /// The value of withdrawals sent on L2 that the portal has not paid yet.
    pub pending_withdrawals: U256,
    /// How many of those there are.
    pub pending_count: usize,
}

impl Backing {
    /// What the portal must hold at least.
    pub fn owed(&self) -> U256 {
        self.l2_accounts + self.pending_withdrawals
    }

    /// Whether the portal holds at least what L2 owes.
    pub fn is_backed(&self) -> bool {
        self.portal >= self.owed()
    }
}

/// Reads the L2 side from `l2` (a node of the rollup: every account's balance, every
/// withdrawal sent), then the portal's balance and which of those withdrawals it has paid,
/// both at one L1 block read after that: a withdrawal paid meanwhile then counts neither as
/// pending nor in the portal.
pub async fn backing(l1: &L1Client, deployment: &RollupDeployment, l2: &Node) -> Result<Backing, NodeError> {
    let (l2_block, l2_accounts, withdrawals) = l2.with_chain(|chain| {
        let head = chain.head().header.number;
        let accounts = chain
            .state()
            .accounts()
            .filter(|(address, _)| **address != L2_TO_L1_MESSAGE_PASSER)
            .fold(U256::ZERO, |sum, (_, account)| sum + account.basic.balance);
        let query = LogQuery {
            from: 0,
            to: head,
            addresses: vec![L2_TO_L1_MESSAGE_PASSER],
            topics: vec![vec![L2ToL1MessagePasser::MessagePassed::SIGNATURE_HASH]],
        };
        let withdrawals: Vec<(B256, U256)> = chain
            .logs(&query)?
            .iter()
            .filter_map(|entry| L2ToL1MessagePasser::MessagePassed::decode_log_data(&entry.log.data).ok())
            .map(|m| (m.withdrawalHash, m.value))
            .collect();
        Ok::<_, loft_chain::ChainError>((head, accounts, withdrawals))
    })?;
    let l1_block = l1.block_number().await?;
    let at = BlockId::number(l1_block);
    let portal_balance =
        l1.provider().get_balance(deployment.portal).block_id(at).await.map_err(L1Error::from)?;
    let portal = RollupPortal::new(deployment.portal, l1.provider().clone());
    let (mut pending_withdrawals, mut pending_count) = (U256::ZERO, 0);
    for (hash, value) in withdrawals {
        let paid = portal.finalizedWithdrawals(hash).block(at).call().await.map_err(L1Error::from)?;
        if !paid {
            pending_withdrawals += value;
            pending_count += 1;
        }
    }
    Ok(Backing {
        l2_block,
        l1_block,
        portal: portal_balance,
        l2_accounts,
        pending_withdrawals,
        pending_count,
    })
}
