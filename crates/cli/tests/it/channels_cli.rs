//! `loft channel ...` as people use it, every node a separate process on loopback: `loft
//! devnet` (the embedded L1 alone), four `loft channel node`s A, B, C, D (A's key in a
//! keystore made by `loft channel keygen`; B and C charge fees), channels A-B, B-C, C-D opened
//! with `loft channel open`, a payment A to D through B and C that pays both mediators their
//! fees, thousands of direct payments A to B, refusals with clear errors, the mediator B
//! killed with kill -9 in the middle of a stream of payments A to D (routed by A over the
//! graph gossip gave it) and restarted from its store (every payment ends paid), and a cooperative close of each channel in one L1
//! transaction. At the end every node's L1 balance moved by
//! exactly its off-chain net (received minus sent) less the gas it paid, and the
//! `ChannelManager` holds nothing. A second test runs `loft channel watchtower` as a process
//! and has it save a node killed with kill -9.

use crate::common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::common::Process;
use alloy::{providers::Provider, sol_types::SolEvent};
use alloy_primitives::{Address, B256, U256};
use loft_channel_node::{
    api::NodeClient,
    contracts::{ChannelDeployment, ChannelManager},
};
use loft_l1::L1Client;
use loft_testkit::wait_until;
use serde_json::Value;

const ETH: u128 = 1_000_000_000_000_000_000;
const MINUTE: Duration = Duration::from_secs(60);

fn loft(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loft"));
    cmd.current_dir(dir);
    cmd
}

/// One node process and how to reach its API.
struct ChannelNode {
    name: &'static str,
    address: Address,
    peer: String,
    api: String,
    ports: (u16, u16),
    process: Process,
}

struct Cli {
    dir: PathBuf,
}

impl Cli {
    fn output(&self, node: &ChannelNode, args: &[&str]) -> std::process::Output {
        self.output_at(&node.api, args)
    }

    fn output_at(&self, api: &str, args: &[&str]) -> std::process::Output {
        loft(&self.dir)
            .arg("channel")
            .args(args)
            .args(["--api", api])
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("loft runs")
    }

    /// `loft channel ARGS --json` against `node`; its answer (it must succeed).
    fn json(&self, node: &ChannelNode, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.output(node, &all);
        assert!(
            out.status.success(),
            "{}: loft channel {args:?} failed: {}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("a JSON answer")
    }

    /// `loft channel ARGS` against `node`; its stdout (it must succeed).
    fn run(&self, node: &ChannelNode, args: &[&str]) -> String {
        let out = self.output(node, args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{}: loft channel {args:?} failed: {stdout}{}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `loft channel ARGS` against `node`, which must fail; its stderr.
    fn fail(&self, node: &ChannelNode, args: &[&str]) -> String {
        let out = self.output(node, args);
        assert!(!out.status.success(), "{}: loft channel {args:?} should fail", node.name);
        String::from_utf8_lossy(&out.stderr).to_string()
    }
}

/// Starts `loft channel node` with `key_args` and waits until its API answers.
async fn start_node(
    dir: &Path,
    name: &'static str,
    l1: &str,
    key_args: &[&str],
    extra: &[&str],
    ports: Option<(u16, u16)>,
) -> ChannelNode {
    let (peer_port, api_port) = ports.unwrap_or_else(|| (common::free_port(), common::free_port()));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .expect("log");
    let process = Process(
        loft(dir)
            .args(["channel", "node", "--l1-rpc", l1, "--l1-poll-ms", "50"])
            .args(["--data-dir", &format!("store-{name}")])
            .args(["--listen", &format!("127.0.0.1:{peer_port}"), "--api", &format!("127.0.0.1:{api_port}")])
            .args(key_args)
            .args(extra)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("node"),
    );
    let api = format!("http://127.0.0.1:{api_port}");
    let client = NodeClient::new(&api).expect("client");
    let info =
        wait_until(&format!("node {name} to come up"), MINUTE, async || client.info().await.ok()).await;
    ChannelNode {
        name,
        address: info.address,
        peer: format!("{}@127.0.0.1:{peer_port}", info.address),
        api,
        ports: (peer_port, api_port),
        process,
    }
}

fn amount(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{v} is not a decimal amount"))
}

fn tx(v: &Value) -> B256 {
    v["tx"].as_str().and_then(|s| s.parse().ok()).expect("a transaction hash")
}

/// What a transaction cost its sender in gas.
async fn gas_cost(l1: &L1Client, hash: B256) -> U256 {
    let r = l1.provider().get_transaction_receipt(hash).await.expect("rpc").expect("mined");
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

/// The channel of `node` with `partner`, as `loft channel list --json` shows it.
fn channel_with(cli: &Cli, node: &ChannelNode, partner: Address) -> Value {
    cli.json(node, &["list"])
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["partner"].as_str().and_then(|p| p.parse::<Address>().ok()) == Some(partner))
        .cloned()
        .unwrap_or_else(|| panic!("{} has no channel with {partner}", node.name))
}

/// Waits up to a minute for `check`, a question asked of the CLI, to say yes.
async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    loft_testkit::wait_until_every(what, MINUTE, Duration::from_millis(100), async || check().then_some(()))
        .await
}

/// `loft devnet` in `dir`: the process, its URL, and the channel deployment it wrote.
async fn devnet(dir: &Path) -> (Process, String, ChannelDeployment) {
    let l1_port = common::free_port();
    let process = common::devnet_process(dir, l1_port);
    let url = format!("http://127.0.0.1:{l1_port}");
    let record = dir.join("target/loft-devnet/channels.json");
    let deployment = wait_until("the devnet to deploy the channel contracts", 2 * MINUTE, async || {
        ChannelDeployment::load(&record).ok()
    })
    .await;
    (process, url, deployment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_node_processes_route_pay_and_close_on_l1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_devnet, url, deployment) = devnet(dir.path()).await;
    let dev = loft_l1::dev_signers(5).expect("keys");
    let treasury = L1Client::connect(&url, dev[1].clone()).await.expect("l1");
    let manager_balance = async || treasury.balance(deployment.channel_manager).await.expect("balance");

    // A's key lives in a keystore; the treasury funds it.
    std::fs::write(dir.path().join("password"), "correct horse battery staple\n").expect("password");
    let cli = Cli { dir: dir.path().to_path_buf() };
    let keygen = loft(dir.path())
        .args(["channel", "keygen", "--dir", "keys", "--name", "alice.json", "--password-file", "password"])
        .output()
        .expect("keygen");
    assert!(keygen.status.success(), "keygen: {}", String::from_utf8_lossy(&keygen.stderr));
    std::fs::write(dir.path().join("wrong"), "guess\n").expect("password");
    let wrong = loft(dir.path())
        .args(["channel", "node", "--keystore", "keys/alice.json", "--password-file", "wrong"])
        .args(["--l1-rpc", &url, "--deployment", "target/loft-devnet/channels.json"])
        .output()
        .expect("node");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"), "a wrong password is named");

    let a = start_node(
        dir.path(),
        "A",
        &url,
        &["--keystore", "keys/alice.json", "--password-file", "password"],
        &[],
        None,
    )
    .await;
    treasury.transfer(a.address, U256::from(20 * ETH)).await.expect("fund A");
    // B charges 1000 wei + 100 ppm, C a flat 0.0005 ETH; D is only paid.
    let b_args: [&[&str]; 2] = [&["--dev-account", "2"], &["--fee-flat", "1000wei", "--fee-ppm", "100"]];
    let mut b = start_node(dir.path(), "B", &url, b_args[0], b_args[1], None).await;
    let c = start_node(dir.path(), "C", &url, &["--dev-account", "3"], &["--fee-flat", "0.0005"], None).await;
    let d = start_node(dir.path(), "D", &url, &["--dev-account", "4"], &[], None).await;
    let mut before = Vec::new();
    for n in [&a, &b, &c, &d] {
        before.push(treasury.balance(n.address).await.expect("balance"));
    }
    let mut gas = [U256::ZERO; 4];

    cli.run(&a, &["connect", &b.peer]);
    cli.run(&b, &["connect", &c.peer]);
    cli.run(&c, &["connect", &d.peer]);
    let a_b = cli.json(&a, &["open", "--partner", &b.address.to_string(), "--deposit", "5"]);
    let b_c = cli.json(&b, &["open", "--partner", &c.address.to_string(), "--deposit", "3"]);
    let c_d = cli.json(&c, &["open", "--partner", &d.address.to_string(), "--deposit", "2"]);
    for (i, opened) in [(0, &a_b), (1, &b_c), (2, &c_d)] {
        gas[i] += gas_cost(&treasury, tx(opened)).await;
    }
    assert_eq!(manager_balance().await, U256::from(10 * ETH));
    // Each partner sees its channel too (from the L1 watcher).
    wait_for("the partners to see their channels", || {
        [(&b, a.address), (&c, b.address), (&d, c.address)].iter().all(|(n, p)| {
            cli.json(n, &["list"]).as_array().is_some_and(|l| {
                l.iter().any(|c| c["partner"].as_str().and_then(|x| x.parse::<Address>().ok()) == Some(*p))
            })
        })
    })
    .await;

    // A pays D 0.1 ETH through B and C, offering their published policies.
    let target = ETH / 10;
    let via_b = format!("--via={}:1000wei:100:100", b.address);
    let via_c = format!("--via={}:0.0005:0:100", c.address);
    let paid = cli.json(&a, &["pay", "--to", &d.address.to_string(), "--amount", "0.1", &via_b, &via_c]);
    let fee_c = ETH / 2000;
    let fee_b = 1000 + (target + fee_c) * 100 / 1_000_000;
    assert_eq!(amount(&paid["fee"]), fee_b + fee_c, "both mediators are paid their fees");
    let human = cli.run(&a, &["payments"]);
    assert!(human.contains("Sent") && human.contains("Completed"), "{human}");

    // Thousands of direct payments A to B, each on both disks before the next is counted.
    let many =
        cli.json(&a, &["pay", "--to", &b.address.to_string(), "--amount", "0.0001", "--count", "3000"]);
    assert_eq!(many["count"].as_u64(), Some(3000));
    eprintln!("3000 direct payments over loopback between processes: {} ms", many["elapsedMs"]);

    // Refusals: more than the channel holds, more than any route to D carries, an address
    // nobody has a channel with, nonsense.
    let err = cli.fail(&a, &["pay", "--to", &b.address.to_string(), "--amount", "100"]);
    assert!(err.contains("capacity"), "{err}");
    let err = cli.fail(&a, &["pay", "--to", &d.address.to_string(), "--amount", "4"]);
    assert!(err.contains("no route"), "{err}");
    let err = cli.fail(&a, &["pay", "--to", &Address::repeat_byte(7).to_string(), "--amount", "1"]);
    assert!(err.contains("no route"), "{err}");
    let err = cli.fail(&a, &["pay", "--to", &b.address.to_string(), "--amount", "lots"]);
    assert!(err.contains("not an amount"), "{err}");
    let err = cli.fail(&a, &["settle", "--channel", "1"]);
    assert!(err.contains("not closed"), "{err}");

    // Every node's history and channels agree.
    let record = |n: &ChannelNode| {
        let list = cli.json(n, &["payments"]);
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{}: one mediated payment", n.name);
        list[0].clone()
    };
    let (ra, rb, rc, rd) = (record(&a), record(&b), record(&c), record(&d));
    assert_eq!((ra["role"].as_str(), ra["status"].as_str()), (Some("sent"), Some("completed")));
    assert_eq!(amount(&ra["fee"]), fee_b + fee_c);
    assert_eq!((rb["role"].as_str(), amount(&rb["fee"])), (Some("forwarded"), fee_b));
    assert_eq!((rc["role"].as_str(), amount(&rc["fee"])), (Some("forwarded"), fee_c));
    assert_eq!((rd["role"].as_str(), amount(&rd["amount"])), (Some("received"), target));

    // B, a mediator, is killed with kill -9 while payments A to D stream through it, and
    // restarts from its store on the same ports: every payment ends, nobody loses anything.
    // These are routed by A itself over the graph gossip gave it (no --via).
    let (small, stream_len) = (ETH / 1000, 12);
    let a_api = NodeClient::new(&a.api).expect("client");
    let r = wait_until("A to learn a route to D by gossip", MINUTE, async || {
        a_api.route(d.address, small).await.expect("route")
    })
    .await;
    assert_eq!(r.iter().map(|h| h.node).collect::<Vec<_>>(), vec![b.address, c.address, d.address]);
    assert_eq!((r[0].policy.fee_flat, r[0].policy.fee_ppm, r[1].policy.fee_flat), (1000, 100, ETH / 2000));
    let printed = cli.run(&a, &["route", "--to", &d.address.to_string(), "--amount", "0.001"]);
    assert!(printed.contains("3 hop(s)") && printed.contains("(target)"), "{printed}");
    let stream = {
        let cli = Cli { dir: dir.path().to_path_buf() };
        let (a_api, to) = (a.api.clone(), d.address.to_string());
        tokio::task::spawn_blocking(move || {
            (0..stream_len)
                .map(|_| cli.output_at(&a_api, &["pay", "--to", &to, "--amount", "0.001"]))
                .map(|out| (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string()))
                .collect::<Vec<_>>()
        })
    };
    // Killed once D has been paid twice from the stream: ten more are still to come.
    let d_api = NodeClient::new(&d.api).expect("client");
    let seen_by_d = wait_until("the stream to start", MINUTE, async || {
        Some(d_api.payments().await.map_or(0, |p| p.len())).filter(|seen| *seen >= 3)
    })
    .await;
    b.process.0.kill().expect("kill -9 B");
    assert!(seen_by_d < 1 + stream_len, "B was killed mid-stream ({seen_by_d} payments seen by D)");
    eprintln!("B killed after D saw {} of {stream_len} streamed payments", seen_by_d - 1);
    b.process.0.wait().expect("reaped");
    b = start_node(dir.path(), "B", &url, b_args[0], b_args[1], Some(b.ports)).await;
    let outcomes = stream.await.expect("the stream");
    let failures: Vec<&String> = outcomes.iter().filter(|o| !o.0).map(|o| &o.1).collect();
    assert!(failures.is_empty(), "every payment through the killed mediator ends paid: {failures:?}");
    let (fee_c_small, fee_b_small) = (ETH / 2000, 1000 + (small + ETH / 2000) * 100 / 1_000_000);
    let streamed = stream_len as u128;

    wait_for("every lock to be unlocked", || {
        [(&a, b.address), (&b, c.address), (&c, d.address)].iter().all(|(n, p)| {
            let ch = channel_with(&cli, n, *p);
            amount(&ch["ourLocked"]) == 0 && ch["unacked"].as_u64() == Some(0)
        })
    })
    .await;
    let direct = 3000 * (ETH / 10_000);
    let ab = channel_with(&cli, &a, b.address);
    let a_paid = target + fee_b + fee_c + direct + streamed * (small + fee_b_small + fee_c_small);
    assert_eq!(amount(&ab["sent"]), a_paid);
    assert_eq!(amount(&channel_with(&cli, &b, a.address)["received"]), amount(&ab["sent"]), "A and B agree");
    let b_sent = target + fee_c + streamed * (small + fee_c_small);
    assert_eq!(amount(&channel_with(&cli, &b, c.address)["sent"]), b_sent);
    assert_eq!(amount(&channel_with(&cli, &c, b.address)["received"]), b_sent, "B and C agree");
    assert_eq!(amount(&channel_with(&cli, &d, c.address)["received"]), target + streamed * small);

    // Each channel closes cooperatively in one L1 transaction.
    for (closer, partner, i) in [(&a, &b, 0), (&b, &c, 1), (&c, &d, 2)] {
        let id = channel_with(&cli, closer, partner.address)["id"].as_u64().expect("id").to_string();
        let closed = cli.json(closer, &["close", "--channel", &id]);
        gas[i] += gas_cost(&treasury, tx(&closed)).await;
    }
    wait_for("every channel to be settled", || {
        [(&a, b.address), (&b, c.address), (&c, d.address)]
            .iter()
            .all(|(n, p)| channel_with(&cli, n, *p)["status"].as_str() == Some("settled"))
    })
    .await;
    assert_eq!(manager_balance().await, U256::ZERO, "the ChannelManager paid out everything");

    // L1 moved by exactly the off-chain nets (what A paid is what D got plus the fees B and
    // C earned), less each one's gas.
    let nets: [i128; 4] = [
        -(a_paid as i128),
        (direct + fee_b + streamed * fee_b_small) as i128,
        (fee_c + streamed * fee_c_small) as i128,
        (target + streamed * small) as i128,
    ];
    for (i, n) in [&a, &b, &c, &d].iter().enumerate() {
        let after = treasury.balance(n.address).await.expect("balance");
        let expected = if nets[i] >= 0 {
            before[i] + U256::from(nets[i] as u128) - gas[i]
        } else {
            before[i] - U256::from(nets[i].unsigned_abs()) - gas[i]
        };
        assert_eq!(after, expected, "{}'s L1 balance", n.name);
    }
}

/// `loft channel watchtower` as its own process: A's node (started with `--watchtower`) hands
/// it B's newest proof, and `list` shows the nonce the tower acknowledged; A is killed with
/// kill -9; B closes alone with A's proof only, which leaves out everything B paid A; the
/// tower submits B's newest proof in the settle period, and the settlement pays A its deposit
/// less what it paid plus everything B paid it, to the wei (A sends nothing after its death).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchtower_process_saves_an_offline_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_devnet, url, _) = devnet(dir.path()).await;
    let dev = loft_l1::dev_signers(4).expect("keys");
    let l1 = L1Client::connect(&url, dev[3].clone()).await.expect("l1");
    let cli = Cli { dir: dir.path().to_path_buf() };

    let tower_port = common::free_port();
    let log = std::fs::File::create(dir.path().join("tower.log")).expect("log");
    let _tower = Process(
        loft(dir.path())
            .args(["channel", "watchtower", "--dev-account", "3", "--l1-rpc", &url, "--l1-poll-ms", "50"])
            .args(["--data-dir", "store-tower", "--listen", &format!("127.0.0.1:{tower_port}")])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("watchtower"),
    );
    let tower = format!("{}@127.0.0.1:{tower_port}", dev[3].address());
    let mut a =
        start_node(dir.path(), "A", &url, &["--dev-account", "1"], &["--watchtower", &tower], None).await;
    let b = start_node(dir.path(), "B", &url, &["--dev-account", "2"], &[], None).await;
    cli.run(&a, &["connect", &b.peer]);
    let opened = cli
        .json(&a, &["open", "--partner", &b.address.to_string(), "--deposit", "2", "--settle-timeout", "20"]);
    let id = opened["channel"].as_u64().expect("channel id").to_string();
    wait_for("B to see the channel", || cli.json(&b, &["list"]).as_array().is_some_and(|l| l.len() == 1))
        .await;
    cli.json(&b, &["deposit", "--channel", &id, "--total", "2"]);
    wait_for("A to see B's deposit", || {
        amount(&channel_with(&cli, &a, b.address)["partnerDeposit"]) == 2 * ETH
    })
    .await;
    cli.json(&a, &["pay", "--to", &b.address.to_string(), "--amount", "0.25", "--count", "2"]);
    cli.json(&b, &["pay", "--to", &a.address.to_string(), "--amount", "0.01", "--count", "40"]);
    wait_for("A's watchtower to hold B's newest proof", || {
        channel_with(&cli, &a, b.address)["watchtowerNonce"].as_u64() == Some(40)
    })
    .await;
    let printed = cli.run(&a, &["list"]);
    assert!(printed.contains("watchtower holds the partner's proof up to nonce 40"), "{printed}");

    a.process.0.kill().expect("kill -9 A");
    a.process.0.wait().expect("reaped");
    let a_before = l1.balance(a.address).await.expect("balance");
    cli.json(&b, &["close", "--channel", &id, "--unilateral"]);
    // The tower's update lands within the settle period; then past it B's node settles.
    let provider = l1.provider();
    let update = async || {
        let filter = alloy::rpc::types::Filter::new()
            .event_signature(ChannelManager::BalanceProofUpdated::SIGNATURE_HASH)
            .from_block(0);
        provider.get_logs(&filter).await.expect("logs").first().and_then(|l| l.transaction_hash)
    };
    let update_tx = wait_until("the watchtower to submit B's proof", MINUTE, update).await;
    let receipt = provider.get_transaction_receipt(update_tx).await.expect("rpc").expect("mined");
    assert_eq!(receipt.from, dev[3].address(), "the update is the watchtower's");
    let _: Value = provider.raw_request("anvil_mine".into(), ("0x16",)).await.expect("mine");
    wait_for("B's node to settle", || {
        channel_with(&cli, &b, a.address)["status"].as_str() == Some("settled")
    })
    .await;
    let a_after = l1.balance(a.address).await.expect("balance");
    assert_eq!(
        a_after - a_before,
        U256::from(2 * ETH - 2 * (ETH / 4) + 40 * (ETH / 100)),
        "A gets its deposit less what it paid plus everything B paid it"
    );
}
