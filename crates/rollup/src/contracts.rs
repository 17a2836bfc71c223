//! Bindings to the rollup's contracts (from the committed artifacts) and their deployment
//! on an L1.

use alloy::sol_types::SolConstructor;
use alloy_primitives::{Address, U256};
use loft_l1::{L1Client, L1Error};
use serde::{Deserialize, Serialize};

use crate::config::L2_STANDARD_BRIDGE;

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    RollupPortal,
    "../../contracts/artifacts/RollupPortal.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs, clippy::too_many_arguments)]
    L2OutputOracle,
    "../../contracts/artifacts/L2OutputOracle.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    L1StandardBridge,
    "../../contracts/artifacts/L1StandardBridge.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    L2ToL1MessagePasser,
    "../../contracts/artifacts/L2ToL1MessagePasser.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    L2StandardBridge,
    "../../contracts/artifacts/L2StandardBridge.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    MintableERC20Factory,
    "../../contracts/artifacts/MintableERC20Factory.json"
);

alloy::sol! {
    /// The ERC-20 calls the bridge flows need, on either layer.
    #[sol(rpc)]
    #[allow(missing_docs)]
    interface IERC20 {
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
    }
}

/// Parameters of the L1 side that are chosen at deployment.
#[derive(Clone, Debug)]
pub struct RollupDeployParams {
    /// Who posts output roots.
    pub proposer: Address,
    /// Who may delete unfinalized outputs (the fault-proof game, later).
    pub challenger: Address,
    /// L2 blocks between outputs.
    pub submission_interval: u64,
    /// Seconds between L2 blocks.
    pub l2_block_time: u64,
    /// Timestamp of the L2 genesis.
    pub l2_genesis_time: u64,
    /// The withdrawal challenge window in seconds.
    pub finalization_period: u64,
}

/// Where the rollup's L1 contracts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupDeployment {
    /// The output oracle.
    pub output_oracle: Address,
    /// The portal.
    pub portal: Address,
    /// The L1 standard bridge.
    pub l1_standard_bridge: Address,
}

/// Deploys the oracle, the portal and the L1 bridge with `client`'s account.
pub async fn deploy(client: &L1Client, params: &RollupDeployParams) -> Result<RollupDeployment, L1Error> {
    let oracle_args = L2OutputOracle::constructorCall {
        proposer_: params.proposer,
        challenger_: params.challenger,
        submissionInterval_: U256::from(params.submission_interval),
        l2BlockTime_: U256::from(params.l2_block_time),
        startingBlockNumber_: U256::ZERO,
        startingTimestamp_: U256::from(params.l2_genesis_time),
        finalizationPeriodSeconds_: U256::from(params.finalization_period),
    }
    .abi_encode();
    let output_oracle =
        client.deploy([L2OutputOracle::BYTECODE.as_ref(), &oracle_args].concat().into()).await?;
    let portal_args = RollupPortal::constructorCall { oracle_: output_oracle }.abi_encode();
    let portal = client.deploy([RollupPortal::BYTECODE.as_ref(), &portal_args].concat().into()).await?;
    let bridge_args =
        L1StandardBridge::constructorCall { portal_: portal, otherBridge_: L2_STANDARD_BRIDGE }.abi_encode();
    let l1_standard_bridge =
        client.deploy([L1StandardBridge::BYTECODE.as_ref(), &bridge_args].concat().into()).await?;
    Ok(RollupDeployment { output_oracle, portal, l1_standard_bridge })
}
