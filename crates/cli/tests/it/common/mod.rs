//! Shared helpers of the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;

use loft_devnet::{Devnet, DevnetConfig};
use loft_rpc::MiningMode;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tool from `.tools/bin` (installed by scripts/install-tools.sh) or PATH.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let local = workspace_root().join(".tools/bin").join(name);
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.exists()))
}

/// Starts an embedded devnet on a free port.
pub async fn devnet(mining: MiningMode) -> Devnet {
    Devnet::start(DevnetConfig { addr: "127.0.0.1:0".parse().expect("addr"), mining, ..Default::default() })
        .await
        .expect("devnet starts")
}

/// Prints why a test is skipped (visible with --nocapture and in CI logs) unless CI
/// demands the tool, in which case the test fails.
pub fn skip_or_fail(reason: &str) {
    if std::env::var("LOFT_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("required tool missing: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `loft devnet` alone (no rollups, no demo) as a process in `dir`, on `port`.
pub fn devnet_process(dir: &std::path::Path, port: u16) -> Process {
    Process(
        std::process::Command::new(env!("CARGO_BIN_EXE_loft"))
            .current_dir(dir)
            .args(["devnet", "--no-rollup", "--no-zk", "--no-demo", "--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("devnet"),
    )
}

/// A TCP port free at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One JSON-RPC call: its result, or its error as text.
pub async fn rpc(
    http: &reqwest::Client,
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let resp = http.post(url).json(&body).send().await.map_err(|e| e.to_string())?;
    let v: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["result"].clone()),
    }
}

/// A hex quantity as a number.
pub fn quantity(v: &serde_json::Value) -> u128 {
    v.as_str().and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok()).expect("a quantity")
}

/// Every wei on the rollup's L2 is backed: the portal holds at least what L2 accounts own
/// plus the withdrawals not yet paid on L1, on the sequencer's chain and on the replica's.
pub async fn assert_l2_eth_backed(l1_url: &str, rollup: &loft_rollup::service::RunningRollup) {
    let key = loft_l1::dev_signers(1).expect("key").remove(0);
    let l1 = loft_l1::L1Client::connect(l1_url, key).await.expect("L1");
    for node in [&rollup.sequencer, &rollup.replica] {
        let backing = loft_rollup::backing::backing(&l1, &rollup.deployment, node).await.expect("backing");
        assert!(backing.is_backed(), "L2 ETH that the portal does not back: {backing:?}");
        assert!(backing.l2_accounts > alloy_primitives::U256::ZERO, "nothing on L2 to check: {backing:?}");
    }
}
