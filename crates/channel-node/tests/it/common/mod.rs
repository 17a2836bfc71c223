//! What the channel-node tests share: the embedded devnet with the channel contracts, funded
//! parties, node configurations, waiting for a condition.
// Each test file uses its own subset.
#![allow(dead_code)]

use std::time::Duration;

use loft_channel_node::{
    contracts::{ChannelDeployment, deploy},
    node::NodeConfig,
};
use loft_channels::SigningKey;
use loft_devnet::Devnet;
use loft_l1::L1Client;
use loft_rpc::MiningMode;

pub(crate) const ETH: u128 = 1_000_000_000_000_000_000;

/// A dev account: its protocol key and its L1 client.
pub(crate) struct Party {
    pub(crate) key: SigningKey,
    pub l1: L1Client,
}

/// The devnet (instant mining), `n` funded parties, and the channel contracts deployed by an
/// account that is none of them.
pub(crate) async fn setup(n: u32) -> (Devnet, String, ChannelDeployment, Vec<Party>) {
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    let url = devnet.url();
    let signers = loft_l1::dev_signers(n + 1).expect("keys");
    let mut parties = Vec::new();
    for s in &signers {
        let key = SigningKey::from_bytes(&s.to_bytes().0).expect("key");
        parties.push(Party { key, l1: L1Client::connect(&url, s.clone()).await.expect("l1") });
    }
    let deployer = parties.pop().expect("deployer");
    let d = deploy(&deployer.l1, 10, 1000).await.expect("deploy");
    (devnet, url, d, parties)
}

/// A node of `key` with its store in `dir`, polling L1 every 50 ms.
pub(crate) fn node_config(
    key: &SigningKey,
    d: ChannelDeployment,
    dir: &std::path::Path,
    url: &str,
) -> NodeConfig {
    NodeConfig {
        l1_poll: Duration::from_millis(50),
        ..NodeConfig::new(key.clone(), d, dir.to_path_buf(), url)
    }
}

/// Mines `blocks` empty blocks on the devnet.
pub(crate) async fn mine(party: &Party, blocks: u64) {
    use alloy::providers::Provider;
    let _: serde_json::Value =
        party.l1.provider().raw_request("anvil_mine".into(), (format!("{blocks:#x}"),)).await.expect("mine");
}

/// (our balance, our pending locks, their pending locks) in `node`'s channel with `partner`.
pub(crate) async fn view(
    node: &loft_channel_node::node::NodeHandle,
    partner: alloy_primitives::Address,
) -> (alloy_primitives::U256, usize, usize) {
    let c = channel_with(node, partner).await;
    (c.our_balance(), c.ours.locks.len(), c.theirs.locks.len())
}

/// Three nodes A, B, C of `configs` in a line: A-B and B-C opened by their first party with
/// 2 ETH each and `settle_timeout`, C seeing its channel.
pub(crate) async fn line_of_three(
    configs: [NodeConfig; 3],
    settle_timeout: u64,
) -> [loft_channel_node::node::Node; 3] {
    use loft_channel_node::node::Node;
    let [a, b, c] = configs;
    let nodes = [
        Node::start(a).await.expect("a"),
        Node::start(b).await.expect("b"),
        Node::start(c).await.expect("c"),
    ];
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].handle());
    let zero = alloy_primitives::Address::ZERO;
    a.connect(b.address(), b.listen_addr()).await.expect("connect");
    b.connect(c.address(), c.listen_addr()).await.expect("connect");
    a.open(b.address(), zero, 2 * ETH, settle_timeout).await.expect("open A-B");
    b.open(c.address(), zero, 2 * ETH, settle_timeout).await.expect("open B-C");
    wait_for("C to see its channel", async || c.channels().await.expect("channels").len() == 1).await;
    nodes
}

/// Starts a payment of `amount` from A to C through B (charging `b_policy`) of a line of
/// three; its outcome when it ends.
pub(crate) fn pay_a_to_c(
    nodes: &[loft_channel_node::node::Node; 3],
    b_policy: loft_channels::route::FeePolicy,
    amount: u128,
) -> tokio::task::JoinHandle<Result<loft_channel_node::node::PaymentReport, loft_channel_node::node::NodeError>>
{
    use loft_channels::route::{FeePolicy, RouteHop};
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].handle());
    let route = vec![
        RouteHop { node: b.address(), policy: b_policy },
        RouteHop { node: c.address(), policy: FeePolicy::default() },
    ];
    tokio::spawn(async move { a.pay_route(route, amount).await })
}

/// Waits until no lock is pending in either channel of a line of three.
pub(crate) async fn wait_no_locks(nodes: &[loft_channel_node::node::Node; 3]) {
    let [a, b, c] = [0, 1, 2].map(|i| nodes[i].handle());
    wait_for("every lock to be gone", async || {
        view(&a, b.address()).await.1 == 0
            && view(&b, a.address()).await.2 == 0
            && view(&b, c.address()).await.1 == 0
            && view(&c, b.address()).await.2 == 0
    })
    .await;
}

/// `node`'s channel with `partner` (there must be one).
pub(crate) async fn channel_with(
    node: &loft_channel_node::node::NodeHandle,
    partner: alloy_primitives::Address,
) -> loft_channels::Channel {
    node.channels()
        .await
        .expect("channels")
        .into_iter()
        .find(|c| c.channel.partner == partner)
        .map(|c| c.channel)
        .expect("a channel with the partner")
}

/// Logs to the test's output as `RUST_LOG` says (`RUST_LOG=loft_channel_node=debug` shows
/// the nodes' decisions); nothing without it.
pub(crate) fn trace_from_env() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `check` every 25 ms for up to 20 s.
pub(crate) async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    loft_testkit::wait_until(what, Duration::from_secs(20), async || check().await.then_some(())).await
}
