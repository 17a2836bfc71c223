//! The standard bridge end to end, with every role running (`service::start`) on the embedded
//! devnet and on anvil, as a user sees it over JSON-RPC on both layers: ETH deposited; an
//! L1 ERC-20 locked on L1 and minted on L2 as its factory-made L2 token; a deposit to a token
//! that does not represent it bounced back to the depositor on L1; tokens burnt on L2 and
//! released on L1 after an output root, a proof (read over the replica's JSON-RPC) and the
//! challenge window. Balances are checked on both layers at every step.

use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, U256};
use loft_l1::L1Client;
use loft_rollup::{
    backing::backing,
    bridge,
    channel_policy::{ChannelPolicy, DataChoice},
    config::L2_STANDARD_BRIDGE,
    proposer::Withdrawal,
    service::{RollupServiceConfig, RunningRollup, start},
};
use loft_rpc::MiningMode;
use loft_testkit::wait_until;

const TOKEN: u128 = 1_000_000_000_000_000_000;

/// Waits up to two minutes for `check` to say yes.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    wait_until(what, Duration::from_secs(120), async || check().await.then_some(())).await
}

async fn start_rollup(l1_url: &str, keys: &[PrivateKeySigner], mode: DataChoice) -> RunningRollup {
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    start(
        RollupServiceConfig {
            l1_url: l1_url.to_string(),
            deployer: keys[0].clone(),
            batcher: keys[1].clone(),
            proposer: keys[2].clone(),
            fund_on_l2: keys.to_vec(),
            l2_funding: U256::from(loft_rollup::service::DEVNET_L2_FUNDING_WEI),
            sequencer_addr: any,
            replica_addr: any,
            block_time: 1,
            output_interval: 4,
            finalization_period: 4,
            channel_policy: ChannelPolicy::immediate(mode),
            sequencer_l1_confs: 1,
            data_dir: None,
        },
        events,
    )
    .await
    .expect("rollup starts")
}

/// Proves `withdrawal` (proof read over the replica's JSON-RPC) once an output covers it, and
/// finalizes it once the challenge window has passed.
async fn prove_and_finalize(
    l1: &L1Client,
    replica: &L1Client,
    rollup: &RunningRollup,
    withdrawal: &Withdrawal,
) {
    let d = &rollup.deployment;
    bridge::wait_for_output(l1, d, withdrawal.l2_block, Duration::from_secs(120)).await.expect("output");
    withdrawal.prove(l1, d.portal, d.output_oracle, replica).await.expect("prove");
    let tick = Duration::from_millis(500);
    loft_testkit::wait_until_every("the withdrawal to finalize", Duration::from_secs(60), tick, async || {
        // (the devnet's clock moves with its blocks: a transfer makes one)
        l1.transfer(Address::repeat_byte(0x01), U256::from(1)).await.expect("tick");
        withdrawal.finalize(l1, d.portal).await.ok()
    })
    .await;
}

async fn scenario(l1_url: &str, mode: DataChoice) {
    let keys = loft_l1::dev_signers(4).expect("keys");
    let user = keys[3].clone();
    let me = user.address();
    let l1 = L1Client::connect(l1_url, user.clone()).await.expect("l1");
    let l1_token = loft_l1::contracts::deploy_all(&l1).await.expect("L1 token").loft_token;
    let rollup = start_rollup(l1_url, &keys, mode).await;
    let d = rollup.deployment;
    let l2 =
        L1Client::connect(&format!("http://{}", rollup.sequencer_rpc.addr), user.clone()).await.expect("l2");
    let replica = L1Client::connect(&format!("http://{}", rollup.replica_rpc.addr), user.clone())
        .await
        .expect("replica");

    // ETH in.
    let l2_eth = l2.balance(me).await.expect("balance");
    bridge::deposit_eth(&l1, &d, me, U256::from(2 * TOKEN)).await.expect("deposit ETH");
    eventually("the ETH deposit on L2", || async {
        l2.balance(me).await.is_ok_and(|b| b == l2_eth + U256::from(2 * TOKEN))
    })
    .await;

    // The L2 token for the L1 token, then 100 tokens in.
    let l2_token = bridge::create_l2_token(&l2, l1_token, "Loft Token", "LOFT").await.expect("L2 token");
    assert_eq!(bridge::create_l2_token(&l2, l1_token, "Loft Token", "LOFT").await.expect("again"), l2_token);
    let l1_start = bridge::token_balance(&l1, l1_token, me).await.expect("balance");
    bridge::deposit_erc20(&l1, &d, l1_token, l2_token, me, U256::from(100 * TOKEN)).await.expect("deposit");
    eventually("100 tokens minted on L2", || async {
        bridge::token_balance(&l2, l2_token, me).await.is_ok_and(|b| b == U256::from(100 * TOKEN))
    })
    .await;
    assert_eq!(
        bridge::token_balance(&l1, l1_token, me).await.expect("b"),
        l1_start - U256::from(100 * TOKEN)
    );
    assert_eq!(
        bridge::token_balance(&l1, l1_token, d.l1_standard_bridge).await.expect("b"),
        U256::from(100 * TOKEN),
        "locked in the L1 bridge"
    );

    // A deposit naming an L2 token that does not represent the L1 token: nothing is minted,
    // the L2 bridge sends it back, and the depositor gets it on L1.
    let not_a_pair = Address::repeat_byte(0x77);
    bridge::deposit_erc20(&l1, &d, l1_token, not_a_pair, me, U256::from(5 * TOKEN)).await.expect("deposit");
    let bounce = wait_until("the bounced deposit to reach L2", Duration::from_secs(120), async || {
        rollup.sequencer.with_chain(|c| {
            let head = c.head().header.number;
            (head.saturating_sub(60)..=head)
                .filter_map(|n| c.block_receipts(n).ok().flatten())
                .flatten()
                .flat_map(|r| Withdrawal::from_receipt(&r))
                .find(|w| w.sender == L2_STANDARD_BRIDGE)
        })
    })
    .await;
    prove_and_finalize(&l1, &replica, &rollup, &bounce).await;
    assert_eq!(
        bridge::token_balance(&l1, l1_token, me).await.expect("b"),
        l1_start - U256::from(100 * TOKEN),
        "the bounced 5 tokens are back on L1"
    );

    // 40 tokens out: burnt on L2, released on L1.
    let (withdrawal, _) =
        bridge::withdraw_erc20(&l2, l2_token, me, U256::from(40 * TOKEN)).await.expect("withdraw");
    assert_eq!(bridge::token_balance(&l2, l2_token, me).await.expect("b"), U256::from(60 * TOKEN));
    prove_and_finalize(&l1, &replica, &rollup, &withdrawal).await;
    assert_eq!(bridge::token_balance(&l1, l1_token, me).await.expect("b"), l1_start - U256::from(60 * TOKEN));
    assert_eq!(
        bridge::token_balance(&l1, l1_token, d.l1_standard_bridge).await.expect("b"),
        U256::from(60 * TOKEN),
        "the bridge still holds what is on L2"
    );
    assert!(withdrawal.finalize(&l1, d.portal).await.is_err(), "finalized once");

    // Every wei on L2 is backed by the portal, a withdrawal on its way out included.
    let (eth_out, _) = bridge::withdraw_eth(&l2, me, U256::from(TOKEN)).await.expect("withdraw ETH");
    let b = backing(&l1, &d, &rollup.sequencer).await.expect("backing");
    assert!(b.is_backed(), "{b:?}");
    assert_eq!((b.pending_count, b.pending_withdrawals), (1, eth_out.value), "{b:?}");
    eventually("the replica derives the withdrawal", || async {
        let (derived, sequenced) = (replica.balance(me).await, l2.balance(me).await);
        matches!((derived, sequenced), (Ok(r), Ok(s)) if r == s)
    })
    .await;
    let b = backing(&l1, &d, &rollup.replica).await.expect("backing");
    assert!(b.is_backed() && b.pending_count == 1, "{b:?}");
    rollup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_bridge_on_the_embedded_devnet() {
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    scenario(&devnet.url(), DataChoice::Blobs).await;
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_bridge_on_anvil() {
    let Some(anvil) = loft_testkit::anvil() else { return };
    // anvil does not serve blob contents: batches go as calldata there.
    scenario(&anvil.endpoint(), DataChoice::Calldata).await;
}
