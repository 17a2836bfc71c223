//! A target that withholds the secret, on the embedded devnet: A pays C through B; C asks A
//! for the secret, gets it, and never reveals it to B. Nobody upstream is paid, so every lock
//! must expire: B expires its lock to C, A finds the secret was never registered on L1 and
//! expires its lock to B, and all balances are what they were before the payment.
//!
//! Then the same target turns the expired lock against its payer: it closes with the payer's
//! older proof, the one that still held the lock. The payer rebuilds that proof's locks from
//! its lock log after the settlement and unlocks them, so the amount comes back to it on L1.

use crate::common;

use crate::common::{ETH, node_config, setup, view, wait_for};
use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::{ChannelContracts, ChannelManager},
    node::{MediationConfig, Misbehaviour, Node, NodeConfig, PaymentRole, PaymentStatus},
};
use loft_channels::route::{FeePolicy, RouteHop};

const FEE: FeePolicy = FeePolicy { fee_flat: 1_000, fee_ppm: 0, expiry_delta: 8 };

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
    let nodes = common::line_of_three(
        [
            config(0, "a"),
            config(1, "b"),
            NodeConfig { misbehaviour: Misbehaviour::WithholdSecret, ..config(2, "c") },
        ],
        100,
    )
    .await;
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].handle());

    let payment = common::pay_a_to_c(&nodes, FEE, ETH / 10);
    wait_for("the locks to reach C", async || view(&c, b.address()).await.2 == 1).await;
    wait_for("C to hold the payment", async || {
        c.payments().await.expect("payments").iter().any(|p| p.role == PaymentRole::Received)
    })
    .await;
    // C's SecretRequest and A's reveal take a few milliseconds (C dials A for them).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // C keeps the secret; past every lock's expiration the locks are expired off-chain.
    common::mine(&parties[0], 0x20).await;
    let result =
        tokio::time::timeout(std::time::Duration::from_secs(20), payment).await.expect("ends").expect("join");
    let err = result.expect_err("the withheld payment does not complete");
    assert!(err.to_string().contains("expired"), "{err}");
    common::wait_no_locks(&nodes).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_with_an_older_proof_returns_its_expired_lock() {
    common::trace_from_env();
    const SETTLE_TIMEOUT: u64 = 20;
    let (_devnet, url, d, parties) = setup(2).await;
    let dir = tempfile::tempdir().expect("dir");
    let mediation = MediationConfig { policy: FEE, reveal_timeout: 4, final_delta: 8 };
    let config = |i: usize, name: &str| NodeConfig {
        mediation,
        ..node_config(&parties[i].key, d, &dir.path().join(name), &url)
    };
    let a_node = Node::start(config(0, "a")).await.expect("a");
    let b_node = Node::start(NodeConfig { misbehaviour: Misbehaviour::WithholdSecret, ..config(1, "b") })
        .await
        .expect("b");
    let (a, b) = (a_node.handle(), b_node.handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");
    let id = a.open(b.address(), Address::ZERO, 2 * ETH, SETTLE_TIMEOUT).await.expect("open A-B").0;
    wait_for("B to see its channel", async || b.channels().await.expect("channels").len() == 1).await;
    a.pay(b.address(), 3 * ETH / 10).await.expect("a direct payment");

    let route = vec![RouteHop { node: b.address(), policy: FeePolicy::default() }];
    let payment = {
        let a = a.clone();
        tokio::spawn(async move { a.pay_route(route, ETH / 10).await })
    };
    wait_for("the lock to reach B", async || view(&b, a.address()).await.2 == 1).await;
    let older = common::channel_with(&b, a.address()).await.theirs.proof.expect("A's proof with the lock");
    assert_eq!((older.proof.transferred, older.proof.locked), (3 * ETH / 10, ETH / 10));

    // B keeps the secret; past the expiration A expires the lock off-chain.
    common::mine(&parties[0], 0x20).await;
    let result =
        tokio::time::timeout(std::time::Duration::from_secs(20), payment).await.expect("ends").expect("join");
    assert!(result.expect_err("withheld").to_string().contains("expired"));
    wait_for("the lock to be expired on both sides", async || {
        view(&a, b.address()).await.1 == 0 && view(&b, a.address()).await.2 == 0
    })
    .await;
    assert!(common::channel_with(&a, b.address()).await.ours.nonce() > older.proof.nonce);

    // B stops its node and closes with A's older proof, where 0.1 ETH is still locked.
    b_node.shutdown().await;
    ChannelContracts::new(&parties[1].l1, d)
        .close(id, Some(&older))
        .await
        .expect("B's close with the older proof");
    common::mine(&parties[0], SETTLE_TIMEOUT + 1).await;

    let provider = parties[0].l1.provider();
    let logs = async |signature| {
        provider
            .get_logs(&Filter::new().address(d.channel_manager).event_signature(signature).from_block(0))
            .await
            .expect("logs")
    };
    let mut unlocked = Vec::new();
    wait_for("A to unlock the older proof's lock", async || {
        unlocked = logs(ChannelManager::ChannelUnlocked::SIGNATURE_HASH).await;
        !unlocked.is_empty()
    })
    .await;
    let settled = logs(ChannelManager::ChannelSettled::SIGNATURE_HASH).await;
    assert_eq!(settled.len(), 1, "A's node settled");
    let s = settled[0].log_decode::<ChannelManager::ChannelSettled>().expect("settled").inner.data;
    let (a_amount, a_locked, b_amount) = if a.address() < b.address() {
        (s.amount1, s.locked1, s.amount2)
    } else {
        (s.amount2, s.locked2, s.amount1)
    };
    assert_eq!(a_amount, U256::from(2 * ETH - 4 * ETH / 10), "A's deposit less the transfer and the lock");
    assert_eq!(a_locked, U256::from(ETH / 10), "the older proof's lock is held for unlock");
    assert_eq!(b_amount, U256::from(3 * ETH / 10), "B is paid what A transferred");
    let u = unlocked[0].log_decode::<ChannelManager::ChannelUnlocked>().expect("unlocked").inner.data;
    assert_eq!((u.sender, u.receiver), (a.address(), b.address()));
    assert_eq!(u.returnedAmount, U256::from(ETH / 10), "the expired lock returns to A");
    assert_eq!(u.unlockedAmount, U256::ZERO);
    assert_eq!(provider.get_balance(d.channel_manager).await.expect("balance"), U256::ZERO);
    wait_for("A to be done with the settled locks", async || {
        common::channel_with(&a, b.address()).await.ours.locks.is_empty()
    })
    .await;
    a_node.shutdown().await;
}
