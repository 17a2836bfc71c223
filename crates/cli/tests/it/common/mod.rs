//! Shared helpers of the end-to-end tests.
#![allow(dead_code)]

pub use loft_testkit::{Process, devnet, free_port, skip_or_fail, workspace_root};

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

/// Waits up to two minutes for a JSON-RPC server at `url` to answer `eth_chainId`.
pub async fn wait_ready(http: &reqwest::Client, url: &str) {
    loft_testkit::wait_until(
        &format!("a JSON-RPC server at {url}"),
        std::time::Duration::from_secs(120),
        async || rpc(http, url, "eth_chainId", serde_json::json!([])).await.ok(),
    )
    .await;
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

/// Puts the circuits' keys of the small ZK rollup the CLI's tests run (`loft devnet
/// --zk-account-depth 4 --zk-balance-depth 2 --zk-transfers 2`, `loft zk operator
/// --account-depth 4 --balance-depth 2 --transfers 2`, two wide slots as by default) into
/// `keys_dir`, where the CLI looks for them before setting them up. They come from the tests'
/// cache, set up once per shape for every test (zk-node's `operator_e2e` and `rules_on_l1`
/// have the same shape): what these tests check is the CLI, not a setup run again.
pub fn seed_zk_keys(keys_dir: &std::path::Path) {
    use loft_zk_node::{contracts::RollupConfig, keys};
    let config =
        RollupConfig { account_depth: 4, balance_depth: 2, transfer_slots: 2, ..RollupConfig::devnet() };
    let cache = loft_testkit::cache_dir("zk-keys");
    loft_testkit::one_at_a_time(|| keys::RollupKeys::devnet(&cache, &config)).expect("the cached keys");
    std::fs::create_dir_all(keys_dir).expect("keys dir");
    let (block, exit) = keys::cache_paths(&cache, &config);
    let (block_to, exit_to) = keys::cache_paths(keys_dir, &config);
    std::fs::copy(block, block_to).expect("copy the block circuit's keys");
    std::fs::copy(exit, exit_to).expect("copy the exit circuit's keys");
}
