//! Two nodes in one process, each with its own redb store, talking Noise over loopback, on a
//! channel opened on the embedded devnet: thousands of pipelined direct payments, a crash of
//! the receiver in the middle of a stream (its tasks aborted, its store reopened), and
//! exactly-once delivery afterwards: no payment lost or counted twice, both sides agree.

use std::time::Duration;

use crate::common::{ETH, node_config as config, setup, wait_for};
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::ChannelContracts,
    node::{Node, NodeHandle},
};

async fn balances(node: &NodeHandle) -> (U256, U256, u64) {
    let list = node.channels().await.expect("channels");
    let c = &list[0].channel;
    (c.our_balance(), c.partner_balance(), list[0].unacked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_payments_survive_a_receiver_crash() {
    let (_devnet, url, d, parties) = setup(2).await;
    let (alice_l1, alice_key, bob_key) = (&parties[0].l1, &parties[0].key, &parties[1].key);
    let dir = tempfile::tempdir().expect("dir");

    let alice = Node::start(config(alice_key, d, &dir.path().join("alice"), &url)).await.expect("alice");
    let bob = Node::start(config(bob_key, d, &dir.path().join("bob"), &url)).await.expect("bob");
    let (a, b) = (alice.handle(), bob.handle());
    ChannelContracts::new(alice_l1, d)
        .open_with_deposit(bob_key.address(), Address::ZERO, 40, U256::from(10 * ETH))
        .await
        .expect("open");
    wait_for("both nodes to see the channel", async || {
        let (x, y) = (a.channels().await.expect("a"), b.channels().await.expect("b"));
        x.len() == 1
            && y.len() == 1
            && x[0].channel.ours.deposit == 10 * ETH
            && y[0].channel.theirs.deposit == 10 * ETH
    })
    .await;
    a.connect(b.address(), b.listen_addr()).await.expect("connect");

    a.pay(b.address(), 1).await.expect("first payment");
    let report = a.pay_many(b.address(), 1_000, 5_000).await.expect("pay many");
    eprintln!(
        "5,000 persisted direct payments in {:?}: {:.0}/s",
        report.elapsed,
        5_000.0 / report.elapsed.as_secs_f64()
    );
    let sent = U256::from(1 + 5_000 * 1_000u128);
    assert_eq!(balances(&b).await.0, sent);
    assert_eq!(balances(&a).await.1, sent);

    // A stream of 3,000 more; Bob crashes after some of them and comes back from his store.
    let stream = {
        let a = a.clone();
        let to = b.address();
        tokio::spawn(async move { a.pay_many(to, 7, 3_000).await })
    };
    wait_for("Bob to receive part of the stream", async || balances(&b).await.0 > sent).await;
    assert!(!stream.is_finished(), "the crash comes in the middle of the stream");
    bob.shutdown().await;
    let bob = Node::start(config(bob_key, d, &dir.path().join("bob"), &url)).await.expect("bob again");
    let b = bob.handle();
    let (seen, _, _) = balances(&b).await;
    assert!(seen >= sent, "what Bob acknowledged before the crash is still there");
    eprintln!("Bob restarted with {} of the stream's 3,000 payments", (seen - sent) / U256::from(7));
    a.connect(b.address(), b.listen_addr()).await.expect("reconnect");
    let report =
        tokio::time::timeout(Duration::from_secs(60), stream).await.expect("stream ends").expect("join");
    report.expect("every payment of the stream is acknowledged");
    let total = sent + U256::from(3_000 * 7u128);
    wait_for("Bob to have every payment", async || balances(&b).await.0 == total).await;
    let (alice_ours, alice_theirs, unacked) = balances(&a).await;
    assert_eq!(alice_theirs, total, "both agree");
    assert_eq!(alice_ours, U256::from(10 * ETH) - total);
    assert_eq!(unacked, 0);
    let stats = b.store_stats().await.expect("stats");
    eprintln!("bob's store after restart: {} commits of {} batches", stats.commits, stats.batches);
    alice.shutdown().await;
    bob.shutdown().await;
}
