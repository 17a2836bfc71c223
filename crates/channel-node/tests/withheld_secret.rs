//! A target that withholds the secret, on the embedded devnet: A pays C through B; C asks A
//! for the secret, gets it, and never reveals it to B. Nobody upstream is paid, so every lock
//! must expire: B expires its lock to C, A finds the secret was never registered on L1 and
//! expires its lock to B, and all balances are what they were before the payment.

mod common;

use alloy_primitives::U256;
use common::{ETH, node_config, setup, view, wait_for};
use loft_channel_node::node::{MediationConfig, Misbehaviour, NodeConfig, PaymentRole, PaymentStatus};
use loft_channels::route::FeePolicy;

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
