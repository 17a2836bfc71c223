//! `loft bench rollup`: what the optimistic rollup costs on L1 per L2 transaction and how
//! fast its sequencer runs, for ETH and ERC-20 transfers, against sending the same transfers
//! to L1 directly, in one run.
//!
//! - Sequencer: signed transfers accepted (signature recovery, durable pool write) and built
//!   into 1-second L2 blocks with the L1-info deposit, L1 data fee, state root and a durable
//!   block write: transactions per second.
//! - Batches: the blocks as the batcher encodes them (zstd channel, frames of at most 120 KB
//!   per L1 transaction), posted as calldata to the inbox on an in-process L1 engine: the L1
//!   gas its receipts report (Prague rules, EIP-7623 calldata floor included), per L2
//!   transaction; and the compressed bytes per transaction a blob would carry.
//! - Blobs: the same channel cut into blob payloads as the batcher cuts them: blob gas and the
//!   execution gas of the blob transactions, per L2 transaction.
//! - Latency: the whole rollup running (`loft devnet`'s roles, an embedded L1 mining every
//!   second, blobs, on-disk chains) while transfers are sent over JSON-RPC at a steady rate:
//!   from send to the sequencer's block holding it (the receipt), and to the replica deriving
//!   that block from L1 (the safe head).
//! - L1-direct: the same kind of transfer executed on the L1 engine.
//! - An hour of L1 cost, idle and at 10 transfers/s, simulated with the batcher's channel
//!   policy before and after channels waited to fill (`rollup_hour`).

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SidecarBuilder, SimpleCoder},
    eips::eip4844::DATA_GAS_PER_BLOB,
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B128, B256, Bytes, TxKind, U256};
use anyhow::{Context, bail};
use clap::Args;
use loft_chain::{BlockSpec, Chain, GenesisAccount, Store};
use loft_devnet::{Devnet, DevnetConfig};
use loft_l1::L1Client;
use loft_rollup::batch::{ChannelEncoder, Compression};
use loft_rollup::{
    RollupConfig,
    batcher::MAX_BLOB_PAYLOAD,
    block::batch_for_block,
    channel_policy::{ChannelPolicy, DataChoice},
    config::{BATCH_INBOX, L1Anchor},
    deposits::L1BlockInfo,
    derive::{L1Block, L2Head, attributes},
    genesis::l2_chain_config,
    service::RollupServiceConfig,
};
use loft_rpc::{MiningMode, NodeEvent};
use parking_lot::Mutex;

use crate::{
    l1::{Workload, erc20_workload, eth_workload, funded_config, sign, spinner},
    report::{Better, Report, median, percentile},
};

const L2_CHAIN_ID: u64 = 42069;
const L1_CHAIN_ID: u64 = 31337;

/// Options of `loft bench rollup`.
#[derive(Args, Debug, Clone)]
pub struct RollupArgs {
    /// Transfers per workload and run.
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Distinct senders.
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// Timed runs (the median is reported), after one warm-up.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Transfers sent to the running rollup for the latency figures (0: skip them).
    #[arg(long, default_value_t = 300)]
    pub latency_txs: usize,
    /// Their rate, transfers per second.
    #[arg(long, default_value_t = 50.0)]
    pub latency_rate: f64,
}

fn rollup_config() -> RollupConfig {
    let anchor = L1Anchor { number: 0, hash: B256::repeat_byte(1), timestamp: 1_700_000_000 };
    RollupConfig {
        l2_chain_id: L2_CHAIN_ID,
        l1_chain_id: L1_CHAIN_ID,
        max_sequencer_drift: 1_000_000,
        ..RollupConfig::devnet(anchor, Address::repeat_byte(0xba), Address::repeat_byte(0xaa))
    }
}

/// One sequencer run: the chain after it and the timed throughput.
struct SequencerRun {
    chain: Chain,
    first_block: u64,
    tps: f64,
    _dir: tempfile::TempDir,
}

fn sequence(w: &Workload) -> anyhow::Result<SequencerRun> {
    let config = rollup_config();
    let dir = tempfile::tempdir()?;
    let balance = U256::from(10u64).pow(U256::from(24));
    let funded = w
        .senders
        .iter()
        .map(|s| GenesisAccount { address: s.address(), balance, ..Default::default() })
        .collect();
    let mut chain = Chain::open(l2_chain_config(&config, funded, Address::ZERO), Store::open(dir.path())?)?;
    let epoch = L1Block {
        info: L1BlockInfo {
            number: 0,
            timestamp: config.l1_anchor.timestamp,
            base_fee: 10_000_000_000,
            hash: config.l1_anchor.hash,
            blob_base_fee: 1,
            batcher_hash: B256::ZERO,
        },
        parent_hash: B256::ZERO,
        deposits: vec![],
        batcher_data: vec![],
    };
    let mut head = L2Head {
        number: 0,
        hash: chain.head().hash,
        timestamp: config.l2_genesis_time,
        epoch: 0,
        sequence_number: 0,
    };
    let build = |chain: &mut Chain, head: &mut L2Head| -> anyhow::Result<usize> {
        let attrs = attributes(head, &epoch, head.timestamp + 1, vec![], false);
        let spec = BlockSpec {
            timestamp: Some(attrs.timestamp),
            prevrandao: Some(attrs.epoch.hash),
            extra_data: Some(Bytes::new()),
            deposits: attrs.deposits.clone(),
            txs: None,
            l1_prices: Some(attrs.epoch.prices()),
        };
        let block = chain.build_block_with(spec)?;
        *head = L2Head {
            number: block.header.header.number,
            hash: block.header.hash,
            timestamp: attrs.timestamp,
            epoch: 0,
            sequence_number: attrs.sequence_number,
        };
        Ok(block.tx_hashes.len() - 1)
    };
    for r in chain.submit_batch(&w.setup) {
        r.context("setup transaction refused")?;
    }
    while !chain.pool().is_empty() {
        build(&mut chain, &mut head)?;
    }
    let first_block = head.number + 1;
    let start = Instant::now();
    // Transfers arrive in chunks and the sequencer builds blocks as they come (a pool queues
    // at most 1,024 nonces ahead of a sender's state).
    let mut included = 0;
    for chunk in w.transfers.chunks(2_000) {
        for r in chain.submit_batch(chunk) {
            r.context("transfer refused")?;
        }
        while !chain.pool().is_empty() {
            let n = build(&mut chain, &mut head)?;
            if n == 0 {
                bail!("{} transactions stuck in the pool", chain.pool().len());
            }
            included += n;
        }
    }
    let tps = w.transfers.len() as f64 / start.elapsed().as_secs_f64();
    if included != w.transfers.len() {
        bail!("{included} of {} transfers included", w.transfers.len());
    }
    Ok(SequencerRun { chain, first_block, tps, _dir: dir })
}

/// What posting a run's blocks costs.
struct BatchCost {
    l1_gas: u64,
    raw_bytes: usize,
    compressed_bytes: usize,
    l1_transactions: usize,
}

fn batch_cost(run: &SequencerRun) -> anyhow::Result<BatchCost> {
    let mut encoder = ChannelEncoder::new(B128::repeat_byte(1), Compression::default())
        .map_err(|e| anyhow::anyhow!("channel: {e}"))?;
    for n in run.first_block..=run.chain.head().header.number {
        encoder.add_batch(&batch_for_block(&run.chain, n)?).map_err(|e| anyhow::anyhow!("batch: {e}"))?;
    }
    encoder.close().map_err(|e| anyhow::anyhow!("close: {e}"))?;
    let (raw_bytes, compressed_bytes) = (encoder.input_bytes(), encoder.compressed_bytes());
    let payloads = encoder.into_tx_data(120_000).map_err(|e| anyhow::anyhow!("frames: {e}"))?;
    // Post them for real on an L1 engine and read the gas from the receipts.
    let batcher = PrivateKeySigner::from_bytes(&B256::repeat_byte(0xba))?;
    let mut l1 = Chain::open(funded_config(std::slice::from_ref(&batcher)), Store::in_memory()?)?;
    let txs: Vec<Bytes> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let gas = 21_000 + 40 * data.len() as u64;
            sign(&batcher, L1_CHAIN_ID, i as u64, TxKind::Call(BATCH_INBOX), gas, U256::ZERO, data.clone())
        })
        .collect();
    for r in l1.submit_batch(&txs) {
        r.context("batch transaction refused by L1")?;
    }
    let mut l1_gas = 0;
    while !l1.pool().is_empty() {
        let block = l1.build_block()?;
        for r in l1.block_receipts(block.header.header.number)?.unwrap_or_default() {
            l1_gas += r.gas_used;
        }
    }
    Ok(BatchCost { l1_gas, raw_bytes, compressed_bytes, l1_transactions: payloads.len() })
}

/// What posting a run's channel as blobs costs: (blob transactions, blobs).
fn blob_cost(run: &SequencerRun) -> anyhow::Result<(usize, usize)> {
    let mut encoder = ChannelEncoder::new(B128::repeat_byte(1), Compression::default())
        .map_err(|e| anyhow::anyhow!("channel: {e}"))?;
    for n in run.first_block..=run.chain.head().header.number {
        encoder.add_batch(&batch_for_block(&run.chain, n)?).map_err(|e| anyhow::anyhow!("batch: {e}"))?;
    }
    encoder.close().map_err(|e| anyhow::anyhow!("close: {e}"))?;
    let payloads = encoder.into_tx_data(MAX_BLOB_PAYLOAD).map_err(|e| anyhow::anyhow!("frames: {e}"))?;
    let mut blobs = 0;
    for payload in &payloads {
        let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(payload)
            .build_4844()
            .map_err(|e| anyhow::anyhow!("blobs: {e}"))?;
        blobs += sidecar.blobs.len();
    }
    Ok((payloads.len(), blobs))
}

/// Latencies measured on a running rollup: (send → receipt in ms, send → safe in s).
async fn latency(txs: usize, rate: f64) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let devnet = Devnet::start(DevnetConfig {
        addr: "127.0.0.1:0".parse()?,
        mining: MiningMode::Interval(Duration::from_secs(1)),
        ..Default::default()
    })
    .await?;
    let keys = loft_l1::dev_signers(4)?;
    let dir = tempfile::tempdir()?;
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let any: std::net::SocketAddr = "127.0.0.1:0".parse()?;
    let rollup = loft_rollup::service::start(
        RollupServiceConfig {
            l1_url: devnet.url(),
            deployer: keys[0].clone(),
            batcher: keys[1].clone(),
            proposer: keys[2].clone(),
            fund_on_l2: keys.to_vec(),
            l2_funding: U256::from(loft_rollup::service::DEVNET_L2_FUNDING_WEI),
            sequencer_addr: any,
            replica_addr: any,
            block_time: 1,
            output_interval: 10,
            finalization_period: 12,
            channel_policy: ChannelPolicy::immediate(DataChoice::Blobs),
            sequencer_l1_confs: 2,
            data_dir: Some(dir.path().to_path_buf()),
        },
        events,
    )
    .await?;
    // When each L2 block appeared on the sequencer and on the replica.
    let watch = |node: &Arc<loft_rpc::Node>| {
        let mut sub = node.subscribe();
        let times = Arc::new(Mutex::new(HashMap::<u64, Instant>::new()));
        let out = times.clone();
        tokio::spawn(async move {
            while let Ok(event) = sub.recv().await {
                if let NodeEvent::Block(header) = event {
                    out.lock().entry(header.header.number).or_insert_with(Instant::now);
                }
            }
        });
        times
    };
    let sequenced_at = watch(&rollup.sequencer);
    let derived_at = watch(&rollup.replica);
    let deadline = Instant::now() + Duration::from_secs(60);
    while rollup.sequencer.with_chain(|c| c.head().header.number) == 0 {
        if Instant::now() > deadline {
            bail!("the sequencer built no block");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user = keys[3].clone();
    let l2 = L1Client::connect(&format!("http://{}", rollup.sequencer_rpc.addr), user.clone()).await?;
    // the account's funding deposit took its first L2 nonce
    let first = l2.provider().get_transaction_count(user.address()).await?;
    let raws: Vec<Bytes> = (first..first + txs as u64)
        .map(|nonce| {
            sign(
                &user,
                L2_CHAIN_ID,
                nonce,
                TxKind::Call(Address::repeat_byte(0x42)),
                21_000,
                U256::from(1),
                Bytes::new(),
            )
        })
        .collect();
    let start = Instant::now();
    let mut sent = Vec::with_capacity(txs);
    for (i, raw) in raws.iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let at = Instant::now();
        let hash = *l2.provider().send_raw_transaction(raw).await?.tx_hash();
        sent.push((hash, at));
    }
    let mut blocks = Vec::with_capacity(txs);
    for (hash, at) in &sent {
        let deadline = Instant::now() + Duration::from_secs(60);
        let block = loop {
            if let Some(r) = rollup.sequencer.with_chain(|c| c.receipt(hash))? {
                break r.block.header.number;
            }
            if Instant::now() > deadline {
                bail!("transaction {hash} was not sequenced");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        blocks.push((block, *at));
    }
    let last = blocks.iter().map(|(b, _)| *b).max().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !derived_at.lock().contains_key(&last) {
        if Instant::now() > deadline {
            bail!("the replica did not derive L2 block {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (seq, rep) = (sequenced_at.lock().clone(), derived_at.lock().clone());
    let mut receipt_ms = Vec::new();
    let mut safe_s = Vec::new();
    for (block, at) in blocks {
        let (Some(s), Some(r)) = (seq.get(&block), rep.get(&block)) else {
            bail!("no time recorded for L2 block {block}");
        };
        receipt_ms.push(s.saturating_duration_since(at).as_secs_f64() * 1000.0);
        safe_s.push(r.saturating_duration_since(at).as_secs_f64());
    }
    rollup.stop().await;
    devnet.stop().await;
    Ok((receipt_ms, safe_s))
}

/// Gas of the first of `w`'s transfers executed on L1 directly (its setup first).
fn l1_direct_gas(w: &Workload) -> anyhow::Result<u64> {
    let mut l1 = Chain::open(funded_config(&w.senders), Store::in_memory()?)?;
    for r in l1.submit_batch(&w.setup) {
        r.context("setup refused")?;
    }
    while !l1.pool().is_empty() {
        l1.build_block()?;
    }
    l1.submit_raw(&w.transfers[0])?;
    let block = l1.build_block()?;
    let receipts = l1.block_receipts(block.header.header.number)?.unwrap_or_default();
    receipts.first().map(|r| r.gas_used).context("the transfer was not mined")
}

/// Runs the rollup benchmark and writes `target/loft-bench/rollup.json`.
pub async fn run(args: RollupArgs) -> anyhow::Result<Report> {
    if args.senders == 0 || args.txs < args.senders || args.runs == 0 {
        bail!("--txs must be at least --senders, and --senders and --runs positive");
    }
    let pb = spinner(format!("signing {} ETH and {} ERC-20 transfers", args.txs, args.txs));
    let workloads = [
        (
            "eth_transfer",
            eth_workload(L2_CHAIN_ID, args.txs, args.senders),
            eth_workload(L1_CHAIN_ID, args.senders, args.senders),
        ),
        (
            "erc20_transfer",
            erc20_workload(L2_CHAIN_ID, args.txs, args.senders),
            erc20_workload(L1_CHAIN_ID, args.senders, args.senders),
        ),
    ];
    let warm = eth_workload(L2_CHAIN_ID, (args.txs / 10).max(args.senders), args.senders);
    pb.finish_and_clear();
    let mut report = Report::new("rollup");
    let n = args.txs as u64;
    let warm = Arc::new(warm);
    for (name, l2_work, l1_work) in &workloads {
        let pb = spinner(format!("{name}: sequencer"));
        sequence(&warm)?;
        let mut tps = Vec::new();
        let mut last = None;
        for _ in 0..args.runs {
            let run = sequence(l2_work)?;
            tps.push(run.tps);
            last = Some(run);
        }
        let run = last.context("no run")?;
        pb.set_message(format!("{name}: batches posted to L1"));
        let cost = batch_cost(&run)?;
        let (blob_txs, blobs) = blob_cost(&run)?;
        let direct = l1_direct_gas(l1_work)?;
        pb.finish_and_clear();
        report.push(
            &format!("rollup.l1_gas_per_tx.{name}.calldata"),
            cost.l1_gas as f64 / n as f64,
            "gas",
            Better::Lower,
            n,
        );
        // A blob transaction to an EOA with no calldata costs 21,000 gas; its blobs are priced
        // on their own market (blob gas).
        report.push(
            &format!("rollup.l1_gas_per_tx.{name}.blobs"),
            (blob_txs * 21_000) as f64 / n as f64,
            "gas",
            Better::Lower,
            n,
        );
        report.push(
            &format!("rollup.blob_gas_per_tx.{name}"),
            (blobs as u64 * DATA_GAS_PER_BLOB) as f64 / n as f64,
            "blob gas",
            Better::Lower,
            n,
        );
        report.push(
            &format!("rollup.bytes_per_tx.{name}.compressed"),
            cost.compressed_bytes as f64 / n as f64,
            "B",
            Better::Lower,
            n,
        );
        report.push(
            &format!("rollup.batch_l1_transactions.{name}"),
            cost.l1_transactions as f64,
            "tx",
            Better::Lower,
            n,
        );
        if *name == "eth_transfer" {
            report.push(
                "rollup.blob_bytes_per_tx.eth_transfer",
                cost.compressed_bytes as f64 / n as f64,
                "B",
                Better::Lower,
                n,
            );
            report.push(
                "rollup.compression_ratio",
                cost.raw_bytes as f64 / cost.compressed_bytes as f64,
                "x",
                Better::Higher,
                n,
            );
            report.push("rollup.sequencer.tx_per_s", median(&mut tps), "tx/s", Better::Higher, n);
        } else {
            report.push("rollup.sequencer.erc20_tx_per_s", median(&mut tps), "tx/s", Better::Higher, n);
        }
        report.push(&format!("l1_direct.gas_per_tx.{name}"), direct as f64, "gas", Better::Lower, 1);
        report.push(
            &format!("rollup.l1_gas_saving.{name}"),
            direct as f64 / (cost.l1_gas as f64 / n as f64),
            "x",
            Better::Higher,
            n,
        );
    }
    let pb = spinner("an hour of L1 cost, simulated: idle, and at 10 transfers/s".to_string());
    let busy = eth_workload(L2_CHAIN_ID, 36_000, args.senders).transfers;
    for (label, policy) in [("", ChannelPolicy::DEFAULT), ("before.", crate::rollup_hour::before())] {
        let idle = crate::rollup_hour::hour_cost(policy, &[], 0)?;
        let tps10 = crate::rollup_hour::hour_cost(policy, &busy, 10)?;
        for (key, value, unit) in [
            ("idle_hour_gas", idle.gas, "gas"),
            ("idle_hour_blob_gas", idle.blob_gas, "blob gas"),
            ("idle_hour_transactions", idle.transactions, "tx"),
            ("tps10_hour_gas", tps10.gas, "gas"),
            ("tps10_hour_blob_gas", tps10.blob_gas, "blob gas"),
            ("tps10_hour_transactions", tps10.transactions, "tx"),
        ] {
            report.push(&format!("rollup.l1_cost.{label}{key}"), value as f64, unit, Better::Lower, 3600);
        }
    }
    pb.finish_and_clear();
    if args.latency_txs > 0 {
        let pb = spinner(format!(
            "latency: {} transfers at {}/s to the running rollup",
            args.latency_txs, args.latency_rate
        ));
        let (mut receipt_ms, mut safe_s) = latency(args.latency_txs, args.latency_rate).await?;
        pb.finish_and_clear();
        let n = receipt_ms.len() as u64;
        report.push(
            "rollup.latency.receipt_ms_p50",
            percentile(&mut receipt_ms, 50.0),
            "ms",
            Better::Lower,
            n,
        );
        report.push(
            "rollup.latency.receipt_ms_p99",
            percentile(&mut receipt_ms, 99.0),
            "ms",
            Better::Lower,
            n,
        );
        report.push("rollup.latency.safe_s_p50", percentile(&mut safe_s, 50.0), "s", Better::Lower, n);
        report.push("rollup.latency.safe_s_p99", percentile(&mut safe_s, 99.0), "s", Better::Lower, n);
    }
    report.finish()?;
    Ok(report)
}
