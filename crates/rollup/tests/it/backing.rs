//! The solvency check (`loft_rollup::backing`) against a real portal on the embedded L1: an
//! L2 whose genesis gives accounts ETH that no deposit brought (what `loft devnet`'s L2 did
//! before its dev accounts were funded by deposits) is reported as not backed; an L2 whose
//! ETH all came through the portal is.

use crate::common;

use alloy_primitives::U256;
use loft_chain::{Chain, GenesisAccount, Store};
use loft_l1::L1Client;
use loft_rollup::{
    backing::backing,
    bridge,
    contracts::{RollupDeployParams, deploy},
    genesis::l2_chain_config,
};
use loft_rpc::{MiningMode, Node};

const ETH: u128 = 1_000_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_minted_at_genesis_is_not_backed() {
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    let key = loft_l1::dev_signers(1).expect("key").remove(0);
    let l1 = L1Client::connect(&devnet.url(), key.clone()).await.expect("l1");
    let params = RollupDeployParams {
        proposer: key.address(),
        challenger: key.address(),
        submission_interval: 10,
        l2_block_time: 1,
        l2_genesis_time: 1,
        finalization_period: 12,
    };
    let deployment = deploy(&l1, &params).await.expect("deploy");
    bridge::deposit_eth(&l1, &deployment, key.address(), U256::from(5 * ETH)).await.expect("deposit");

    let l2 = |funded: Vec<GenesisAccount>| {
        let config = common::config();
        let chain = Chain::open(
            l2_chain_config(&config, funded, deployment.l1_standard_bridge),
            Store::in_memory().expect("store"),
        )
        .expect("l2");
        Node::new(chain, MiningMode::Manual, vec![])
    };
    // The old devnet genesis: 10,000 ETH to an account, never deposited.
    let minted =
        GenesisAccount { address: key.address(), balance: U256::from(10_000 * ETH), ..Default::default() };
    let unbacked = backing(&l1, &deployment, &l2(vec![minted])).await.expect("backing");
    assert!(!unbacked.is_backed(), "{unbacked:?}");
    assert_eq!((unbacked.portal, unbacked.l2_accounts), (U256::from(5 * ETH), U256::from(10_000 * ETH)));

    // Up to what the portal holds, L2 ETH is backed.
    let deposited =
        GenesisAccount { address: key.address(), balance: U256::from(5 * ETH), ..Default::default() };
    let backed = backing(&l1, &deployment, &l2(vec![deposited])).await.expect("backing");
    assert!(backed.is_backed(), "{backed:?}");
    devnet.stop().await;
}
