//! What a user does with the rollup, over JSON-RPC to both layers (any [`L1Client`], on the
//! L1 or on the L2): deposit ETH or ERC-20 tokens, create an L2 token for an L1 token,
//! withdraw, wait for an output root, prove and finalize. `loft rollup ...`, the devnet demo
//! and the end-to-end tests all go through these.

use std::time::Duration;

use alloy::{providers::Provider, rpc::types::TransactionReceipt, sol_types::SolEvent};
use alloy_primitives::{Address, B256, Bytes, U256};
use loft_l1::{L1Client, L1Error};

use crate::{
    config::{L2_STANDARD_BRIDGE, L2_TO_L1_MESSAGE_PASSER, MINTABLE_ERC20_FACTORY},
    contracts::{
        IERC20, L1StandardBridge, L2OutputOracle, L2StandardBridge, L2ToL1MessagePasser,
        MintableERC20Factory, RollupDeployment, RollupPortal,
    },
    proposer::Withdrawal,
    sequencer::NodeError,
};

/// L2 gas given to a deposit's call (ETH deposits to an EOA use far less).
pub const DEPOSIT_GAS: u64 = 200_000;
/// L1 gas the withdrawal's call gets on L1 (on top of the contracts' overheads).
pub const WITHDRAWAL_GAS: u32 = 200_000;

async fn mined(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
) -> Result<TransactionReceipt, NodeError> {
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(120)))
        .get_receipt()
        .await
        .map_err(|e| L1Error::Rpc(e.to_string()))?;
    if !receipt.status() {
        return Err(L1Error::Reverted(receipt.transaction_hash).into());
    }
    Ok(receipt)
}

/// Deposits `amount` wei from `l1`'s account to `to` on L2 through the portal.
pub async fn deposit_eth(
    l1: &L1Client,
    deployment: &RollupDeployment,
    to: Address,
    amount: U256,
) -> Result<TransactionReceipt, NodeError> {
    let portal = RollupPortal::new(deployment.portal, l1.provider().clone());
    let call = portal.depositTransaction(to, U256::ZERO, DEPOSIT_GAS, false, Bytes::new()).value(amount);
    mined(call.send().await.map_err(L1Error::from)?).await
}

/// Deposits `amount` of `l1_token` from `l1`'s account to `to` on L2, minted there as
/// `l2_token` (approves the L1 bridge first).
pub async fn deposit_erc20(
    l1: &L1Client,
    deployment: &RollupDeployment,
    l1_token: Address,
    l2_token: Address,
    to: Address,
    amount: U256,
) -> Result<TransactionReceipt, NodeError> {
    let token = IERC20::new(l1_token, l1.provider().clone());
    mined(token.approve(deployment.l1_standard_bridge, amount).send().await.map_err(L1Error::from)?).await?;
    let bridge = L1StandardBridge::new(deployment.l1_standard_bridge, l1.provider().clone());
    let call = bridge.depositERC20To(l1_token, l2_token, to, amount, DEPOSIT_GAS as u32, Bytes::new());
    mined(call.send().await.map_err(L1Error::from)?).await
}

/// Creates (through the L2 factory predeploy) the L2 token that represents `l1_token`, or
/// returns it if it exists already.
pub async fn create_l2_token(
    l2: &L1Client,
    l1_token: Address,
    name: &str,
    symbol: &str,
) -> Result<Address, NodeError> {
    let factory = MintableERC20Factory::new(MINTABLE_ERC20_FACTORY, l2.provider().clone());
    let address = factory
        .computeAddress(l1_token, name.to_string(), symbol.to_string(), 18)
        .call()
        .await
        .map_err(L1Error::from)?;
    let code = l2.provider().get_code_at(address).await.map_err(L1Error::from)?;
    if code.is_empty() {
        let call = factory.createMintableERC20(l1_token, name.to_string(), symbol.to_string());
        let receipt = mined(call.send().await.map_err(L1Error::from)?).await?;
        let created = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| MintableERC20Factory::MintableERC20Created::decode_log_data(&l.inner.data).ok())
            .map(|e| e.localToken);
        if created != Some(address) {
            return Err(NodeError::Batch(format!("the factory created {created:?}, expected {address}")));
        }
    }
    Ok(address)
}

/// An ERC-20 balance on either layer.
pub async fn token_balance(client: &L1Client, token: Address, owner: Address) -> Result<U256, NodeError> {
    let token = IERC20::new(token, client.provider().clone());
    Ok(token.balanceOf(owner).call().await.map_err(L1Error::from)?)
}

/// Starts withdrawing `amount` wei from `l2`'s account to `to` on L1; returns the withdrawal
/// and the L2 transaction that started it.
pub async fn withdraw_eth(l2: &L1Client, to: Address, amount: U256) -> Result<(Withdrawal, B256), NodeError> {
    let passer = L2ToL1MessagePasser::new(L2_TO_L1_MESSAGE_PASSER, l2.provider().clone());
    let call = passer.initiateWithdrawal(to, U256::from(WITHDRAWAL_GAS), Bytes::new()).value(amount);
    let receipt = mined(call.send().await.map_err(L1Error::from)?).await?;
    Ok((one_withdrawal(&receipt)?, receipt.transaction_hash))
}

/// Starts withdrawing `amount` of `l2_token` (burnt on L2) to `to` on L1, where the L1 bridge
/// releases the L1 token; returns the withdrawal and the L2 transaction that started it.
pub async fn withdraw_erc20(
    l2: &L1Client,
    l2_token: Address,
    to: Address,
    amount: U256,
) -> Result<(Withdrawal, B256), NodeError> {
    let bridge = L2StandardBridge::new(L2_STANDARD_BRIDGE, l2.provider().clone());
    let call = bridge.withdrawTo(l2_token, to, amount, WITHDRAWAL_GAS, Bytes::new());
    let receipt = mined(call.send().await.map_err(L1Error::from)?).await?;
    Ok((one_withdrawal(&receipt)?, receipt.transaction_hash))
}

/// The withdrawal an L2 transaction started.
pub fn one_withdrawal(receipt: &TransactionReceipt) -> Result<Withdrawal, NodeError> {
    Withdrawal::from_rpc_receipt(receipt).pop().ok_or_else(|| {
        NodeError::Batch(format!("transaction {} started no withdrawal", receipt.transaction_hash))
    })
}

/// The withdrawal started by L2 transaction `tx_hash`, read from `l2`.
pub async fn withdrawal_of(l2: &L1Client, tx_hash: B256) -> Result<Withdrawal, NodeError> {
    let receipt = l2
        .receipt(tx_hash)
        .await?
        .ok_or_else(|| NodeError::Batch(format!("no L2 transaction {tx_hash} (not mined yet?)")))?;
    one_withdrawal(&receipt)
}

/// The latest L2 block with an output root on L1 (0 before the first).
pub async fn latest_output_block(l1: &L1Client, deployment: &RollupDeployment) -> Result<u64, NodeError> {
    let oracle = L2OutputOracle::new(deployment.output_oracle, l1.provider().clone());
    match oracle.latestBlockNumber().call().await {
        Ok(n) => Ok(u64::try_from(n).unwrap_or(u64::MAX)),
        Err(e) => Err(L1Error::from(e).into()),
    }
}

/// Waits (up to `timeout`) until an output root covers L2 block `l2_block`.
pub async fn wait_for_output(
    l1: &L1Client,
    deployment: &RollupDeployment,
    l2_block: u64,
    timeout: Duration,
) -> Result<u64, NodeError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let latest = latest_output_block(l1, deployment).await?;
        if latest >= l2_block {
            return Ok(latest);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(NodeError::Batch(format!(
                "no output root covers L2 block {l2_block} yet (latest: {latest})"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
