//! kill -9 of `loft devnet --data-dir` (L1, sequencer, batcher, replica and proposer in one
//! process) while users send L2 transactions, then a restart: every L2 transaction whose
//! hash was returned is in the chain, the replica derives the sequencer's exact chain from
//! L1, and L1 holds every L2 block in exactly one batch (none posted twice, none skipped).

use crate::common;

use crate::common::Process;

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use loft_rollup::batch::{ChannelBank, parse_tx_data};
use loft_rollup::config::{BATCH_INBOX, DEVNET_L2_CHAIN_ID};
use serde_json::{Value, json};

struct Ports {
    l1: u16,
    l2: u16,
    replica: u16,
}

fn spawn(data_dir: &Path, ports: &Ports) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_loft"))
        .args([
            "devnet",
            "--no-zk",
            "--no-demo",
            "--calldata",
            "--port",
            &ports.l1.to_string(),
            "--l2-port",
            &ports.l2.to_string(),
            "--replica-port",
            &ports.replica.to_string(),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("loft starts");
    Process(child)
}

/// Waits up to `secs` seconds for `check` to say yes.
async fn wait_until(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    loft_testkit::wait_until(what, Duration::from_secs(secs), async || check().await.then_some(())).await
}

fn l2_transfer(key: &PrivateKeySigner, nonce: u64) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: DEVNET_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = key.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// Sends L2 transfers from `key` until the node is gone, collecting the hashes it returned.
async fn load(http: reqwest::Client, url: String, key: PrivateKeySigner) -> Vec<B256> {
    let mut accepted = Vec::new();
    // the funding deposit took the account's first nonces on L2
    let first = common::rpc(&http, &url, "eth_getTransactionCount", json!([key.address(), "latest"]))
        .await
        .map(|n| number(&n))
        .expect("nonce");
    for nonce in first.. {
        match common::rpc(&http, &url, "eth_sendRawTransaction", json!([l2_transfer(&key, nonce)])).await {
            Ok(v) => accepted.push(serde_json::from_value(v).expect("hash")),
            Err(_) => break,
        }
        // a steady load rather than a flood: blocks and batches keep coming meanwhile
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    accepted
}

fn number(v: &Value) -> u64 {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()).expect("quantity")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_rollup_under_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let ports = Ports { l1: common::free_port(), l2: common::free_port(), replica: common::free_port() };
    let l1 = format!("http://127.0.0.1:{}", ports.l1);
    let l2 = format!("http://127.0.0.1:{}", ports.l2);
    let replica = format!("http://127.0.0.1:{}", ports.replica);
    let keys = loft_l1::dev_signers(4).expect("keys");

    let mut node = spawn(dir.path(), &ports);
    // The senders' ETH on L2 comes from the deposits a new rollup's dev accounts make.
    wait_until("the senders' funding deposits on L2", 120, || async {
        let mut funded = true;
        for key in &keys[2..4] {
            let balance = common::rpc(&http, &l2, "eth_getBalance", json!([key.address(), "latest"])).await;
            funded &= balance.is_ok_and(|b| common::quantity(&b) > 0);
        }
        funded
    })
    .await;
    let a = tokio::spawn(load(http.clone(), l2.clone(), keys[2].clone()));
    let b = tokio::spawn(load(http.clone(), l2.clone(), keys[3].clone()));
    // Long enough for blocks to be sequenced and a few batches posted.
    tokio::time::sleep(Duration::from_secs(5)).await;
    node.0.kill().expect("kill -9"); // SIGKILL: nothing is flushed
    node.0.wait().expect("reaped");
    let accepted: Vec<B256> = [a.await.expect("load a"), b.await.expect("load b")].concat();
    assert!(accepted.len() > 20, "the load ran ({} accepted)", accepted.len());

    let _node = spawn(dir.path(), &ports);
    common::wait_ready(&http, &l2).await;

    // Every transaction whose hash was returned is sequenced.
    let mut last_block = 0;
    for hash in &accepted {
        let receipt = loft_testkit::wait_until(
            &format!("accepted transaction {hash} to be sequenced"),
            Duration::from_secs(60),
            async || {
                let r = common::rpc(&http, &l2, "eth_getTransactionReceipt", json!([hash])).await;
                r.ok().filter(|r| !r.is_null())
            },
        )
        .await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        last_block = last_block.max(number(&receipt["blockNumber"]));
    }

    // The replica derives, from L1 alone, the sequencer's chain up to the last of them.
    wait_until("the replica's safe head", 120, || async {
        common::rpc(&http, &replica, "eth_getBlockByNumber", json!(["safe", false]))
            .await
            .is_ok_and(|b| b.get("number").is_some_and(|n| number(n) >= last_block))
    })
    .await;
    let at = json!([format!("0x{last_block:x}"), false]);
    let derived =
        common::rpc(&http, &replica, "eth_getBlockByNumber", at.clone()).await.expect("replica block");
    let sequenced = common::rpc(&http, &l2, "eth_getBlockByNumber", at).await.expect("sequencer block");
    assert_eq!(derived["hash"], sequenced["hash"], "the replica reaches the sequencer's block");
    assert_eq!(derived["stateRoot"], sequenced["stateRoot"]);

    // L1 holds every L2 block up to the safe head in exactly one batch.
    let safe =
        common::rpc(&http, &replica, "eth_getBlockByNumber", json!(["safe", false])).await.expect("safe");
    let safe_number = number(&safe["number"]);
    let genesis_time = number(
        &common::rpc(&http, &l2, "eth_getBlockByNumber", json!(["0x0", false])).await.expect("genesis")["timestamp"],
    );
    let l1_head = number(&common::rpc(&http, &l1, "eth_blockNumber", json!([])).await.expect("head"));
    let batcher = format!("{:#x}", keys[1].address());
    let inbox = format!("{BATCH_INBOX:#x}");
    let mut frames_seen: HashMap<(alloy_primitives::B128, u16), u32> = HashMap::new();
    let mut bank = ChannelBank::new(1_000_000, usize::MAX);
    let mut batches_per_block: BTreeMap<u64, u32> = BTreeMap::new();
    for n in 0..=l1_head {
        let block = common::rpc(&http, &l1, "eth_getBlockByNumber", json!([format!("0x{n:x}"), true]))
            .await
            .expect("L1 block");
        for tx in block["transactions"].as_array().expect("txs") {
            if tx["to"].as_str() != Some(inbox.as_str()) || tx["from"].as_str() != Some(batcher.as_str()) {
                continue;
            }
            let data: Bytes = serde_json::from_value(tx["input"].clone()).expect("input");
            for frame in parse_tx_data(&data).expect("the batcher's frames parse") {
                *frames_seen.entry((frame.channel_id, frame.number)).or_default() += 1;
            }
            bank.ingest(n, &data).expect("ingest");
        }
    }
    while let Some(channel) = bank.next_ready() {
        for batch in channel.decode_batches().expect("channel decodes") {
            *batches_per_block.entry(batch.timestamp - genesis_time).or_default() += 1;
        }
    }
    println!(
        "{} transactions accepted before kill -9; L2 blocks 1-{safe_number} derived; {} frames on L1",
        accepted.len(),
        frames_seen.len()
    );
    let repeated: Vec<_> = frames_seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(repeated.is_empty(), "frames posted twice: {repeated:?}");
    for block in 1..=safe_number {
        assert_eq!(batches_per_block.get(&block), Some(&1), "L2 block {block} in exactly one batch");
    }
    // the sequencer reports the same safe head as the replica derived
    let seq_safe =
        common::rpc(&http, &l2, "eth_getBlockByNumber", json!(["safe", false])).await.expect("safe");
    assert!(number(&seq_safe["number"]) > 0, "the sequencer's safe tag follows derivation");
}
