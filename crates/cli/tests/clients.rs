//! Unmodified Ethereum clients against the embedded devnet: cast (Foundry) and web3.py run
//! their scripts from `tests/clients/` exactly as they run against anvil. web3.py also runs
//! against the optimistic rollup's sequencer, where every transaction pays the L1 data fee.

mod common;

use std::process::Command;

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
    if common::find_tool("cast").is_none() {
        common::skip_or_fail("cast is not installed (run scripts/install-tools.sh)");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web3py_against_the_rollup() {
    let python = common::workspace_root().join(".tools/venv/bin/python");
    if !python.exists() {
        common::skip_or_fail("the web3.py venv is not installed (run scripts/install-tools.sh)");
        return;
    }
    let devnet = common::devnet(MiningMode::Instant).await;
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
            funded: keys.iter().map(|k| k.address()).collect(),
            sequencer_addr: any_port,
            replica_addr: any_port,
            block_time: 1,
            output_interval: 10,
            finalization_period: 12,
            data_mode: loft_rollup::batcher::DataMode::Blobs,
            sequencer_l1_confs: 0,
            data_dir: None,
        },
        events,
    )
    .await
    .expect("rollup");
    let url = format!("http://{}", rollup.sequencer_rpc.addr);
    // L1 prices come with the first L2 block (its L1-info deposit): wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while rollup.sequencer.with_chain(|c| c.head().header.number) == 0 {
        assert!(std::time::Instant::now() < deadline, "the sequencer built no block");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(move || {
        run_script(
            Command::new(python)
                .arg("tests/clients/web3_e2e.py")
                .env("LOFT_CHAIN_ID", loft_rollup::config::DEVNET_L2_CHAIN_ID.to_string())
                .env("LOFT_L1_FEE", "1"),
            &url,
        );
    })
    .await
    .expect("script task");
    rollup.stop().await;
    devnet.stop().await;
}
