//! An L1 reorganisation on the embedded devnet (`evm_snapshot` / `evm_revert`): nodes that
//! act on L1 events only once they are two blocks deep never count a deposit that a reorg
//! takes away, so the depositor can not pay with it; the same deposit on the chain that
//! stays counts once it is two blocks deep.

use crate::common;

use std::time::Duration;

use crate::common::{ETH, mine, node_config, setup, wait_for};
use alloy::providers::Provider;
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::ChannelContracts,
    node::{Node, NodeConfig},
};

const CONFIRMATIONS: u64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorged_deposit_never_counts() {
    common::trace_from_env();
    let (_devnet, url, d, parties) = setup(2).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = |i: usize, name: &str| NodeConfig {
        l1_confirmations: CONFIRMATIONS,
        ..node_config(&parties[i].key, d, &dir.path().join(name), &url)
    };
    let nodes =
        [Node::start(config(0, "a")).await.expect("a"), Node::start(config(1, "b")).await.expect("b")];
    let [a, b] = [0, 1].map(|i| nodes[i].handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");

    // Instant mining makes blocks only for transactions: a miner gives the confirmations.
    let provider = parties[0].l1.provider().clone();
    let miner = {
        let provider = provider.clone();
        tokio::spawn(async move {
            loop {
                let _: Result<serde_json::Value, _> =
                    provider.raw_request("anvil_mine".into(), ("0x1",)).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let (id, _) = a.open(b.address(), Address::ZERO, 2 * ETH, 100).await.expect("open");
    wait_for("B to see the channel", async || b.channels().await.expect("channels").len() == 1).await;
    miner.abort();
    let _ = miner.await;

    let deposits = async || {
        let a_view = common::channel_with(&a, b.address()).await.theirs.deposit;
        let b_view = common::channel_with(&b, a.address()).await.ours.deposit;
        (a_view, b_view)
    };
    let b_contracts = ChannelContracts::new(&parties[1].l1, d);
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await.expect("snapshot");
    b_contracts.set_total_deposit(id, b.address(), U256::from(ETH), U256::from(ETH)).await.expect("deposit");
    mine(&parties[0], CONFIRMATIONS - 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deposits().await, (0, 0), "a deposit not yet {CONFIRMATIONS} blocks deep does not count");

    // The deposit's blocks are replaced by a longer branch without it.
    let reverted: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await.expect("revert");
    assert!(reverted);
    mine(&parties[0], 2 * CONFIRMATIONS + 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deposits().await, (0, 0), "the deposit the reorg removed never counted");
    let err = b.pay(a.address(), 1).await.expect_err("B has nothing to pay with");
    assert!(err.to_string().contains("capacity") || err.to_string().contains("exceeds"), "{err}");

    // The same deposit on the chain that stays counts once it is deep enough.
    b_contracts.set_total_deposit(id, b.address(), U256::from(ETH), U256::from(ETH)).await.expect("deposit");
    mine(&parties[0], CONFIRMATIONS).await;
    wait_for("both nodes to count the confirmed deposit", async || deposits().await == (ETH, ETH)).await;
    b.pay(a.address(), ETH / 2).await.expect("B pays with its deposit");
    for n in nodes {
        n.shutdown().await;
    }
}
