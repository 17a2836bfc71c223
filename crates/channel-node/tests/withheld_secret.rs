//! A target that withholds the secret, on the embedded devnet: A pays C through B; C asks A
//! for the secret, gets it, and never reveals it to B. Nobody upstream is paid, so every lock
//! must expire: B expires its lock to C, A finds the secret was never registered on L1 and
//! expires its lock to B, and all balances are what they were before the payment.

mod common;

use alloy::providers::Provider;
use alloy_primitives::{Address, U256};
use common::{ETH, node_config, setup, wait_for};
use loft_channel_node::node::{
    MediationConfig, Misbehaviour, Node, NodeConfig, NodeHandle, PaymentRole, PaymentStatus,
};
use loft_channels::route::{FeePolicy, RouteHop};

const FEE: FeePolicy = FeePolicy { fee_flat: 1_000, fee_ppm: 0, expiry_delta: 8 };

/// (our balance, our pending locks, their pending locks) in `node`'s channel with `partner`.
async fn view(node: &NodeHandle, partner: Address) -> (U256, usize, usize) {
    let c = common::channel_with(node, partner).await;
    (c.our_balance(), c.ours.locks.len(), c.theirs.locks.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_secret_locks_expire_and_refund() {
    common::trace_from_env();
    let (_devnet, url, d, parties) = setup(3).await;
    let dir = tempfile::tempdir().expect("dir");
    let mediation = MediationConfig { policy: FEE, reveal_timeout: 4, final_delta: 8 };
    let config = |i: usize, name: &str| NodeConfig {
        mediation,
        ..node_config(&parties[i].key, d, &dir.path().join(name), &url)
    };
    let nodes = [
        Node::start(config(0, "a")).await.expect("a"),
        Node::start(config(1, "b")).await.expect("b"),
        Node::start(NodeConfig { misbehaviour: Misbehaviour::WithholdSecret, ..config(2, "c") })
            .await
            .expect("c"),
    ];
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");
    b.connect(c.address(), c.listen_addr()).await.expect("connect");
    a.open(b.address(), Address::ZERO, 2 * ETH, 100).await.expect("open A-B");
    b.open(c.address(), Address::ZERO, 2 * ETH, 100).await.expect("open B-C");
    wait_for("C to see its channel", async || c.channels().await.expect("channels").len() == 1).await;

    let route = vec![
        RouteHop { node: b.address(), policy: FEE },
        RouteHop { node: c.address(), policy: FeePolicy::default() },
    ];
    let payment = {
        let a = a.clone();
        tokio::spawn(async move { a.pay_route(route, ETH / 10).await })
    };
    wait_for("the locks to reach C", async || view(&c, b.address()).await.2 == 1).await;
    wait_for("C to hold the payment", async || {
        c.payments().await.expect("payments").iter().any(|p| p.role == PaymentRole::Received)
    })
    .await;
    // C's SecretRequest and A's reveal take a few milliseconds (C dials A for them).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // C keeps the secret; past every lock's expiration the locks are expired off-chain.
    let _: serde_json::Value =
        parties[0].l1.provider().raw_request("anvil_mine".into(), ("0x20",)).await.expect("mine");
    let result =
        tokio::time::timeout(std::time::Duration::from_secs(20), payment).await.expect("ends").expect("join");
    let err = result.expect_err("the withheld payment does not complete");
    assert!(err.to_string().contains("expired"), "{err}");
    wait_for("every lock to be gone", async || {
        view(&a, b.address()).await.1 == 0
            && view(&b, a.address()).await.2 == 0
            && view(&b, c.address()).await.1 == 0
            && view(&c, b.address()).await.2 == 0
    })
    .await;
    assert_eq!(view(&a, b.address()).await.0, U256::from(2 * ETH), "A has all it deposited");
    assert_eq!(view(&b, a.address()).await.0, U256::ZERO, "B got nothing from A");
    assert_eq!(view(&b, c.address()).await.0, U256::from(2 * ETH), "B has all it deposited");
    assert_eq!(view(&c, b.address()).await.0, U256::ZERO, "C got nothing");
    let a_history = a.payments().await.expect("history");
    assert!(a_history.iter().all(|p| p.status == PaymentStatus::Expired), "{a_history:?}");
    for n in nodes {
        n.shutdown().await;
    }
}
