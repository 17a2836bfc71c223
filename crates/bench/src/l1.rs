//! `loft bench l1`: ETH and ERC-20 transfers per second through loft's chain engine (block
//! building, state root and persistence on disk), through the embedded devnet's JSON-RPC,
//! and through anvil's JSON-RPC, the same signed transactions for all three, in one run.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use loft_chain::{Chain, ChainConfig, GenesisAccount, Store};
use loft_l1::contracts::{LoftToken, loft_token_creation_code};
use loft_rpc::MiningMode;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::report::{Better, Report, median};

const CHAIN_ID: u64 = 31337;
const MAX_FEE: u128 = 100_000_000_000;

/// Options of `loft bench l1`.
#[derive(Args, Debug, Clone)]
pub struct L1Args {
    /// Transfers per workload and run.
    #[arg(long, default_value_t = 10_000)]
    pub txs: usize,
    /// Distinct senders.
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// Timed runs per figure (the median is reported), after one warm-up.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// anvil binary (found on PATH or in .tools/bin when absent).
    #[arg(long)]
    pub anvil: Option<PathBuf>,
    /// Skip the anvil comparison.
    #[arg(long)]
    pub skip_anvil: bool,
}

/// The signed transactions of one workload.
pub(crate) struct Workload {
    pub(crate) senders: Vec<PrivateKeySigner>,
    /// Mined before timing (token deployment and distribution).
    pub(crate) setup: Vec<Bytes>,
    /// The timed transfers.
    pub(crate) transfers: Vec<Bytes>,
}

fn sender_key(i: usize) -> PrivateKeySigner {
    let seed = keccak256(format!("loft-bench-sender-{i}"));
    PrivateKeySigner::from_bytes(&seed).expect("a keccak output is a valid key with overwhelming probability")
}

fn recipient(i: usize) -> Address {
    Address::from_slice(&keccak256(format!("loft-bench-recipient-{i}"))[12..])
}

pub(crate) fn sign(
    s: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    gas_limit: u64,
    value: U256,
    input: Bytes,
) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: MAX_FEE,
        max_priority_fee_per_gas: 1,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let sig = s.sign_transaction_sync(&mut tx).expect("local signing does not fail");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

pub(crate) fn eth_workload(chain_id: u64, txs: usize, senders: usize) -> Workload {
    let keys: Vec<PrivateKeySigner> = (0..senders).map(sender_key).collect();
    let transfers = (0..txs)
        .into_par_iter()
        .map(|i| {
            let s = &keys[i % senders];
            sign(
                s,
                chain_id,
                (i / senders) as u64,
                TxKind::Call(recipient(i)),
                21_000,
                U256::from(1),
                Bytes::new(),
            )
        })
        .collect();
    Workload { senders: keys, setup: vec![], transfers }
}

pub(crate) fn erc20_workload(chain_id: u64, txs: usize, senders: usize) -> Workload {
    let keys: Vec<PrivateKeySigner> = (0..senders).map(sender_key).collect();
    let owner = &keys[0];
    let supply = U256::from(10u64).pow(U256::from(30));
    let token = owner.address().create(0);
    let mut setup = vec![sign(
        owner,
        chain_id,
        0,
        TxKind::Create,
        3_000_000,
        U256::ZERO,
        loft_token_creation_code("Bench Token", "BENCH", supply, owner.address()),
    )];
    for (i, k) in keys.iter().enumerate().skip(1) {
        let data =
            LoftToken::transferCall { to: k.address(), value: supply / U256::from(senders * 2) }.abi_encode();
        setup.push(sign(owner, chain_id, i as u64, TxKind::Call(token), 100_000, U256::ZERO, data.into()));
    }
    let first_nonce = |s: usize| if s == 0 { senders as u64 } else { 0 };
    let transfers = (0..txs)
        .into_par_iter()
        .map(|i| {
            let s = i % senders;
            let data = LoftToken::transferCall { to: recipient(i), value: U256::from(1) }.abi_encode();
            sign(
                &keys[s],
                chain_id,
                first_nonce(s) + (i / senders) as u64,
                TxKind::Call(token),
                100_000,
                U256::ZERO,
                data.into(),
            )
        })
        .collect();
    Workload { senders: keys, setup, transfers }
}

pub(crate) fn funded_config(senders: &[PrivateKeySigner]) -> ChainConfig {
    let alloc = senders
        .iter()
        .map(|s| GenesisAccount {
            address: s.address(),
            balance: U256::from(10u64).pow(U256::from(24)),
            ..Default::default()
        })
        .collect();
    ChainConfig::dev(CHAIN_ID, alloc)
}

/// Result of one engine run.
struct EngineRun {
    tps: f64,
    median_gas: u64,
}

/// In-process: accept (decode, recover, check, persist), build blocks, state root, persist.
fn engine_run(w: &Workload) -> anyhow::Result<EngineRun> {
    let dir = tempfile::tempdir()?;
    let mut chain = Chain::open(funded_config(&w.senders), Store::open(dir.path())?)?;
    for r in chain.submit_batch(&w.setup) {
        r.context("setup transaction refused")?;
    }
    while !chain.pool().is_empty() {
        chain.build_block()?;
    }
    let start_block = chain.head().header.number;
    let start = Instant::now();
    for chunk in w.transfers.chunks(2_000) {
        for r in chain.submit_batch(chunk) {
            r.context("transfer refused")?;
        }
    }
    while !chain.pool().is_empty() {
        let block = chain.build_block()?;
        if block.tx_hashes.is_empty() {
            bail!("{} transactions stuck in the pool", chain.pool().len());
        }
    }
    let elapsed = start.elapsed();
    let mut gas = Vec::new();
    for n in start_block + 1..=chain.head().header.number {
        for r in chain.block_receipts(n)?.unwrap_or_default() {
            if !r.receipt.status() {
                bail!("transfer {} failed", r.tx.hash);
            }
            gas.push(r.gas_used);
        }
    }
    if gas.len() != w.transfers.len() {
        bail!("{} of {} transfers mined", gas.len(), w.transfers.len());
    }
    gas.sort_unstable();
    Ok(EngineRun { tps: w.transfers.len() as f64 / elapsed.as_secs_f64(), median_gas: gas[gas.len() / 2] })
}

/// A JSON-RPC endpoint driven with raw batches.
struct RpcDriver {
    url: String,
    http: reqwest::Client,
}

impl RpcDriver {
    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp: Value = self.http.post(&self.url).json(&body).send().await?.json().await?;
        if let Some(e) = resp.get("error") {
            bail!("{method}: {e}");
        }
        Ok(resp["result"].clone())
    }

    async fn send_all(&self, txs: &[Bytes]) -> anyhow::Result<()> {
        for chunk in txs.chunks(500) {
            let body: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, tx)| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [tx]}))
                .collect();
            let resp: Vec<Value> = self.http.post(&self.url).json(&body).send().await?.json().await?;
            if let Some(e) = resp.iter().find_map(|r| r.get("error")) {
                bail!("eth_sendRawTransaction: {e}");
            }
        }
        Ok(())
    }

    async fn head(&self) -> anyhow::Result<u64> {
        let v = self.call("eth_blockNumber", json!([])).await?;
        Ok(u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)?)
    }

    async fn tx_count(&self, block: u64) -> anyhow::Result<usize> {
        let v = self.call("eth_getBlockByNumber", json!([format!("{block:#x}"), false])).await?;
        Ok(v["transactions"].as_array().map(|a| a.len()).unwrap_or_default())
    }

    /// Mines until `expected` transactions are included; returns when they are.
    async fn mine_until(&self, expected: usize) -> anyhow::Result<()> {
        let mut included = 0;
        let mut empty = 0;
        while included < expected {
            self.call("evm_mine", json!([])).await?;
            let n = self.tx_count(self.head().await?).await?;
            included += n;
            empty = if n == 0 { empty + 1 } else { 0 };
            if empty > 3 {
                bail!("only {included} of {expected} transactions were mined");
            }
        }
        Ok(())
    }

    /// Sends the setup, mines it, then times sending and mining the transfers.
    async fn run(&self, w: &Workload) -> anyhow::Result<f64> {
        if !w.setup.is_empty() {
            self.send_all(&w.setup).await?;
            self.mine_until(w.setup.len()).await?;
        }
        let start = Instant::now();
        self.send_all(&w.transfers).await?;
        self.mine_until(w.transfers.len()).await?;
        Ok(w.transfers.len() as f64 / start.elapsed().as_secs_f64())
    }
}

fn driver(url: String) -> RpcDriver {
    RpcDriver { url, http: reqwest::Client::new() }
}

async fn devnet_rpc_run(w: &Workload) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let chain = Chain::open(funded_config(&w.senders), Store::open(dir.path())?)?;
    let node = loft_rpc::Node::new(chain, MiningMode::Manual, vec![]);
    let server = loft_rpc::serve(node, "127.0.0.1:0".parse()?, loft_rpc::Methods::WithDevControls).await?;
    let result = driver(format!("http://{}", server.addr)).run(w).await;
    let _ = server.handle.stop();
    result
}

/// Finds anvil: the flag, `.tools/bin/anvil`, or PATH.
pub fn find_anvil(flag: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.clone());
    }
    let local = PathBuf::from(".tools/bin/anvil");
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("anvil")).find(|p| p.exists()))
}

struct AnvilProcess(Child);
impl Drop for AnvilProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn anvil_run(anvil: &PathBuf, w: &Workload) -> anyhow::Result<f64> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let _child = AnvilProcess(
        Command::new(anvil)
            .args([
                "--port",
                &port.to_string(),
                "--no-mining",
                "--silent",
                "--chain-id",
                &CHAIN_ID.to_string(),
            ])
            .args(["--gas-limit", "30000000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", anvil.display()))?,
    );
    let d = driver(format!("http://127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.call("eth_chainId", json!([])).await.is_err() {
        if Instant::now() > deadline {
            bail!("anvil did not answer on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in &w.senders {
        d.call("anvil_setBalance", json!([s.address(), "0xd3c21bcecceda1000000"])).await?;
    }
    d.run(w).await
}

pub(crate) fn spinner(msg: String) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb.set_message(msg);
    pb
}

/// Runs the L1 benchmark and writes `target/loft-bench/l1.json`.
pub async fn run(args: L1Args) -> anyhow::Result<Report> {
    if args.senders == 0 || args.txs == 0 || args.runs == 0 {
        bail!("--txs, --senders and --runs must be positive");
    }
    let anvil = if args.skip_anvil { None } else { find_anvil(args.anvil.as_ref()) };
    if !args.skip_anvil && anvil.is_none() {
        bail!(
            "anvil not found (install it with scripts/install-tools.sh, pass --anvil PATH, or --skip-anvil)"
        );
    }
    let pb = spinner(format!("signing {} ETH and {} ERC-20 transfers", args.txs, args.txs));
    let eth = eth_workload(CHAIN_ID, args.txs, args.senders);
    let erc20 = erc20_workload(CHAIN_ID, args.txs, args.senders);
    let warm = eth_workload(CHAIN_ID, (args.txs / 10).max(args.senders), args.senders);
    pb.finish_and_clear();

    let mut report = Report::new("l1");
    let n = args.txs as u64;
    for (label, w) in [("eth", &eth), ("erc20", &erc20)] {
        let pb = spinner(format!("{label}: engine in-process"));
        engine_run(&warm)?;
        let mut tps = Vec::new();
        let mut gas = 0;
        for _ in 0..args.runs {
            let r = engine_run(w)?;
            tps.push(r.tps);
            gas = r.median_gas;
        }
        let engine = median(&mut tps);
        pb.set_message(format!("{label}: engine over JSON-RPC"));
        devnet_rpc_run(&warm).await?;
        let mut rpc = Vec::new();
        for _ in 0..args.runs {
            rpc.push(devnet_rpc_run(w).await?);
        }
        let engine_rpc = median(&mut rpc);
        let anvil_tps = match &anvil {
            Some(a) => {
                pb.set_message(format!("{label}: anvil over JSON-RPC"));
                anvil_run(a, &warm).await?;
                let mut v = Vec::new();
                for _ in 0..args.runs {
                    v.push(anvil_run(a, w).await?);
                }
                Some(median(&mut v))
            }
            None => None,
        };
        pb.finish_and_clear();
        let name = if label == "eth" { "eth_transfer" } else { "erc20_transfer" };
        let plural = if label == "eth" { "eth_transfers_per_s" } else { "erc20_transfers_per_s" };
        report.push(&format!("l1.engine.{plural}"), engine, "tx/s", Better::Higher, n);
        report.push(&format!("l1.engine_rpc.{plural}"), engine_rpc, "tx/s", Better::Higher, n);
        if let Some(a) = anvil_tps {
            report.push(&format!("l1.anvil.{plural}"), a, "tx/s", Better::Higher, n);
            report.push(&format!("l1.engine_vs_anvil.{label}_ratio"), engine / a, "x", Better::Higher, n);
            report.push(
                &format!("l1.engine_rpc_vs_anvil.{label}_ratio"),
                engine_rpc / a,
                "x",
                Better::Higher,
                n,
            );
        }
        report.push(&format!("l1_direct.gas_per_tx.{name}"), gas as f64, "gas", Better::Lower, n);
    }
    report.finish()?;
    Ok(report)
}
