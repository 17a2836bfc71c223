//! Mediated payments whose secret goes through L1, on the embedded devnet:
//!
//! - a target that keeps the secret from its payer and reveals it only by registering it
//!   on L1 just before its lock expires: its payer learns it from the registry's log, pays it
//!   off-chain and is paid upstream; every fee ends where it should and no channel closes;
//! - a payer that never unlocks and tries to expire a lock whose secret was registered in
//!   time: the target refuses the expiry, closes with the payer's newest proof, settles and
//!   unlocks the lock on L1, and is paid to the wei.

use crate::common;

use crate::common::{ETH, Party, mine, node_config, setup, view, wait_for};
use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use alloy_primitives::{Address, B256, U256};
use loft_channel_node::{
    contracts::{ChannelContracts, ChannelDeployment, ChannelManager},
    node::{MediationConfig, Misbehaviour, Node, NodeConfig, NodeHandle, PaymentRole, PaymentStatus},
};
use loft_channels::{
    ChannelStatus, Lock,
    route::{FeePolicy, RouteHop},
};

const FEE: FeePolicy = FeePolicy { fee_flat: 1_000, fee_ppm: 0, expiry_delta: 8 };
const REVEAL_TIMEOUT: u64 = 4;
const SETTLE_TIMEOUT: u64 = 100;

fn mediation() -> MediationConfig {
    MediationConfig { policy: FEE, reveal_timeout: REVEAL_TIMEOUT, final_delta: 8 }
}

/// The lock `node` holds from `payer`, once it has one and has the payment's secret.
async fn held_lock(node: &NodeHandle, payer: Address) -> Lock {
    wait_for("the lock to reach its target", async || view(node, payer).await.2 == 1).await;
    wait_for("the target to hold the payment", async || {
        node.payments().await.expect("payments").iter().any(|p| p.role == PaymentRole::Received)
    })
    .await;
    // The SecretRequest and the initiator's reveal take a few milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    *common::channel_with(node, payer).await.theirs.locks.iter().next().expect("a lock")
}

/// Mines up to the block at which a payee registers the secret of `lock`, then waits for
/// the registration; returns its block.
async fn registered(party: &Party, d: ChannelDeployment, lock: &Lock) -> u64 {
    let head = party.l1.provider().get_block_number().await.expect("head");
    let deadline = lock.expiration - REVEAL_TIMEOUT;
    assert!(head < deadline, "the test mines to the registration deadline ({head} >= {deadline})");
    mine(party, deadline - head).await;
    let contracts = ChannelContracts::new(&party.l1, d);
    let mut block = 0;
    wait_for("the secret's registration on L1", async || {
        block = contracts.secret_reveal_block(lock.secrethash).await.expect("registry");
        block != 0
    })
    .await;
    assert!(block <= lock.expiration, "registered in time: block {block}, expiration {}", lock.expiration);
    block
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_revealed_only_on_chain_still_pays_every_hop() {
    common::trace_from_env();
    let (_devnet, url, d, parties) = setup(3).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = |i: usize, name: &str| NodeConfig {
        mediation: mediation(),
        ..node_config(&parties[i].key, d, &dir.path().join(name), &url)
    };
    let nodes = common::line_of_three(
        [
            config(0, "a"),
            config(1, "b"),
            NodeConfig { misbehaviour: Misbehaviour::RevealOnChainOnly, ..config(2, "c") },
        ],
        SETTLE_TIMEOUT,
    )
    .await;
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].handle());

    let payment = common::pay_a_to_c(&nodes, FEE, ETH / 10);
    let lock = held_lock(&c, b.address()).await;
    assert_eq!(view(&b, c.address()).await.1, 1, "C did not reveal the secret to B: B's lock is pending");
    registered(&parties[0], d, &lock).await;

    let report = tokio::time::timeout(std::time::Duration::from_secs(20), payment)
        .await
        .expect("ends")
        .expect("join")
        .expect("the payment completes through the registry");
    assert_eq!(report.fee, 1_000);
    common::wait_no_locks(&nodes).await;
    let paid = ETH / 10;
    assert_eq!(view(&a, b.address()).await.0, U256::from(2 * ETH - paid - 1_000), "A paid amount and fee");
    assert_eq!(view(&b, a.address()).await.0, U256::from(paid + 1_000), "B was paid with its fee");
    assert_eq!(view(&b, c.address()).await.0, U256::from(2 * ETH - paid), "B paid C");
    assert_eq!(view(&c, b.address()).await.0, U256::from(paid), "C was paid");
    for (node, role) in [(&a, PaymentRole::Sent), (&b, PaymentRole::Forwarded), (&c, PaymentRole::Received)] {
        let history = node.payments().await.expect("history");
        assert!(
            history.iter().any(|p| p.role == role && p.status == PaymentStatus::Completed),
            "{role:?}: {history:?}"
        );
    }
    for node in [&a, &b, &c] {
        let channels = node.channels().await.expect("channels");
        assert!(channels.iter().all(|c| c.channel.status == ChannelStatus::Opened), "no channel closed");
    }
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payer_that_never_unlocks_loses_the_lock_on_chain() {
    common::trace_from_env();
    let (_devnet, url, d, parties) = setup(2).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = |i: usize, name: &str| NodeConfig {
        mediation: mediation(),
        ..node_config(&parties[i].key, d, &dir.path().join(name), &url)
    };
    let nodes = [
        Node::start(NodeConfig { misbehaviour: Misbehaviour::NeverUnlock, ..config(0, "a") })
            .await
            .expect("a"),
        Node::start(config(1, "b")).await.expect("b"),
    ];
    let [a, b] = [0, 1].map(|i| nodes[i].handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");
    let id = a.open(b.address(), Address::ZERO, 2 * ETH, SETTLE_TIMEOUT).await.expect("open A-B").0;
    wait_for("B to see its channel", async || b.channels().await.expect("channels").len() == 1).await;

    let route = vec![RouteHop { node: b.address(), policy: FeePolicy::default() }];
    let payment = {
        let a = a.clone();
        tokio::spawn(async move { a.pay_route(route, ETH / 10).await })
    };
    let lock = held_lock(&b, a.address()).await;
    let reveal_block = registered(&parties[0], d, &lock).await;

    // Past the expiration A expires the lock (B refuses: it knows the secret, registered in
    // time) and B closes with A's proof that holds it.
    mine(&parties[0], lock.expiration + 3 - reveal_block).await;
    let err = tokio::time::timeout(std::time::Duration::from_secs(20), payment)
        .await
        .expect("ends")
        .expect("join")
        .expect_err("the cheating payer calls its payment expired");
    assert!(err.to_string().contains("expired"), "{err}");
    wait_for("B to close the channel", async || {
        matches!(common::channel_with(&b, a.address()).await.status, ChannelStatus::Closed { closer, .. } if closer == b.address())
    })
    .await;
    assert_eq!(view(&b, a.address()).await.2, 1, "B still holds A's lock: the expiry was refused");

    mine(&parties[0], SETTLE_TIMEOUT + 1).await;
    let provider = parties[0].l1.provider();
    let logs = async |signature: B256| {
        provider
            .get_logs(&Filter::new().address(d.channel_manager).event_signature(signature).from_block(0))
            .await
            .expect("logs")
    };
    let mut unlocked = Vec::new();
    wait_for("the lock to be unlocked on L1", async || {
        unlocked = logs(ChannelManager::ChannelUnlocked::SIGNATURE_HASH).await;
        !unlocked.is_empty()
    })
    .await;
    let settled = logs(ChannelManager::ChannelSettled::SIGNATURE_HASH).await;
    assert_eq!(settled.len(), 1, "one settlement");
    let s = settled[0].log_decode::<ChannelManager::ChannelSettled>().expect("settled").inner.data;
    let (a_amount, a_locked, b_amount) = if a.address() < b.address() {
        (s.amount1, s.locked1, s.amount2)
    } else {
        (s.amount2, s.locked2, s.amount1)
    };
    assert_eq!(s.id, id);
    assert_eq!(a_amount, U256::from(2 * ETH - ETH / 10), "A is paid its deposit less the lock");
    assert_eq!(a_locked, U256::from(ETH / 10), "the lock is kept for unlock");
    assert_eq!(b_amount, U256::ZERO);
    assert_eq!(unlocked.len(), 1, "one side unlocks");
    let u = unlocked[0].log_decode::<ChannelManager::ChannelUnlocked>().expect("unlocked").inner.data;
    assert_eq!((u.sender, u.receiver), (a.address(), b.address()));
    assert_eq!(u.unlockedAmount, U256::from(ETH / 10), "B is paid the lock on chain");
    assert_eq!(u.returnedAmount, U256::ZERO);
    let balance = provider.get_balance(d.channel_manager).await.expect("balance");
    assert_eq!(balance, U256::ZERO, "the ChannelManager holds nothing of the channel");
    wait_for("B to count the payment received", async || {
        b.payments()
            .await
            .expect("history")
            .iter()
            .any(|p| p.role == PaymentRole::Received && p.status == PaymentStatus::Completed)
    })
    .await;
    for n in nodes {
        n.shutdown().await;
    }
}
