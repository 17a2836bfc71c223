//! Closing through the nodes, on the embedded devnet: a cooperative close in one L1
//! transaction after thousands of payments both ways (L1 balances match the off-chain ones to
//! the wei), then a unilateral close by Bob, which leaves out his own payments to Alice, and
//! Alice's node submitting his newest proof on its own before the settle period ends: the
//! settlement pays Alice everything she is due.

use crate::common::{ETH, node_config as config, setup, wait_for};
use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use alloy_primitives::{Address, U256};
use loft_channel_node::{
    contracts::{ChannelContracts, ChannelManager},
    node::{Node, NodeHandle},
};
use loft_channels::ChannelStatus;
use loft_l1::L1Client;
const SETTLE_TIMEOUT: u64 = 12;

async fn find(node: &NodeHandle, id: u64) -> Option<loft_channels::Channel> {
    node.channels().await.expect("channels").into_iter().find(|c| c.channel.id == id).map(|c| c.channel)
}

async fn channel(node: &NodeHandle, id: u64) -> loft_channels::Channel {
    find(node, id).await.expect("channel")
}

async fn gas_cost(l1: &L1Client, tx: alloy_primitives::B256) -> U256 {
    let r = l1.receipt(tx).await.expect("receipt").expect("mined");
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_then_unilateral_close_through_the_nodes() {
    let (_devnet, url, d, parties) = setup(2).await;
    let (alice_l1, bob_l1) = (&parties[0].l1, &parties[1].l1);
    let (alice_key, bob_key) = (&parties[0].key, &parties[1].key);
    let dir = tempfile::tempdir().expect("dir");
    let alice = Node::start(config(alice_key, d, &dir.path().join("alice"), &url)).await.expect("alice");
    let bob = Node::start(config(bob_key, d, &dir.path().join("bob"), &url)).await.expect("bob");
    let (a, b) = (alice.handle(), bob.handle());
    a.connect(b.address(), b.listen_addr()).await.expect("connect");

    // --- cooperative close
    let a0 = alice_l1.balance(a.address()).await.expect("balance");
    let b0 = bob_l1.balance(b.address()).await.expect("balance");
    let (id, open) = ChannelContracts::new(alice_l1, d)
        .open_with_deposit(b.address(), Address::ZERO, SETTLE_TIMEOUT, U256::from(5 * ETH))
        .await
        .expect("open");
    let deposit = ChannelContracts::new(bob_l1, d)
        .set_total_deposit(id, b.address(), U256::from(ETH), U256::from(ETH))
        .await
        .expect("deposit");
    wait_for("both deposits at both nodes", async || {
        let (x, y) = (find(&a, id).await, find(&b, id).await);
        x.is_some_and(|x| x.theirs.deposit == ETH) && y.is_some_and(|y| y.theirs.deposit == 5 * ETH)
    })
    .await;
    a.pay_many(b.address(), ETH / 1000, 2_000).await.expect("alice pays");
    b.pay_many(a.address(), ETH / 10_000, 100).await.expect("bob pays");
    let alice_final = U256::from(5 * ETH - 2 * ETH + 100 * ETH / 10_000);
    let bob_final = U256::from(ETH + 2 * ETH - 100 * ETH / 10_000);
    assert_eq!(channel(&a, id).await.our_balance(), alice_final);
    assert_eq!(channel(&b, id).await.our_balance(), bob_final);
    let close = a.close(id).await.expect("cooperative close");
    eprintln!("cooperative close: one transaction, {} gas", close.gas_used);
    let a1 = alice_l1.balance(a.address()).await.expect("balance");
    let b1 = bob_l1.balance(b.address()).await.expect("balance");
    let open_cost = U256::from(open.gas_used) * U256::from(open.effective_gas_price);
    let deposit_cost = U256::from(deposit.gas_used) * U256::from(deposit.effective_gas_price);
    let close_cost = gas_cost(alice_l1, close.tx).await;
    assert_eq!(a1, a0 - U256::from(5 * ETH) - open_cost - close_cost + alice_final);
    assert_eq!(b1, b0 - U256::from(ETH) - deposit_cost + bob_final);
    wait_for("both nodes to see the settlement", async || {
        channel(&a, id).await.status == ChannelStatus::Settled
            && channel(&b, id).await.status == ChannelStatus::Settled
    })
    .await;

    // --- unilateral close by Bob; Alice's node updates with Bob's newest proof
    let (id, _) = ChannelContracts::new(alice_l1, d)
        .open_with_deposit(b.address(), Address::ZERO, SETTLE_TIMEOUT, U256::from(3 * ETH))
        .await
        .expect("open");
    ChannelContracts::new(bob_l1, d)
        .set_total_deposit(id, b.address(), U256::from(3 * ETH), U256::from(3 * ETH))
        .await
        .expect("deposit");
    // both deposits at both nodes (a node may see its partner's deposit before its own)
    wait_for("the second channel at both nodes", async || {
        let both = |c: &loft_channels::Channel| c.ours.deposit == 3 * ETH && c.theirs.deposit == 3 * ETH;
        find(&a, id).await.is_some_and(|x| both(&x)) && find(&b, id).await.is_some_and(|y| both(&y))
    })
    .await;
    a.pay_many(b.address(), ETH / 10, 5).await.expect("alice pays");
    b.pay_many(a.address(), ETH / 20, 30).await.expect("bob pays");
    let alice_due = U256::from(3 * ETH - 5 * ETH / 10 + 30 * ETH / 20);
    assert_eq!(channel(&a, id).await.our_balance(), alice_due);
    b.close_unilateral(id).await.expect("bob closes");
    let manager = ChannelManager::new(d.channel_manager, alice_l1.provider().clone());
    wait_for("Alice's node to submit Bob's newest proof", async || {
        manager.getParticipant(id, b.address()).call().await.is_ok_and(|p| p.nonce == 30)
    })
    .await;
    let _: serde_json::Value = alice_l1
        .provider()
        .raw_request("anvil_mine".into(), (format!("0x{:x}", SETTLE_TIMEOUT + 1),))
        .await
        .expect("mine");
    wait_for("a node to settle", async || channel(&a, id).await.status == ChannelStatus::Settled).await;
    let logs = alice_l1
        .provider()
        .get_logs(
            &Filter::new()
                .address(d.channel_manager)
                .from_block(0)
                .event_signature(ChannelManager::ChannelSettled::SIGNATURE_HASH),
        )
        .await
        .expect("logs");
    let settled = logs
        .iter()
        .filter_map(|l| l.log_decode::<ChannelManager::ChannelSettled>().ok())
        .find(|l| l.inner.data.id == id)
        .expect("settled event")
        .inner
        .data;
    let (alice_paid, bob_paid) = if a.address() < b.address() {
        (settled.amount1, settled.amount2)
    } else {
        (settled.amount2, settled.amount1)
    };
    assert_eq!(alice_paid, alice_due, "Alice gets everything, Bob's payments to her included");
    assert_eq!(bob_paid, U256::from(6 * ETH) - alice_due);
    alice.shutdown().await;
    bob.shutdown().await;
}
