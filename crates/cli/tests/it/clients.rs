//! Unmodified Ethereum clients against the embedded devnet: cast (Foundry), web3.py and viem
//! run their scripts from `tests/clients/` exactly as they run against anvil. web3.py and
//! viem also run against the optimistic rollup's sequencer, where every transaction pays the
//! L1 data fee.

use crate::common;

use std::process::Command;

use alloy_primitives::U256;
use loft_rpc::MiningMode;

const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn run_script(cmd: &mut Command, url: &str) {
    let out = cmd
        .env("LOFT_RPC_URL", url)
        .env("LOFT_PRIVATE_KEY", DEV_KEY)
        .env(
            "PATH",
            format!(
                "{}:{}",
                common::workspace_root().join(".tools/bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .current_dir(common::workspace_root())
        .output()
        .expect("script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "client script failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
}

async fn with_devnet(mining: MiningMode, f: impl FnOnce(&str) + Send + 'static) {
    let devnet = common::devnet(mining).await;
    let url = devnet.url();
    tokio::task::spawn_blocking(move || f(&url)).await.expect("script task");
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_against_devnet() {
    if loft_testkit::tool("cast").is_none() {
        return;
    }
    with_devnet(MiningMode::Instant, |url| {
        run_script(Command::new("bash").arg("tests/clients/cast_e2e.sh"), url);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_against_devnet() {
    let python = common::workspace_root().join(".tools/venv/bin/python");
    if !python.exists() {
        common::skip_or_fail("the web3.py venv is not installed (run scripts/install-tools.sh)");
        return;
    }
    with_devnet(MiningMode::Interval(std::time::Duration::from_millis(300)), move |url| {
        run_script(Command::new(python).arg("tests/clients/web3_e2e.py"), url);
    })
    .await;
}

/// The optimistic rollup on `devnet`, its dev accounts funded on L2 by deposits that the
/// sequencer and the replica both hold.
async fn start_rollup(devnet: &loft_devnet::Devnet) -> loft_rollup::service::RunningRollup {
    let keys = loft_l1::dev_signers(4).expect("keys");
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let any_port: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let rollup = loft_rollup::service::start(
        loft_rollup::service::RollupServiceConfig {
            l1_url: devnet.url(),
            deployer: keys[0].clone(),
            batcher: keys[1].clone(),
            proposer: keys[2].clone(),
            fund_on_l2: keys.to_vec(),
            l2_funding: U256::from(loft_rollup::service::DEVNET_L2_FUNDING_WEI),
            sequencer_addr: any_port,
            replica_addr: any_port,
            block_time: 1,
            output_interval: 10,
            finalization_period: 12,
            channel_policy: loft_rollup::channel_policy::ChannelPolicy::immediate(
                loft_rollup::channel_policy::DataChoice::Blobs,
            ),
            sequencer_l1_confs: 0,
            data_dir: None,
        },
        events,
    )
    .await
    .expect("rollup");
    assert_eq!(rollup.funded_on_l2.len(), keys.len(), "every dev account is funded on L2");
    // The replica has derived the funding deposits too (they took each account's first L2
    // nonce: a client reading its nonce from the replica before that would reuse it).
    let funding = U256::from(loft_rollup::service::DEVNET_L2_FUNDING_WEI);
    let funded =
        || keys.iter().all(|k| rollup.replica.with_chain(|c| c.state().balance(&k.address())) >= funding);
    loft_testkit::wait_until(
        "the replica to derive the funding deposits",
        std::time::Duration::from_secs(60),
        async || funded().then_some(()),
    )
    .await;
    rollup
}

/// Runs the web3.py script `script` makes (its command and the URL it talks to) on a fresh
/// rollup, then checks that every wei on the L2 is backed by the portal.
async fn web3py_on_the_rollup(
    script: impl FnOnce(std::path::PathBuf, &loft_rollup::service::RunningRollup) -> (Command, String),
) {
    let python = common::workspace_root().join(".tools/venv/bin/python");
    if !python.exists() {
        common::skip_or_fail("the web3.py venv is not installed (run scripts/install-tools.sh)");
        return;
    }
    client_on_the_rollup(python, script).await;
}

/// Runs the client command `script` makes with `tool` on a fresh rollup, then checks that
/// every wei on the L2 is backed by the portal.
async fn client_on_the_rollup(
    tool: std::path::PathBuf,
    script: impl FnOnce(std::path::PathBuf, &loft_rollup::service::RunningRollup) -> (Command, String),
) {
    let devnet = common::devnet(MiningMode::Instant).await;
    let rollup = start_rollup(&devnet).await;
    let (mut command, url) = script(tool, &rollup);
    tokio::task::spawn_blocking(move || run_script(&mut command, &url)).await.expect("script task");
    common::assert_l2_eth_backed(&devnet.url(), &rollup).await;
    rollup.stop().await;
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_against_the_rollup() {
    web3py_on_the_rollup(|python, rollup| {
        let mut command = Command::new(python);
        command
            .arg("tests/clients/web3_e2e.py")
            .env("LOFT_CHAIN_ID", loft_rollup::config::DEVNET_L2_CHAIN_ID.to_string())
            .env("LOFT_L1_FEE", "1");
        (command, format!("http://{}", rollup.sequencer_rpc.addr))
    })
    .await;
}

/// web3.py sends through the replica as it would through the sequencer: the replica forwards
/// the transaction, and each transaction ends with the same receipt on both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_through_the_replica() {
    web3py_on_the_rollup(|python, rollup| {
        let mut command = Command::new(python);
        command
            .arg("tests/clients/web3_replica.py")
            .env("LOFT_SEQUENCER_URL", format!("http://{}", rollup.sequencer_rpc.addr));
        (command, format!("http://{}", rollup.replica_rpc.addr))
    })
    .await;
}

/// node with viem from `.tools/node_modules`, or `None` (the test is skipped, or fails in CI).
fn viem_node() -> Option<std::path::PathBuf> {
    if !common::workspace_root().join(".tools/node_modules/viem/package.json").exists() {
        common::skip_or_fail("viem is not installed (run scripts/install-tools.sh)");
        return None;
    }
    Some(std::path::PathBuf::from("node"))
}

/// viem on the devnet's L1: subscriptions over WebSocket (string ids), and eth_call and
/// eth_estimateGas at past blocks, by hash and at `pending`, in their block's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viem_against_devnet() {
    let Some(node) = viem_node() else { return };
    with_devnet(MiningMode::Instant, move |url| {
        run_script(Command::new(node).arg("tests/clients/viem_e2e.mjs").env("LOFT_MULTICALL3", "1"), url);
    })
    .await;
}

/// The same viem script on the optimistic rollup's sequencer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viem_against_the_rollup() {
    let Some(node) = viem_node() else { return };
    client_on_the_rollup(node, |node, rollup| {
        let mut command = Command::new(node);
        command
            .arg("tests/clients/viem_e2e.mjs")
            .env("LOFT_MULTICALL3", "1")
            .env("LOFT_CHAIN_ID", loft_rollup::config::DEVNET_L2_CHAIN_ID.to_string());
        (command, format!("http://{}", rollup.sequencer_rpc.addr))
    })
    .await;
}

/// The L2 serves its deposit transactions and their receipts in the OP Stack's JSON shape:
/// op-alloy's RPC types (what OP-aware clients read them with) parse every block, every
/// transaction and every receipt of a rollup whose blocks all start with a deposit, and the
/// deposit fields come through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l2_serves_op_stack_transactions_and_receipts() {
    use op_alloy_rpc_types::{OpTransactionReceipt, Transaction as OpTransaction};
    let devnet = common::devnet(MiningMode::Instant).await;
    let rollup = start_rollup(&devnet).await;
    let url = format!("http://{}", rollup.sequencer_rpc.addr);
    let http = reqwest::Client::new();
    let head = common::rpc(&http, &url, "eth_blockNumber", serde_json::json!([])).await.expect("head");
    let head = u64::from_str_radix(head.as_str().expect("hex").trim_start_matches("0x"), 16).expect("number");
    let (mut deposits, mut minted) = (0, 0);
    for n in 1..=head {
        let tag = format!("0x{n:x}");
        let block = common::rpc(&http, &url, "eth_getBlockByNumber", serde_json::json!([tag, true]))
            .await
            .expect("block");
        let block: alloy::rpc::types::Block<OpTransaction> =
            serde_json::from_value(block).unwrap_or_else(|e| panic!("block {n} as op-alloy reads it: {e}"));
        let txs = block.transactions.as_transactions().expect("full transactions");
        let first = txs.first().expect("every L2 block starts with a deposit");
        assert!(first.inner.inner.is_deposit(), "block {n} starts with its L1 attributes deposit");
        for tx in txs.iter().filter(|t| t.inner.inner.is_deposit()) {
            let deposit = tx.inner.inner.as_deposit().expect("a deposit");
            assert_ne!(deposit.source_hash, alloy_primitives::B256::ZERO, "block {n}: a source hash");
            deposits += 1;
            minted += (deposit.mint > 0) as u32;
        }
        let receipts = common::rpc(&http, &url, "eth_getBlockReceipts", serde_json::json!([tag]))
            .await
            .expect("receipts");
        let parsed: Vec<OpTransactionReceipt> =
            serde_json::from_value(receipts.clone()).unwrap_or_else(|e| panic!("block {n}'s receipts: {e}"));
        assert_eq!(parsed.len(), txs.len());
        for r in receipts.as_array().expect("receipts").iter().filter(|r| r["type"] == "0x7e") {
            assert!(r["depositNonce"].is_string() && r["depositReceiptVersion"] == "0x1", "{r}");
        }
    }
    assert!(minted >= 4, "the dev accounts' funding deposits mint ETH on L2 ({minted} of {deposits})");
    rollup.stop().await;
    devnet.stop().await;
}
