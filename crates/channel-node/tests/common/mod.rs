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
use loft_l1::{Devnet, DevnetConfig, L1Client};
use loft_rpc::MiningMode;

pub const ETH: u128 = 1_000_000_000_000_000_000;

/// A dev account: its protocol key and its L1 client.
pub struct Party {
    pub key: SigningKey,
    pub l1: L1Client,
}

/// The devnet (instant mining), `n` funded parties, and the channel contracts deployed by an
/// account that is none of them.
pub async fn setup(n: u32) -> (Devnet, String, ChannelDeployment, Vec<Party>) {
    let devnet = Devnet::start(DevnetConfig {
        addr: "127.0.0.1:0".parse().expect("addr"),
        mining: MiningMode::Instant,
        ..Default::default()
    })
    .await
    .expect("devnet");
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
pub fn node_config(key: &SigningKey, d: ChannelDeployment, dir: &std::path::Path, url: &str) -> NodeConfig {
    NodeConfig {
        l1_poll: Duration::from_millis(50),
        ..NodeConfig::new(key.clone(), d, dir.to_path_buf(), url)
    }
}

/// `node`'s channel with `partner` (there must be one).
pub async fn channel_with(
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
pub fn trace_from_env() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `check` every 25 ms for up to 20 s.
pub async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..800 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}
