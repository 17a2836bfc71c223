//! Gossip and routing, on the embedded devnet: channels A-B, B-D, A-C, C-D; B forwards for
//! 1,000 wei, C for 0.001 ETH. A learns the graph by gossip and pays D along the cheapest
//! route (through B). Then B drains its channel to D while its announcement stays stale (it
//! re-announces at most once an hour here): A's next payment fails at B, A leaves that channel
//! out and pays through C instead. A payment above every route's capacity finds none.

use crate::common;

use std::time::Duration;

use crate::common::{ETH, node_config, setup, wait_for};
use alloy_primitives::Address;
use loft_channel_node::node::{MediationConfig, Node, NodeConfig, NodeHandle};
use loft_channels::route::FeePolicy;

const SETTLE_TIMEOUT: u64 = 200;

fn mediator(flat: u128) -> MediationConfig {
    MediationConfig {
        policy: FeePolicy { fee_flat: flat, fee_ppm: 0, expiry_delta: 10 },
        reveal_timeout: 4,
        final_delta: 8,
    }
}

async fn balance_with(node: &NodeHandle, partner: Address) -> u128 {
    u128::try_from(common::channel_with(node, partner).await.our_balance()).expect("fits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheapest_route_then_another_when_a_hop_fails() {
    common::trace_from_env();
    let (_devnet, url, d, parties) = setup(4).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = |i: usize, name: &str, m: MediationConfig, interval: Duration| NodeConfig {
        mediation: m,
        gossip_interval: interval,
        ..node_config(&parties[i].key, d, &dir.path().join(name), &url)
    };
    let fast = Duration::from_millis(100);
    let nodes = [
        Node::start(config(0, "a", mediator(0), fast)).await.expect("a"),
        Node::start(config(1, "b", mediator(1_000), Duration::from_secs(3600))).await.expect("b"),
        Node::start(config(2, "c", mediator(ETH / 1000), fast)).await.expect("c"),
        Node::start(config(3, "d", mediator(0), fast)).await.expect("d"),
    ];
    let [a, b, c, dd] = [0, 1, 2, 3].map(|i| nodes[i].handle());
    let mut ids = Vec::new();
    for (x, y) in [(&a, &b), (&a, &c), (&b, &dd), (&c, &dd)] {
        x.connect(y.address(), y.listen_addr()).await.expect("connect");
        ids.push(x.open(y.address(), Address::ZERO, 2 * ETH, SETTLE_TIMEOUT).await.expect("open").0);
    }
    let b_d = ids[2];
    let via = |r: Option<Vec<loft_channels::route::RouteHop>>| {
        r.map(|r| r.iter().map(|h| h.node).collect::<Vec<_>>())
    };
    wait_for("A to learn both routes to D", async || {
        via(a.route(dd.address(), ETH / 2, &[]).await.expect("route"))
            == Some(vec![b.address(), dd.address()])
            && via(a.route(dd.address(), ETH / 2, &[b_d]).await.expect("route"))
                == Some(vec![c.address(), dd.address()])
    })
    .await;
    let paid = a.pay_routed(dd.address(), ETH / 10).await.expect("through B");
    assert_eq!(paid.route, vec![b.address(), dd.address()]);
    assert_eq!(paid.report.fee, 1_000);
    assert!(paid.failed.is_empty());

    // B drains its channel to D; its announcement is not refreshed.
    b.pay(dd.address(), 2 * ETH - ETH / 10 - ETH / 20).await.expect("drain");
    let stale = a.route(dd.address(), ETH / 2, &[]).await.expect("route").expect("a route");
    assert_eq!(stale[0].node, b.address(), "A still believes B can carry it");
    let paid = a.pay_routed(dd.address(), ETH / 2).await.expect("through C after B fails");
    assert_eq!(paid.route, vec![c.address(), dd.address()]);
    assert_eq!(paid.report.fee, ETH / 1000);
    assert_eq!(paid.failed, vec![b_d], "one failed attempt, at B's channel to D");
    wait_for("D to hold what C paid", async || balance_with(&dd, c.address()).await == ETH / 2).await;

    let err = a.pay_routed(dd.address(), 10 * ETH).await.expect_err("no capacity anywhere");
    assert!(err.to_string().contains("no route"), "{err}");
    assert_eq!(balance_with(&dd, b.address()).await, 2 * ETH - ETH / 20);
    for n in nodes {
        n.shutdown().await;
    }
}
