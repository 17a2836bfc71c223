//! The watchtower, on the embedded devnet: Alice's node hands its watchtower Bob's newest
//! proof after every change (coalesced), the watchtower keeps it on disk (it is restarted and
//! still has it), refuses requests whose delegation or participants are wrong, and when Bob
//! closes the channel while Alice is offline (leaving out everything he paid her) it submits
//! his newest proof before the settle period ends: the settlement pays Alice all she is due.

use crate::common;

use std::time::Duration;

use crate::common::{ETH, node_config, setup, wait_for};
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::ChannelDeployment,
    node::{Node, NodeHandle},
    transport::{self, NoiseIdentity},
    watchtower::{Watchtower, WatchtowerConfig, error_code},
};
use loft_channels::{
    ChannelDomain, ChannelStatus, SigningKey,
    wire::{Message, MonitorRequest},
};
use tokio::net::TcpStream;

const SETTLE_TIMEOUT: u64 = 20;

async fn channel(node: &NodeHandle, id: u64) -> Option<loft_channels::Channel> {
    node.channels().await.expect("channels").into_iter().find(|c| c.channel.id == id).map(|c| c.channel)
}

/// A watchtower of `key` with its store in `dir`/tower, polling L1 every 50 ms.
fn tower_config(
    key: &SigningKey,
    d: ChannelDeployment,
    dir: &std::path::Path,
    url: &str,
) -> WatchtowerConfig {
    WatchtowerConfig {
        key: key.clone(),
        deployment: d,
        data_dir: dir.join("tower"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        l1_url: url.to_string(),
        l1_poll: Duration::from_millis(50),
    }
}

/// Hands `tower` one request as the owner of `key` over a fresh connection; its answer.
async fn ask(
    tower: &Watchtower,
    key: &SigningKey,
    domain: ChannelDomain,
    request: MonitorRequest,
) -> Message {
    let identity = NoiseIdentity::new(key, domain);
    let stream = TcpStream::connect(tower.listen_addr()).await.expect("dial");
    let mut conn = transport::connect(stream, &identity, Some(tower.address())).await.expect("handshake");
    conn.writer.send(&Message::MonitorRequest(request)).await.expect("send");
    conn.writer.flush().await.expect("flush");
    conn.reader.recv().await.expect("answer")
}

/// Waits for `tower` to get the proof of `nonce` mined, mines past the settle period and
/// waits for `closer`'s node to settle.
async fn tower_update_then_settle(
    tower: &Watchtower,
    party: &common::Party,
    closer: &NodeHandle,
    id: u64,
    nonce: u64,
) {
    wait_for("the watchtower's update to be mined", async || {
        tower.monitored().iter().any(|m| m.channel == id && m.submitted == nonce)
    })
    .await;
    common::mine(party, SETTLE_TIMEOUT + 2).await;
    wait_for("the closer's node to settle", async || {
        channel(closer, id).await.is_some_and(|c| c.status == ChannelStatus::Settled)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_alice_is_saved_by_her_watchtower() {
    let (_devnet, url, d, parties) = setup(3).await;
    let (alice_key, bob_key, tower_key) = (&parties[0].key, &parties[1].key, &parties[2].key);
    let dir = tempfile::tempdir().expect("dir");
    let tower_config = tower_config(tower_key, d, dir.path(), &url);
    let tower = Watchtower::start(tower_config.clone()).await.expect("watchtower");
    let tower_at = (tower.address(), tower.listen_addr());
    let alice = Node::start(loft_channel_node::node::NodeConfig {
        watchtower: Some(tower_at),
        ..node_config(alice_key, d, &dir.path().join("alice"), &url)
    })
    .await
    .expect("alice");
    let bob = Node::start(node_config(bob_key, d, &dir.path().join("bob"), &url)).await.expect("bob");
    let (a, b) = (alice.handle(), bob.handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");

    let (id, _) = a.open(b.address(), Address::ZERO, 3 * ETH, SETTLE_TIMEOUT).await.expect("open");
    b.deposit(id, 3 * ETH).await.expect("bob deposits");
    wait_for("alice to see bob's deposit", async || {
        channel(&a, id).await.is_some_and(|c| c.theirs.deposit == 3 * ETH)
    })
    .await;
    a.pay_many(b.address(), ETH / 10, 10).await.expect("alice pays");
    b.pay_many(a.address(), ETH / 20, 30).await.expect("bob pays");
    wait_for("the watchtower to hold bob's nonce-30 proof", async || {
        tower
            .monitored()
            .iter()
            .any(|m| m.channel == id && m.client == a.address() && m.proof.proof.nonce == 30)
    })
    .await;

    // A request the tower must refuse: Bob asks for Alice's channel with a delegation that
    // is not his own signature.
    let domain = d.domain();
    let alices_proof = channel(&b, id).await.expect("channel").theirs.proof.expect("alice's proof");
    let forged = MonitorRequest {
        channel_id: id,
        closer: a.address(),
        proof: alices_proof,
        delegation: alice_key.sign_digest(&alices_proof.update_authorization_digest(&domain, b.address())),
    };
    match ask(&tower, bob_key, domain, forged).await {
        Message::Error { code, text } => {
            assert_eq!(code, error_code::INVALID);
            assert!(text.contains("delegation"), "{text}");
        }
        other => panic!("a forged delegation must be refused, got {other:?}"),
    }
    assert_eq!(tower.monitored().len(), 1, "nothing kept for the forged request");

    // The watchtower restarts from its store and still watches the channel.
    tower.shutdown().await;
    let tower =
        Watchtower::start(WatchtowerConfig { listen: tower_at.1, ..tower_config }).await.expect("restart");
    assert!(tower.monitored().iter().any(|m| m.channel == id && m.proof.proof.nonce == 30));

    // Alice goes offline; Bob closes with her proof only, leaving out his 1.5 ETH to her.
    let a_l1 = alice.handle().address();
    alice.shutdown().await;
    let alice_before = parties[0].l1.balance(a_l1).await.expect("balance");
    b.close_unilateral(id).await.expect("bob closes");
    // Past the settle period Bob's node settles; the tower's proof counts.
    tower_update_then_settle(&tower, &parties[1], &b, id, 30).await;
    let alice_after = parties[0].l1.balance(a_l1).await.expect("balance");
    assert_eq!(
        alice_after - alice_before,
        U256::from(3 * ETH - ETH + 30 * ETH / 20),
        "alice gets her deposit less what she paid plus everything bob paid her"
    );
    wait_for("the watchtower to forget the settled channel", async || tower.monitored().is_empty()).await;
    tower.shutdown().await;
    bob.shutdown().await;
}

/// Alice hands her watchtower Bob's newest proof only after Bob closed (the close's log went
/// by before the tower watched the channel): the tower reads the close from the channel and
/// still submits the proof in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_the_close_is_still_acted_on() {
    let (_devnet, url, d, parties) = setup(3).await;
    let (alice_key, bob_key, tower_key) = (&parties[0].key, &parties[1].key, &parties[2].key);
    let dir = tempfile::tempdir().expect("dir");
    let alice = Node::start(node_config(alice_key, d, &dir.path().join("alice"), &url)).await.expect("alice");
    let bob = Node::start(node_config(bob_key, d, &dir.path().join("bob"), &url)).await.expect("bob");
    let (a, b) = (alice.handle(), bob.handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");
    let (id, _) = a.open(b.address(), Address::ZERO, ETH, SETTLE_TIMEOUT).await.expect("open");
    b.deposit(id, ETH).await.expect("bob deposits");
    wait_for("alice to see bob's deposit", async || {
        channel(&a, id).await.is_some_and(|c| c.theirs.deposit == ETH)
    })
    .await;
    b.pay_many(a.address(), ETH / 10, 5).await.expect("bob pays");
    let bobs_proof = channel(&a, id).await.expect("channel").theirs.proof.expect("bob's proof");
    assert_eq!(bobs_proof.proof.nonce, 5);
    let a_l1 = a.address();
    alice.shutdown().await;
    let alice_before = parties[0].l1.balance(a_l1).await.expect("balance");
    b.close_unilateral(id).await.expect("bob closes");

    let tower = Watchtower::start(tower_config(tower_key, d, dir.path(), &url)).await.expect("watchtower");
    // Its L1 follower polls every 50 ms: by now it has gone past the close.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let domain = d.domain();
    let request = MonitorRequest {
        channel_id: id,
        closer: b.address(),
        proof: bobs_proof,
        delegation: alice_key.sign_digest(&bobs_proof.update_authorization_digest(&domain, a_l1)),
    };
    match ask(&tower, alice_key, domain, request).await {
        Message::MonitorAck { channel_id, nonce } => assert_eq!((channel_id, nonce), (id, 5)),
        other => panic!("expected an ack, got {other:?}"),
    }
    tower_update_then_settle(&tower, &parties[1], &b, id, 5).await;
    let alice_after = parties[0].l1.balance(a_l1).await.expect("balance");
    assert_eq!(alice_after - alice_before, U256::from(ETH + 5 * ETH / 10), "alice gets all bob paid her");
    tower.shutdown().await;
    bob.shutdown().await;
}
