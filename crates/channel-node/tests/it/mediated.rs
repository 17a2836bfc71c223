//! Mediated payments between three nodes in one process (own stores, Noise over loopback) on
//! channels A-B and B-C opened on the embedded devnet: A pays C through B, who earns its fee;
//! then a payment B can not forward (not enough capacity towards C) fails back to A, and when
//! the locks expire every balance returns to where it was.

use crate::common;

use std::time::Duration;

use crate::common::{ETH, node_config, setup, wait_for};
use alloy::providers::Provider;
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::{ChannelContracts, ChannelDeployment},
    node::{MediationConfig, Node, NodeConfig, NodeHandle, PaymentRecord, PaymentRole, PaymentStatus},
};
use loft_channels::{
    SigningKey,
    route::{FeePolicy, RouteHop},
};
const FEE: FeePolicy = FeePolicy { fee_flat: 1_000, fee_ppm: 100, expiry_delta: 8 };

fn config(key: &SigningKey, d: ChannelDeployment, dir: &std::path::Path, url: &str) -> NodeConfig {
    NodeConfig {
        mediation: MediationConfig { policy: FEE, reveal_timeout: 4, final_delta: 8 },
        ..node_config(key, d, dir, url)
    }
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
    common::trace_from_env();
    let (_devnet, url, d, parties) = setup(3).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut nodes = Vec::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        nodes
            .push(Node::start(config(&parties[i].key, d, &dir.path().join(name), &url)).await.expect("node"));
    }
    let (a, b, c) = (nodes[0].handle(), nodes[1].handle(), nodes[2].handle());
    // A-B: A deposits 2 ETH; B-C: B deposits 1 ETH.
    ChannelContracts::new(&parties[0].l1, d)
        .open_with_deposit(b.address(), Address::ZERO, 100, U256::from(2 * ETH))
        .await
        .expect("open A-B");
    ChannelContracts::new(&parties[1].l1, d)
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
        parties[0].l1.provider().raw_request("anvil_mine".into(), ("0x20",)).await.expect("mine");
    wait_for("the failed payment's lock to expire", async || {
        view(&a, b.address()).await.is_some_and(|v| v.2 == 0)
            && view(&b, a.address()).await.is_some_and(|v| v.2 == 0)
    })
    .await;
    assert_eq!(view(&a, b.address()).await.expect("A-B").0, a_before);
    assert_eq!(view(&a, b.address()).await.expect("A-B").0, U256::from(2 * ETH - 5 * (amount + fee)));

    // The history: five completed and one expired payment for A, five forwarded ones with
    // their fees for B, five received ones for C.
    let count = |records: &[PaymentRecord], role, status| {
        records.iter().filter(|r| r.role == role && r.status == status).count()
    };
    let a_history = a.payments().await.expect("A's payments");
    assert_eq!(count(&a_history, PaymentRole::Sent, PaymentStatus::Completed), 5);
    assert_eq!(count(&a_history, PaymentRole::Sent, PaymentStatus::Expired), 1);
    assert!(a_history.iter().all(|r| r.counterparty == c.address()));
    assert!(
        a_history
            .iter()
            .filter(|r| r.status == PaymentStatus::Completed)
            .all(|r| r.amount == amount && r.fee == fee)
    );
    let b_history = b.payments().await.expect("B's payments");
    assert_eq!(count(&b_history, PaymentRole::Forwarded, PaymentStatus::Completed), 5);
    assert!(b_history.iter().all(|r| r.counterparty == c.address()));
    let c_history = c.payments().await.expect("C's payments");
    assert_eq!(count(&c_history, PaymentRole::Received, PaymentStatus::Completed), 5);
    assert!(c_history.iter().all(|r| r.counterparty == a.address() && r.amount == amount));

    // B, the mediator, crashes in the middle of a stream of payments and restarts from its
    // store on the same port; every payment ends, and nobody loses anything.
    let small = ETH / 100;
    let stream = {
        let (a, route) = (a.clone(), route.clone());
        tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..10 {
                results.push(a.pay_route(route.clone(), small).await.map(|r| r.fee));
            }
            results
        })
    };
    let before_c = U256::from(5 * amount);
    wait_for("two payments of the stream at C", async || {
        view(&c, b.address()).await.is_some_and(|v| v.0 >= before_c + U256::from(2 * small))
    })
    .await;
    let b_listen = b.listen_addr();
    nodes.remove(1).shutdown().await;
    let restarted = Node::start(NodeConfig {
        listen: b_listen,
        ..config(&parties[1].key, d, &dir.path().join("b"), &url)
    })
    .await
    .expect("B restarts");
    let b = restarted.handle();
    nodes.insert(1, restarted);
    let results =
        tokio::time::timeout(Duration::from_secs(60), stream).await.expect("stream ends").expect("join");
    let succeeded = results.iter().filter(|r| r.is_ok()).count() as u128;
    eprintln!(
        "after B's crash: {succeeded} of 10 payments succeeded, {:?}",
        results.iter().filter(|r| r.is_err()).collect::<Vec<_>>()
    );
    // Whatever failed expires; then no lock is left anywhere.
    let _: serde_json::Value =
        parties[0].l1.provider().raw_request("anvil_mine".into(), ("0x20",)).await.expect("mine");
    wait_for("no pending lock on any channel", async || {
        view(&a, b.address()).await.is_some_and(|v| v.2 == 0)
            && view(&b, a.address()).await.is_some_and(|v| v.2 == 0)
            && view(&b, c.address()).await.is_some_and(|v| v.2 == 0)
            && view(&c, b.address()).await.is_some_and(|v| v.2 == 0)
    })
    .await;
    let a_paid = U256::from(2 * ETH) - view(&a, b.address()).await.expect("A-B").0;
    let c_got = view(&c, b.address()).await.expect("C-B").0;
    let b_total = view(&b, a.address()).await.expect("B-A").0 + view(&b, c.address()).await.expect("B-C").0;
    let b_fees = b_total - U256::from(ETH);
    assert_eq!(c_got, U256::from(5 * amount + succeeded * small), "C got every successful payment");
    assert_eq!(a_paid, c_got + b_fees, "what A paid is exactly what C got plus B's fees");
    assert_eq!(b_fees, U256::from(5 * fee + succeeded * FEE.fee(small).expect("fee")));
    assert_eq!(
        view(&a, b.address()).await.expect("A-B").1,
        view(&b, a.address()).await.expect("B-A").0,
        "A and B agree"
    );
    assert_eq!(
        view(&c, b.address()).await.expect("C-B").1,
        view(&b, c.address()).await.expect("B-C").0,
        "B and C agree"
    );
    for node in nodes {
        node.shutdown().await;
    }
}
