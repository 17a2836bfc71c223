//! Mediated payments between three nodes in one process (own stores, Noise over loopback) on
//! channels A-B and B-C opened on the embedded devnet: A pays C through B, who earns its fee;
//! then a payment B can not forward (not enough capacity towards C) fails back to A, and when
//! the locks expire every balance returns to where it was.

use std::time::Duration;

use alloy::providers::Provider;
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::{ChannelContracts, ChannelDeployment, deploy},
    node::{MediationConfig, Node, NodeConfig, NodeHandle},
};
use loft_channels::{
    SigningKey,
    route::{FeePolicy, RouteHop},
};
use loft_l1::{Devnet, DevnetConfig, L1Client};
use loft_rpc::MiningMode;

const ETH: u128 = 1_000_000_000_000_000_000;
const FEE: FeePolicy = FeePolicy { fee_flat: 1_000, fee_ppm: 100, expiry_delta: 8 };

fn config(key: &SigningKey, d: ChannelDeployment, dir: &std::path::Path, url: &str) -> NodeConfig {
    NodeConfig {
        key: key.clone(),
        deployment: d,
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        l1_url: url.to_string(),
        l1_poll: Duration::from_millis(50),
        mediation: MediationConfig { policy: FEE, reveal_timeout: 4, final_delta: 8 },
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..800 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// (our balance, partner balance, our pending locks) of `node`'s channel with `partner`.
async fn view(node: &NodeHandle, partner: Address) -> Option<(U256, U256, usize)> {
    let list = node.channels().await.expect("channels");
    list.into_iter().find(|c| c.channel.partner == partner).map(|c| {
        (
            c.channel.our_balance(),
            c.channel.partner_balance(),
            c.channel.ours.locks.len() + c.channel.theirs.locks.len(),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pays_c_through_b_and_a_failed_payment_refunds() {
    // RUST_LOG=loft_channel_node=debug shows the nodes' decisions.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let devnet = Devnet::start(DevnetConfig {
        addr: "127.0.0.1:0".parse().expect("addr"),
        mining: MiningMode::Instant,
        ..Default::default()
    })
    .await
    .expect("devnet");
    let url = devnet.url();
    let signers = loft_l1::dev_signers(3).expect("keys");
    let mut l1 = Vec::new();
    let mut keys = Vec::new();
    for s in &signers {
        l1.push(L1Client::connect(&url, s.clone()).await.expect("l1"));
        keys.push(SigningKey::from_bytes(&s.to_bytes().0).expect("key"));
    }
    let d = deploy(&l1[2], 10, 1000).await.expect("deploy");
    let dir = tempfile::tempdir().expect("dir");
    let mut nodes = Vec::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        nodes.push(Node::start(config(&keys[i], d, &dir.path().join(name), &url)).await.expect("node"));
    }
    let (a, b, c) = (nodes[0].handle(), nodes[1].handle(), nodes[2].handle());
    // A-B: A deposits 2 ETH; B-C: B deposits 1 ETH.
    ChannelContracts::new(&l1[0], d)
        .open_with_deposit(b.address(), Address::ZERO, 100, U256::from(2 * ETH))
        .await
        .expect("open A-B");
    ChannelContracts::new(&l1[1], d)
        .open_with_deposit(c.address(), Address::ZERO, 100, U256::from(ETH))
        .await
        .expect("open B-C");
    wait_for("the channels at every node", async || {
        view(&b, a.address()).await.is_some()
            && view(&b, c.address()).await.is_some()
            && view(&a, b.address()).await.is_some_and(|v| v.0 == U256::from(2 * ETH))
            && view(&c, b.address()).await.is_some_and(|v| v.1 == U256::from(ETH))
    })
    .await;
    a.connect(b.address(), b.listen_addr()).await.expect("A-B");
    b.connect(c.address(), c.listen_addr()).await.expect("B-C");
    // The target asks the initiator for the secret directly.
    c.connect(a.address(), a.listen_addr()).await.expect("C-A");

    let route = vec![
        RouteHop { node: b.address(), policy: FEE },
        RouteHop { node: c.address(), policy: FeePolicy::default() },
    ];
    let amount = ETH / 10;
    let fee = FEE.fee(amount).expect("fee");
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let report = a.pay_route(route.clone(), amount).await.expect("mediated payment");
        assert_eq!(report.fee, fee);
        latencies.push(report.elapsed);
    }
    eprintln!("2-hop payments: {latencies:?}");
    wait_for("every lock to be unlocked", async || {
        view(&c, b.address()).await.is_some_and(|v| v.0 == U256::from(5 * amount) && v.2 == 0)
            && view(&b, a.address()).await.is_some_and(|v| v.2 == 0)
    })
    .await;
    assert_eq!(view(&a, b.address()).await.expect("A-B").0, U256::from(2 * ETH - 5 * (amount + fee)));
    let (b_ab, _, _) = view(&b, a.address()).await.expect("B-A");
    let (b_bc, _, _) = view(&b, c.address()).await.expect("B-C");
    assert_eq!(b_ab + b_bc, U256::from(ETH + 5 * fee), "B keeps exactly its fees");

    // B has 0.5 ETH left towards C: a 0.6 ETH payment fails at B and A hears of it.
    let err = a.pay_route(route.clone(), 6 * ETH / 10).await.expect_err("fails");
    assert!(err.to_string().contains("payment failed"), "{err}");
    let (a_before, _, locks) = view(&a, b.address()).await.expect("A-B");
    assert_eq!(locks, 1, "A's lock to B stays until it expires");
    // Past the lock's expiration, A expires it and B accepts: A's balance is whole again.
    let _: serde_json::Value =
        l1[0].provider().raw_request("anvil_mine".into(), ("0x20",)).await.expect("mine");
    wait_for("the failed payment's lock to expire", async || {
        view(&a, b.address()).await.is_some_and(|v| v.2 == 0)
            && view(&b, a.address()).await.is_some_and(|v| v.2 == 0)
    })
    .await;
    assert_eq!(view(&a, b.address()).await.expect("A-B").0, a_before);
    assert_eq!(view(&a, b.address()).await.expect("A-B").0, U256::from(2 * ETH - 5 * (amount + fee)));
    for node in nodes {
        node.shutdown().await;
    }
}
