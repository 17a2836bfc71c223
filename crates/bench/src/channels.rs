//! `loft bench channels`: payment channels on the embedded L1.
//!
//! - Direct payments per second between two `loft-channel-node`s in this process, each with
//!   its own redb store on disk, over Noise on loopback: from the first payment to the `Ack`
//!   of the last (every proof separately signed, verified and durably committed by the
//!   receiver before it is acknowledged), median of `--runs` after a warm-up.
//! - L1 gas of the channel's life (open with deposit, partner deposit, cooperative settle,
//!   unilateral close + update + settle, secret registration, unlock) for ETH and an ERC-20,
//!   against the same payments made as L1 transfers.
//!
//! - Latency of a 3-hop payment A -> B -> C -> D (four nodes, two mediators taking fees), from
//!   `pay_route` at A to A's committed `Unlock`, over `--hop-payments` sequential payments on
//!   warm connections: p50 and p99.

use std::time::Duration;

use alloy::providers::Provider;
use alloy_primitives::{Address, B256, U256, keccak256};
use anyhow::{Context, bail};
use clap::Args;
use loft_channel_node::{
    contracts::{ChannelContracts, ChannelDeployment, deploy, settle_data},
    node::{MediationConfig, Node, NodeConfig, NodeHandle},
};
use loft_channels::{
    Channel, Lock, LockList, SigningKey,
    lock::secrethash,
    route::{FeePolicy, RouteHop},
};
use loft_devnet::{Devnet, DevnetConfig};
use loft_l1::{L1Client, contracts::LoftToken};
use loft_rpc::MiningMode;

use crate::{
    l1::spinner,
    report::{Better, Report, bench_dir, median, percentile},
};

const ETH: u128 = 1_000_000_000_000_000_000;
const SETTLE_TIMEOUT: u64 = 10;

/// Options of `loft bench channels`.
#[derive(Args, Debug, Clone)]
pub struct ChannelsArgs {
    /// Direct payments per run.
    #[arg(long, default_value_t = 20_000)]
    pub payments: u64,
    /// Timed runs (the median is reported), after one warm-up run of a tenth as many.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Sequential 3-hop payments for the latency figures.
    #[arg(long, default_value_t = 200)]
    pub hop_payments: usize,
}

struct Party {
    key: SigningKey,
    l1: L1Client,
}

fn node_config(p: &Party, d: ChannelDeployment, dir: &std::path::Path, url: &str) -> NodeConfig {
    NodeConfig {
        l1_poll: Duration::from_millis(50),
        mediation: MediationConfig { policy: HOP_FEE, reveal_timeout: 4, final_delta: 8 },
        ..NodeConfig::new(p.key.clone(), d, dir.to_path_buf(), url)
    }
}

const HOP_FEE: FeePolicy = FeePolicy { fee_flat: 1_000, fee_ppm: 100, expiry_delta: 8 };

/// What `count` sequential payments A -> B -> C -> D on four fresh nodes took.
struct Hop3 {
    /// Each payment's latency, ms.
    latencies_ms: Vec<f64>,
    /// Durable commits of the four nodes together, per payment.
    commits_per_payment: f64,
    /// How long those commits took, ms.
    commit_ms: Vec<f64>,
}

async fn hop3_latencies(
    parties: &[Party],
    d: ChannelDeployment,
    url: &str,
    count: usize,
) -> anyhow::Result<Hop3> {
    let data = bench_dir().join("channels-hop3");
    let _ = std::fs::remove_dir_all(&data);
    let mut nodes = Vec::new();
    for (i, p) in parties.iter().enumerate() {
        nodes.push(Node::start(node_config(p, d, &data.join(i.to_string()), url)).await?);
    }
    let h: Vec<NodeHandle> = nodes.iter().map(|n| n.handle()).collect();
    for i in 0..3 {
        let (id, _) = ChannelContracts::new(&parties[i].l1, d)
            .open_with_deposit(h[i + 1].address(), Address::ZERO, 1000, U256::from(10 * ETH))
            .await?;
        wait_for_deposits(&h[i], id, 10 * ETH, 0).await?;
        wait_for_deposits(&h[i + 1], id, 0, 10 * ETH).await?;
        h[i].connect(h[i + 1].address(), h[i + 1].listen_addr()).await?;
    }
    h[3].connect(h[0].address(), h[0].listen_addr()).await?;
    let route: Vec<RouteHop> = vec![
        RouteHop { node: h[1].address(), policy: HOP_FEE },
        RouteHop { node: h[2].address(), policy: HOP_FEE },
        RouteHop { node: h[3].address(), policy: FeePolicy::default() },
    ];
    for _ in 0..10 {
        h[0].pay_route(route.clone(), 1_000_000_000).await?;
    }
    let mut before = Vec::new();
    for node in &h {
        before.push(node.store_stats().await?);
    }
    let mut ms = Vec::with_capacity(count);
    for _ in 0..count {
        ms.push(h[0].pay_route(route.clone(), 1_000_000_000).await?.elapsed.as_secs_f64() * 1000.0);
    }
    let (mut commits, mut commit_ms) = (0, Vec::new());
    for (node, before) in h.iter().zip(before) {
        let after = node.store_stats().await?;
        let new = after.commits.saturating_sub(before.commits);
        commits += new;
        let skip = after.commit_us.len().saturating_sub(new as usize);
        commit_ms.extend(after.commit_us[skip..].iter().map(|us| *us as f64 / 1000.0));
    }
    for n in nodes {
        n.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&data);
    Ok(Hop3 { latencies_ms: ms, commits_per_payment: commits as f64 / count.max(1) as f64, commit_ms })
}

async fn wait_for_deposits(node: &NodeHandle, id: u64, ours: u128, theirs: u128) -> anyhow::Result<()> {
    for _ in 0..800 {
        let list = node.channels().await?;
        if list.iter().any(|c| {
            c.channel.id == id && c.channel.ours.deposit == ours && c.channel.theirs.deposit == theirs
        }) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the node did not see channel {id}'s deposits")
}

async fn mine(l1: &L1Client, blocks: u64) -> anyhow::Result<()> {
    let _: serde_json::Value =
        l1.provider().raw_request("anvil_mine".into(), (format!("0x{blocks:x}"),)).await?;
    Ok(())
}

/// Gas of a unilateral close (Bob), the update by Alice, and the settlement, for a channel
/// where both paid; and of a secret registration and the unlock of one lock.
async fn unilateral_gas(
    alice: &Party,
    bob: &Party,
    d: ChannelDeployment,
    token: Address,
) -> anyhow::Result<(u64, u64, u64)> {
    let domain = d.domain();
    let a_l1 = ChannelContracts::new(&alice.l1, d);
    let b_l1 = ChannelContracts::new(&bob.l1, d);
    let (id, _) = a_l1.open_with_deposit(bob.key.address(), token, SETTLE_TIMEOUT, U256::from(ETH)).await?;
    let eth = if token == Address::ZERO { U256::from(ETH) } else { U256::ZERO };
    b_l1.set_total_deposit(id, bob.key.address(), U256::from(ETH), eth).await?;
    let mut a = Channel::new(id, token, alice.key.address(), bob.key.address(), SETTLE_TIMEOUT);
    let mut b = Channel::new(id, token, bob.key.address(), alice.key.address(), SETTLE_TIMEOUT);
    (a.ours.deposit, a.theirs.deposit, b.ours.deposit, b.theirs.deposit) = (ETH, ETH, ETH, ETH);
    for i in 0..10u64 {
        let mh = keccak256(i.to_be_bytes());
        let p = a.send_direct(&alice.key, &domain, ETH / 100, mh)?;
        b.receive_direct(&p.verify(&domain)?, mh)?;
        let p = b.send_direct(&bob.key, &domain, ETH / 200, mh)?;
        a.receive_direct(&p.verify(&domain)?, mh)?;
    }
    let close = b_l1.close(id, b.theirs.proof.as_ref()).await?;
    let proof = a.theirs.proof.context("a proof of Bob's")?;
    let update = a_l1.update_non_closing(id, alice.key.address(), &proof, None).await?;
    mine(&alice.l1, SETTLE_TIMEOUT + 1).await?;
    let settle = a_l1
        .settle(
            id,
            settle_data(alice.key.address(), b.theirs.proof.as_ref()),
            settle_data(bob.key.address(), Some(&proof)),
        )
        .await?;
    Ok((close.gas_used, update.gas_used, settle.gas_used))
}

/// Gas of registering a secret and of unlocking one claimable lock after settlement (ETH).
async fn lock_gas(alice: &Party, bob: &Party, d: ChannelDeployment) -> anyhow::Result<(u64, u64)> {
    let domain = d.domain();
    let a_l1 = ChannelContracts::new(&alice.l1, d);
    let b_l1 = ChannelContracts::new(&bob.l1, d);
    let (id, _) =
        a_l1.open_with_deposit(bob.key.address(), Address::ZERO, SETTLE_TIMEOUT, U256::from(ETH)).await?;
    let mut a = Channel::new(id, Address::ZERO, alice.key.address(), bob.key.address(), SETTLE_TIMEOUT);
    let mut b = Channel::new(id, Address::ZERO, bob.key.address(), alice.key.address(), SETTLE_TIMEOUT);
    a.ours.deposit = ETH;
    b.theirs.deposit = ETH;
    let head = alice.l1.block_number().await?;
    let secret = B256::repeat_byte(0x5e);
    let lock = Lock { expiration: head + 100, amount: ETH / 2, secrethash: secrethash(&secret) };
    let p = a.send_locked(&alice.key, &domain, lock, head, B256::ZERO)?;
    b.receive_locked(&p.verify(&domain)?, &lock, head, B256::ZERO)?;
    let register = b_l1.register_secret(secret).await?;
    b_l1.close(id, b.theirs.proof.as_ref()).await?;
    mine(&bob.l1, SETTLE_TIMEOUT + 1).await?;
    b_l1.settle(
        id,
        settle_data(alice.key.address(), b.theirs.proof.as_ref()),
        settle_data(bob.key.address(), None),
    )
    .await?;
    let locks: &LockList = &b.theirs.locks;
    let unlock = b_l1.unlock(id, alice.key.address(), locks).await?;
    Ok((register.gas_used, unlock.gas_used))
}

/// Runs the benchmark and writes `target/loft-bench/channels.json`.
pub async fn run(args: ChannelsArgs) -> anyhow::Result<Report> {
    if args.payments == 0 || args.runs == 0 {
        bail!("--payments and --runs must be positive");
    }
    let pb = spinner("starting the devnet and deploying the channel contracts".into());
    let devnet = Devnet::start(DevnetConfig {
        addr: "127.0.0.1:0".parse()?,
        mining: MiningMode::Instant,
        ..Default::default()
    })
    .await?;
    let url = devnet.url();
    let signers = loft_l1::dev_signers(7)?;
    let mut parties = Vec::new();
    for s in &signers {
        parties.push(Party {
            key: SigningKey::from_bytes(&s.to_bytes().0)?,
            l1: L1Client::connect(&url, s.clone()).await?,
        });
    }
    let d = deploy(&parties[2].l1, SETTLE_TIMEOUT, 100_000).await?;
    let token_code = loft_l1::contracts::loft_token_creation_code(
        "Loft",
        "LOFT",
        U256::from(1_000_000 * ETH),
        parties[0].l1.address(),
    );
    let token = parties[0].l1.deploy(token_code).await?;
    let erc20 = LoftToken::new(token, parties[0].l1.provider().clone());
    erc20.transfer(parties[1].l1.address(), U256::from(1000 * ETH)).send().await?.get_receipt().await?;
    for p in &parties[..2] {
        LoftToken::new(token, p.l1.provider().clone())
            .approve(d.channel_manager, U256::MAX)
            .send()
            .await?
            .get_receipt()
            .await?;
    }
    pb.finish_and_clear();
    let (alice, bob) = (&parties[0], &parties[1]);
    let mut report = Report::new("channels");

    // --- L1-direct baseline
    let eth_transfer = alice.l1.transfer(bob.l1.address(), U256::from(1)).await?.gas_used;
    let erc20_transfer =
        erc20.transfer(bob.l1.address(), U256::from(1)).send().await?.get_receipt().await?.gas_used;

    // --- nodes and direct payments
    let data = bench_dir().join("channels-data");
    let _ = std::fs::remove_dir_all(&data);
    let a_node = Node::start(node_config(alice, d, &data.join("alice"), &url)).await?;
    let b_node = Node::start(node_config(bob, d, &data.join("bob"), &url)).await?;
    let (a, b) = (a_node.handle(), b_node.handle());
    let a_l1 = ChannelContracts::new(&alice.l1, d);
    let b_l1 = ChannelContracts::new(&bob.l1, d);
    let (id, open) =
        a_l1.open_with_deposit(b.address(), Address::ZERO, SETTLE_TIMEOUT, U256::from(100 * ETH)).await?;
    let deposit = b_l1.set_total_deposit(id, b.address(), U256::from(ETH), U256::from(ETH)).await?;
    wait_for_deposits(&a, id, 100 * ETH, ETH).await?;
    wait_for_deposits(&b, id, ETH, 100 * ETH).await?;
    a.connect(b.address(), b.listen_addr()).await?;

    let pb = spinner(format!("warm-up: {} payments", (args.payments / 10).max(1)));
    a.pay_many(b.address(), 1_000_000_000, (args.payments / 10).max(1)).await?;
    pb.finish_and_clear();
    let mut rates = Vec::new();
    let before = b.store_stats().await?;
    for run in 0..args.runs {
        let pb = spinner(format!("run {}/{}: {} direct payments A -> B", run + 1, args.runs, args.payments));
        let r = a.pay_many(b.address(), 1_000_000_000, args.payments).await?;
        pb.finish_and_clear();
        rates.push(args.payments as f64 / r.elapsed.as_secs_f64());
    }
    let after = b.store_stats().await?;
    let commits = after.commits.saturating_sub(before.commits).max(1);
    let total = args.payments * args.runs as u64;
    let mut commit_ms: Vec<f64> = after.commit_us.iter().map(|us| *us as f64 / 1000.0).collect();
    report.push("channels.direct_payments_per_s", median(&mut rates), "1/s", Better::Higher, args.payments);
    report.push(
        "channels.payments_per_commit",
        total as f64 / commits as f64,
        "payments",
        Better::Higher,
        commits,
    );
    report.push(
        "channels.store.commit_ms_p50",
        percentile(&mut commit_ms, 50.0),
        "ms",
        Better::Lower,
        commits,
    );
    report.push(
        "channels.store.commit_ms_p99",
        percentile(&mut commit_ms, 99.0),
        "ms",
        Better::Lower,
        commits,
    );

    let close = a.close(id).await?;
    a_node.shutdown().await;
    b_node.shutdown().await;

    let pb = spinner(format!("{} sequential 3-hop payments A -> B -> C -> D", args.hop_payments));
    let mut hop3 = hop3_latencies(&parties[3..7], d, &url, args.hop_payments).await?;
    pb.finish_and_clear();
    let n = hop3.latencies_ms.len() as u64;
    report.push(
        "channels.hop3_latency_ms_p50",
        percentile(&mut hop3.latencies_ms, 50.0),
        "ms",
        Better::Lower,
        n,
    );
    report.push(
        "channels.hop3_latency_ms_p99",
        percentile(&mut hop3.latencies_ms, 99.0),
        "ms",
        Better::Lower,
        n,
    );
    report.push("channels.hop3_commits_per_payment", hop3.commits_per_payment, "commits", Better::Lower, n);
    let commits = hop3.commit_ms.len() as u64;
    report.push(
        "channels.hop3_commit_ms_p50",
        percentile(&mut hop3.commit_ms, 50.0),
        "ms",
        Better::Lower,
        commits,
    );

    // --- L1 gas of the channel's life
    let open_close = open.gas_used + close.gas_used;
    report.push("channels.l1_gas.open", open.gas_used as f64, "gas", Better::Lower, 1);
    report.push("channels.l1_gas.deposit", deposit.gas_used as f64, "gas", Better::Lower, 1);
    report.push("channels.l1_gas.cooperative_settle", close.gas_used as f64, "gas", Better::Lower, 1);
    report.push("channels.l1_gas.open_close", open_close as f64, "gas", Better::Lower, 1);
    let (c, u, s) = unilateral_gas(alice, bob, d, Address::ZERO).await?;
    report.push("channels.l1_gas.unilateral", (c + u + s) as f64, "gas", Better::Lower, 1);
    let (register, unlock) = lock_gas(alice, bob, d).await?;
    report.push("channels.l1_gas.register_secret", register as f64, "gas", Better::Lower, 1);
    report.push("channels.l1_gas.unlock_1", unlock as f64, "gas", Better::Lower, 1);

    // ERC-20: open with deposit and cooperative settle signed with the protocol's keys.
    let (tid, topen) =
        a_l1.open_with_deposit(bob.key.address(), token, SETTLE_TIMEOUT, U256::from(ETH)).await?;
    let tdeposit = b_l1.set_total_deposit(tid, bob.key.address(), U256::from(ETH), U256::ZERO).await?;
    let mut ch = Channel::new(tid, token, alice.key.address(), bob.key.address(), SETTLE_TIMEOUT);
    (ch.ours.deposit, ch.theirs.deposit) = (ETH, ETH);
    let ((p1, b1), (p2, b2)) = ch.cooperative_balances();
    let expiration = alice.l1.block_number().await? + 20;
    let digest = d.domain().cooperative_settle_digest(tid, p1, b1, p2, b2, expiration);
    let (k1, k2) = if p1 == alice.key.address() { (&alice.key, &bob.key) } else { (&bob.key, &alice.key) };
    let tclose = a_l1
        .cooperative_settle(tid, b1, b2, expiration, &k1.sign_digest(&digest), &k2.sign_digest(&digest))
        .await?;
    report.push("channels.l1_gas.erc20.open", topen.gas_used as f64, "gas", Better::Lower, 1);
    report.push("channels.l1_gas.erc20.deposit", tdeposit.gas_used as f64, "gas", Better::Lower, 1);
    report.push("channels.l1_gas.erc20.cooperative_settle", tclose.gas_used as f64, "gas", Better::Lower, 1);
    report.push(
        "channels.l1_gas.erc20.open_close",
        (topen.gas_used + tclose.gas_used) as f64,
        "gas",
        Better::Lower,
        1,
    );
    let (c, u, s) = unilateral_gas(alice, bob, d, token).await?;
    report.push("channels.l1_gas.erc20.unilateral", (c + u + s) as f64, "gas", Better::Lower, 1);

    report.push("l1_direct.gas_per_tx.eth_transfer", eth_transfer as f64, "gas", Better::Lower, 1);
    report.push("l1_direct.gas_per_tx.erc20_transfer", erc20_transfer as f64, "gas", Better::Lower, 1);
    report.push(
        "channels.breakeven_payments.eth",
        open_close as f64 / eth_transfer as f64,
        "payments",
        Better::Lower,
        1,
    );
    report.push("channels.l1_gas_per_payment.n_1000", open_close as f64 / 1000.0, "gas", Better::Lower, 1000);
    devnet.stop().await;
    let _ = std::fs::remove_dir_all(&data);
    report.finish()?;
    Ok(report)
}
