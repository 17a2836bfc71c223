//! `loft rollup ...` as a person uses it, against a running `loft devnet`: deposit, status,
//! withdraw, prove, finalize, each a separate process; and `loft rollup replica`, a second
//! replica in its own process that derives the sequencer's chain from L1 alone.

use crate::common;

use crate::common::Process;
use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use alloy_primitives::B256;
use loft_testkit::wait_until;
use serde_json::{Value, json};

fn loft(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loft"));
    cmd.current_dir(dir);
    cmd
}

async fn rpc(url: &str, method: &str, params: Value) -> Result<Value, String> {
    common::rpc(&reqwest::Client::new(), url, method, params).await
}

fn number(v: &Value) -> u64 {
    common::quantity(v) as u64
}

fn wei(v: &Value) -> u128 {
    common::quantity(v)
}

/// Runs `loft rollup ARGS` with the endpoints; returns its stdout (it must succeed).
fn rollup_cmd(dir: &Path, endpoints: &[String], args: &[&str]) -> String {
    let out: Output = loft(dir)
        .arg("rollup")
        .args(args)
        .args(endpoints)
        .env("LOFT_PRIVATE_KEY", "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
        .output()
        .expect("loft runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("$ loft rollup {}\n{stdout}", args.join(" "));
    assert!(out.status.success(), "loft rollup {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_withdraw_prove_finalize_and_a_second_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (l1_port, l2_port, replica_port, replica2_port) =
        (common::free_port(), common::free_port(), common::free_port(), common::free_port());
    let _devnet = Process(
        loft(dir.path())
            .args(["devnet", "--no-zk", "--no-demo", "--port", &l1_port.to_string()])
            .args(["--l2-port", &l2_port.to_string(), "--replica-port", &replica_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("devnet"),
    );
    let (l1, l2) = (format!("http://127.0.0.1:{l1_port}"), format!("http://127.0.0.1:{l2_port}"));
    let record = dir.path().join("target/loft-devnet/rollup.json");
    wait_until("the devnet to come up", Duration::from_secs(120), async || {
        (record.exists() && rpc(&l2, "eth_chainId", json!([])).await.is_ok()).then_some(())
    })
    .await;
    let endpoints = vec![
        format!("--l1-rpc={l1}"),
        format!("--l2-rpc={l2}"),
        format!("--replica-rpc=http://127.0.0.1:{replica_port}"),
    ];
    // dev account 2 (the proposer on L1) as the user: its L2 account is unused
    let user = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
    let balance = |url: String| async move {
        wei(&rpc(&url, "eth_getBalance", json!([user, "latest"])).await.expect("balance"))
    };

    // Deposit 1.5 ETH; it arrives on L2.
    let l2_before = balance(l2.clone()).await;
    rollup_cmd(dir.path(), &endpoints, &["deposit", "1.5"]);
    wait_until("the deposit to reach L2", Duration::from_secs(60), async || {
        (balance(l2.clone()).await >= l2_before + 1_500_000_000_000_000_000).then_some(())
    })
    .await;
    let status = rollup_cmd(dir.path(), &endpoints, &["status"]);
    assert!(status.contains("same block as the sequencer"), "{status}");

    // Withdraw 0.5 ETH, prove it, finalize it after the 12 s window.
    let out = rollup_cmd(dir.path(), &endpoints, &["withdraw", "0.5"]);
    let tx: B256 = out
        .split("L2 tx ")
        .nth(1)
        .and_then(|rest| rest.get(..66))
        .and_then(|h| h.parse().ok())
        .expect("the withdraw command prints its L2 transaction");
    let tx = tx.to_string();
    rollup_cmd(dir.path(), &endpoints, &["prove", &tx]);
    let l1_before = balance(l1.clone()).await;
    // The 12 s window passes on L1's clock, not the test's.
    rpc(&l1, "evm_increaseTime", json!([13])).await.expect("evm_increaseTime");
    let second = Duration::from_secs(1);
    loft_testkit::wait_until_every("finalize to succeed", Duration::from_secs(90), second, async || {
        let out = loft(dir.path())
            .args(["rollup", "finalize", &tx])
            .args(&endpoints)
            .env("LOFT_PRIVATE_KEY", "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
            .output()
            .expect("loft runs");
        out.status.success().then_some(())
    })
    .await;
    let gained = balance(l1.clone()).await.saturating_sub(l1_before);
    assert!(gained > 490_000_000_000_000_000, "0.5 ETH less L1 gas arrived on L1: {gained}");

    // A second replica, in its own process, derives the same chain from L1 alone.
    let _replica = Process(
        loft(dir.path())
            .args(["rollup", "replica", "--l1-rpc", &l1, "--addr", &format!("127.0.0.1:{replica2_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("replica"),
    );
    let replica2 = format!("http://127.0.0.1:{replica2_port}");
    let target = number(&rpc(&l2, "eth_blockNumber", json!([])).await.expect("head"));
    wait_until("the second replica to catch up", Duration::from_secs(90), async || {
        let safe = rpc(&replica2, "eth_getBlockByNumber", json!(["safe", false])).await;
        safe.ok().filter(|block| number(&block["number"]) >= target)
    })
    .await;
    let at = json!([format!("0x{target:x}"), false]);
    let derived = rpc(&replica2, "eth_getBlockByNumber", at.clone()).await.expect("block");
    let sequenced = rpc(&l2, "eth_getBlockByNumber", at).await.expect("block");
    assert_eq!(derived["hash"], sequenced["hash"], "the standalone replica reaches the sequencer's block");
}
