//! The rollup's parameters. Everything here is consensus: a replica configured differently
//! derives a different chain.

use alloy_primitives::{Address, B256, address};
use loft_evm::l1_fee::L1FeeConfig;
use serde::{Deserialize, Serialize};

/// Chain id of the devnet L2.
pub const DEVNET_L2_CHAIN_ID: u64 = 42069;
/// The batch inbox: an address without code that batches are sent to.
pub const BATCH_INBOX: Address = address!("ff00000000000000000000000000000000042069");
/// L2 predeploy: the standard bridge.
pub const L2_STANDARD_BRIDGE: Address = address!("4200000000000000000000000000000000000010");
/// L2 predeploy: receives the L2 priority fees.
pub const SEQUENCER_FEE_VAULT: Address = address!("4200000000000000000000000000000000000011");
/// L2 predeploy: creates bridged ERC-20 tokens.
pub const MINTABLE_ERC20_FACTORY: Address = address!("4200000000000000000000000000000000000012");
/// L2 predeploy: the L1 origin's number, timestamp, fees and hash.
pub const L1_BLOCK: Address = address!("4200000000000000000000000000000000000015");
/// L2 predeploy: records withdrawals.
pub const L2_TO_L1_MESSAGE_PASSER: Address = address!("4200000000000000000000000000000000000016");
/// L2 predeploy: receives the L1 data fees.
pub const L1_FEE_VAULT: Address = address!("420000000000000000000000000000000000001A");
/// The system account that sends the L1-info deposit.
pub const L1_INFO_DEPOSITOR: Address = address!("DeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");
/// Gas given to the L1-info deposit.
pub const L1_INFO_DEPOSIT_GAS: u64 = 1_000_000;

/// The L1 block an L2 chain starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Anchor {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its timestamp.
    pub timestamp: u64,
}

/// The parameters of one optimistic rollup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupConfig {
    /// The L2's EIP-155 chain id.
    pub l2_chain_id: u64,
    /// The L1's chain id.
    pub l1_chain_id: u64,
    /// Seconds between L2 blocks.
    pub block_time: u64,
    /// L1 blocks a batch has, after its epoch's L1 block, to land on L1; past that,
    /// derivation fills the epoch with blocks holding only its deposits.
    pub sequencing_window: u64,
    /// Most seconds an L2 block's timestamp may run ahead of its L1 origin's.
    pub max_sequencer_drift: u64,
    /// L1 blocks a channel has to complete after its first frame.
    pub channel_timeout: u64,
    /// Where batches are sent.
    pub batch_inbox: Address,
    /// The only account whose transactions to the inbox count.
    pub batcher: Address,
    /// The L1 portal (deposits and withdrawals).
    pub portal: Address,
    /// The L1 block the L2 genesis is anchored to (its first epoch).
    pub l1_anchor: L1Anchor,
    /// Timestamp of the L2 genesis block.
    pub l2_genesis_time: u64,
    /// The L1 data fee rule.
    pub l1_fee_base_scalar: u64,
    /// The L1 data fee rule's blob weight.
    pub l1_fee_blob_scalar: u64,
}

impl RollupConfig {
    /// The devnet's rollup anchored at `anchor`, with batches from `batcher` and deposits
    /// through `portal`: L2 chain 42069 on L1 chain 31337, an L2 block a second from the
    /// anchor's time, a 100-block sequencing window, 600 s of drift, a 50-block channel
    /// timeout, and an L1 data fee at the L1 base fee's full weight. What the devnet runs and
    /// what tests change a field or two of.
    pub fn devnet(anchor: L1Anchor, batcher: Address, portal: Address) -> Self {
        Self {
            l2_chain_id: DEVNET_L2_CHAIN_ID,
            l1_chain_id: 31337,
            block_time: 1,
            sequencing_window: 100,
            max_sequencer_drift: 600,
            channel_timeout: 50,
            batch_inbox: BATCH_INBOX,
            batcher,
            portal,
            l1_anchor: anchor,
            l2_genesis_time: anchor.timestamp,
            l1_fee_base_scalar: 1_000_000,
            l1_fee_blob_scalar: 0,
        }
    }

    /// The L1 data fee rule of the L2 chain.
    pub fn l1_fee(&self) -> L1FeeConfig {
        L1FeeConfig {
            base_fee_scalar: self.l1_fee_base_scalar,
            blob_base_fee_scalar: self.l1_fee_blob_scalar,
            vault: L1_FEE_VAULT,
        }
    }

    /// Timestamp of L2 block `number`.
    pub fn l2_timestamp(&self, number: u64) -> u64 {
        self.l2_genesis_time + number * self.block_time
    }
}
