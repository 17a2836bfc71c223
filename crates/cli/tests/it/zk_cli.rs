//! `loft zk ...` as a person uses it, every command a separate process: `loft devnet` (the
//! embedded L1 alone), `loft zk operator` registering the devnet's LOFT token, deposits of ETH
//! and LOFT, key registration, transfers of both, a withdrawal paid on L1, and status. The
//! operator is killed with kill -9 while transfers stream into its API; restarted from its
//! record it serves every operation it had accepted, and nothing else. Then it stops for good
//! while a deposit waits: `loft zk exit` freezes the rollup, refunds the deposit, and every
//! user takes exactly their ETH and LOFT out on L1.

use crate::common;

use crate::common::Process;
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, U256};
use loft_l1::{L1Client, contracts::LoftToken};
use loft_testkit::wait_until;
use loft_zk_node::{api::OperatorClient, contracts::ZkRollup, wallet};
use serde_json::json;

const ETH: u128 = 1_000_000_000_000_000_000;
const MILLI: u128 = ETH / 1_000;
/// The CLI's default fee: 0.00001 of the asset.
const FEE: u128 = ETH / 100_000;

fn loft(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loft"));
    cmd.current_dir(dir);
    cmd
}

fn key_hex(s: &PrivateKeySigner) -> String {
    format!("0x{}", alloy_primitives::hex::encode(s.to_bytes()))
}

/// What every `loft zk` command of a user needs: the endpoints and the user's key.
struct Cli {
    dir: PathBuf,
    endpoints: Vec<String>,
}

impl Cli {
    /// Runs `loft zk ARGS` as `who` and returns what it printed and how it ended.
    fn output(&self, who: &PrivateKeySigner, args: &[&str]) -> std::process::Output {
        loft(&self.dir)
            .arg("zk")
            .args(args)
            .args(&self.endpoints)
            .env("LOFT_PRIVATE_KEY", key_hex(who))
            .output()
            .expect("loft runs")
    }

    /// Runs `loft zk ARGS` as `who`; returns its stdout (it must succeed).
    fn run(&self, who: &PrivateKeySigner, args: &[&str]) -> String {
        let out = self.output(who, args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("$ loft zk {}\n{stdout}", args.join(" "));
        assert!(out.status.success(), "loft zk {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    /// Runs `loft zk ARGS` as `who`, which must fail; returns its stderr.
    fn fails(&self, who: &PrivateKeySigner, args: &[&str]) -> String {
        let out = self.output(who, args);
        assert!(!out.status.success(), "loft zk {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    }
}

/// Starts `loft zk operator` and waits until its API answers.
async fn operator(dir: &Path, l1: &str, port: u16, token: Address, run: u32) -> Process {
    let log = std::fs::File::create(dir.join(format!("operator-{run}.log"))).expect("log");
    let process = Process(
        loft(dir)
            .args(["zk", "operator", "--l1-rpc", l1, "--data-dir", "zk", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--account-depth", "4", "--balance-depth", "2", "--wide", "2", "--transfers", "2"])
            .args(["--block-time", "0.5"])
            .args(["--priority-expiration", "30", "--block-interval", "2", "--token", &token.to_string()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("operator"),
    );
    let api = OperatorClient::new(&format!("http://127.0.0.1:{port}"));
    wait_until("the operator to come up", Duration::from_secs(600), async || api.status().await.ok()).await;
    process
}

/// Waits until the operator has no open operations and L1 executed every sealed block.
async fn settled(api: &OperatorClient) {
    wait_until("the operator to settle", Duration::from_secs(900), async || {
        api.status().await.ok().filter(|s| {
            s.open_ops == 0
                && s.queued_priority == 0
                && s.last_submitted == s.last_sealed
                && s.state_root == s.latest_root
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_transfer_withdraw_kill_9_and_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (l1_port, zk_port) = (common::free_port(), common::free_port());
    let _devnet = common::devnet_process(dir.path(), l1_port);
    let url = format!("http://127.0.0.1:{l1_port}");
    let http = reqwest::Client::new();
    let record = wait_until("the devnet to come up", Duration::from_secs(120), async || {
        let found = std::fs::read_dir(dir.path().join("target/loft-devnet")).ok().and_then(|mut d| {
            d.find_map(|e| e.ok().filter(|e| e.file_name().to_string_lossy().starts_with("deployments-")))
        })?;
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(found.path()).ok()?).ok()
    })
    .await;
    let loft_token: Address = record["loftToken"].as_str().and_then(|s| s.parse().ok()).expect("LOFT");
    let dev = loft_l1::dev_signers(3).expect("keys");
    let (treasury, alice, bob) = (dev[0].clone(), dev[1].clone(), dev[2].clone());
    let l1 = L1Client::connect(&url, treasury.clone()).await.expect("l1");
    let lofts = LoftToken::new(loft_token, l1.provider().clone());
    let sent = lofts.transfer(alice.address(), U256::from(100 * ETH)).send().await.expect("send");
    assert!(sent.get_receipt().await.expect("receipt").status());

    common::seed_zk_keys(&dir.path().join("zk/keys"));
    let mut op_process = operator(dir.path(), &url, zk_port, loft_token, 1).await;
    let api = OperatorClient::new(&format!("http://127.0.0.1:{zk_port}"));
    let d = api.deployment().await.expect("deployment");
    let cli = Cli {
        dir: dir.path().to_path_buf(),
        endpoints: vec![
            format!("--operator=http://127.0.0.1:{zk_port}"),
            format!("--l1-rpc={url}"),
            "--deployment=zk/zk.json".into(),
        ],
    };
    let token = loft_token.to_string();

    // deposits of ETH and of the token
    cli.run(&alice, &["deposit", "2"]);
    cli.run(&bob, &["deposit", "1"]);
    let out = cli.run(&alice, &["deposit", "100", "--token", &token]);
    assert!(out.contains("deposited 100.000000000000000000 LOFT"), "{out}");
    let err = cli.fails(&bob, &["deposit", "1", "--token", &alice.address().to_string()]);
    assert!(err.contains("not registered"), "{err}");
    for who in [&alice, &bob] {
        wait_until("the deposits to reach L2", Duration::from_secs(600), async || {
            api.account(who.address()).await.expect("api")
        })
        .await;
    }
    settled(&api).await;

    // keys, then transfers of both assets
    cli.run(&alice, &["register"]);
    cli.run(&bob, &["register"]);
    cli.run(&alice, &["transfer", "0.5", "--to", &bob.address().to_string()]);
    cli.run(&alice, &["transfer", "10", "--to", &bob.address().to_string(), "--token", &token]);
    let err = cli.fails(&bob, &["transfer", "50", "--to", &alice.address().to_string(), "--token", &token]);
    assert!(err.contains("insufficient"), "an overdraft is refused: {err}");

    // load on the API, and kill -9 in the middle of it
    let key = wallet::derive_l2_key(&alice, &d).await.expect("key");
    let me = api.account(alice.address()).await.expect("api").expect("account");
    let first_nonce = me.nonce;
    let load = {
        let api = api.clone();
        let bob = bob.address();
        tokio::spawn(async move {
            let mut accepted = 0u64;
            for n in 0..40 {
                let op = wallet::transfer(&key, me.index, bob, 0, MILLI, FEE, first_nonce + n);
                if api.submit(&op).await.is_err() {
                    break;
                }
                accepted += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            accepted
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    op_process.0.kill().expect("kill -9"); // SIGKILL: nothing is flushed
    let _ = op_process.0.wait();
    let accepted = load.await.expect("load");
    assert!(accepted > 0, "no transfer was accepted before the kill");
    drop(op_process);

    let op_process = operator(dir.path(), &url, zk_port, loft_token, 2).await;
    settled(&api).await;
    let me = api.account(alice.address()).await.expect("api").expect("account");
    // the one whose answer the kill cut off may have been recorded too, never more
    let served = me.nonce - first_nonce;
    assert!(served == accepted || served == accepted + 1, "{accepted} accepted, {served} served");
    let bob_l2 = api.account(bob.address()).await.expect("api").expect("account");
    assert_eq!(bob_l2.balances[0].to::<u128>(), ETH + ETH / 2 + served as u128 * MILLI);
    assert_eq!(bob_l2.balances[1].to::<u128>(), 10 * ETH);
    let alice_eth = 2 * ETH - ETH / 2 - served as u128 * (MILLI + FEE) - FEE;
    assert_eq!(me.balances[0].to::<u128>(), alice_eth);
    assert_eq!(me.balances[1].to::<u128>(), 90 * ETH - FEE);

    // a withdrawal, paid on L1
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    let held = l1.balance(d.rollup).await.expect("balance");
    let out = cli.run(&bob, &["withdraw", "0.2"]);
    assert!(out.contains("paid 0.200000000000000000 ETH"), "{out}");
    assert_eq!(held - l1.balance(d.rollup).await.expect("balance"), U256::from(ETH / 5));
    let out = cli.run(&bob, &["status"]);
    assert!(out.contains("LOFT") && out.contains("key registered"), "{out}");

    // the operator stops for good while bob's deposit waits: exodus
    drop(op_process);
    cli.run(&bob, &["deposit", "0.3"]);
    // its deadline: the queue's clock (the queue was empty: 2 L1 blocks per block of 2 wide
    // slots, one block) plus the 30 of --priority-expiration
    for _ in 0..31 {
        common::rpc(&http, &url, "evm_mine", json!([])).await.expect("mine");
    }
    let lofts_of = async |who: Address| lofts.balanceOf(who).call().await.expect("balanceOf").to::<u128>();
    let lofts_before = lofts_of(alice.address()).await;
    let out = cli.run(&alice, &["exit", "--data-dir", "zk"]);
    assert!(out.contains("exodus mode activated"), "{out}");
    assert!(out.contains("refunded the deposits"), "{out}");
    let paid_eth = |v: u128| format!("paid {} ETH", alloy_primitives::utils::format_ether(U256::from(v)));
    assert!(out.contains(&paid_eth(alice_eth)), "{out}");
    assert_eq!(lofts_of(alice.address()).await - lofts_before, 90 * ETH - FEE);
    let out = cli.run(&bob, &["exit", "--data-dir", "zk"]);
    // bob's L2 balance less the withdrawal and its fee, and the refunded deposit
    let bob_eth = ETH + ETH / 2 + served as u128 * MILLI - ETH / 5 - FEE + 3 * ETH / 10;
    assert!(out.contains(&paid_eth(bob_eth)), "{out}");
    let err = cli.fails(&bob, &["exit", "--data-dir", "zk"]);
    assert!(err.contains("nothing to take out"), "exits are once: {err}");
    cli.run(&treasury, &["exit", "--data-dir", "zk"]); // the operator's fees
    assert_eq!(l1.balance(d.rollup).await.expect("balance"), U256::ZERO, "every wei paid out");
    assert_eq!(lofts_of(d.rollup).await, 0, "every LOFT paid out");
    assert!(rollup.exodusMode().call().await.expect("mode"));
}
