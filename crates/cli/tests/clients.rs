//! Unmodified Ethereum clients against the embedded devnet: cast (Foundry) and web3.py run
//! their scripts from `tests/clients/` exactly as they run against anvil.

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
