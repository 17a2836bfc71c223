//! kill -9 of `loft devnet --data-dir` under load, then a restart: the same head, the same
//! state root, and every transaction whose hash was returned is still there.

use crate::common;

use crate::common::Process;

use std::{
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
use serde_json::{Value, json};

fn spawn(data_dir: &Path, port: u16, extra: &[&str]) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_loft"))
        .args(["devnet", "--no-zk", "--no-rollup", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("loft starts");
    Process(child)
}

fn transfer(key: &PrivateKeySigner, nonce: u64) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: 31337,
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

async fn head_and_root(http: &reqwest::Client, url: &str) -> (Value, Value, Value) {
    let block =
        common::rpc(http, url, "eth_getBlockByNumber", json!(["latest", false])).await.expect("block");
    (block["number"].clone(), block["hash"].clone(), block["stateRoot"].clone())
}

/// Sends transfers from `key` until `stop`, collecting the hashes the node returned.
async fn load(http: reqwest::Client, url: String, key: PrivateKeySigner, start_nonce: u64) -> Vec<B256> {
    let mut accepted = Vec::new();
    let mut nonce = start_nonce;
    loop {
        match common::rpc(&http, &url, "eth_sendRawTransaction", json!([transfer(&key, nonce)])).await {
            Ok(v) => {
                accepted.push(serde_json::from_value(v).expect("hash"));
                nonce += 1;
            }
            Err(_) => return accepted, // the node is gone
        }
    }
}

async fn crash_and_restart(extra: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let keys = loft_l1::dev_signers(3).expect("keys");

    let mut node = spawn(dir.path(), port, extra);
    common::wait_ready(&http, &url).await;
    // Load from two senders, kill -9 in the middle of it.
    let a = tokio::spawn(load(http.clone(), url.clone(), keys[1].clone(), 0));
    let b = tokio::spawn(load(http.clone(), url.clone(), keys[2].clone(), 0));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.0.kill().expect("kill -9"); // SIGKILL on Unix: no chance to flush anything
    node.0.wait().expect("reaped");
    let accepted: Vec<B256> = [a.await.expect("load a"), b.await.expect("load b")].concat();
    assert!(accepted.len() > 10, "the load ran ({} accepted)", accepted.len());

    let node = spawn(dir.path(), port, extra);
    common::wait_ready(&http, &url).await;
    // Every accepted transaction is mined or still pooled; mine until none is pending.
    let _ = common::rpc(&http, &url, "evm_mine", json!([])).await;
    let mut missing = 0;
    for hash in &accepted {
        let receipt =
            common::rpc(&http, &url, "eth_getTransactionReceipt", json!([hash])).await.expect("receipt call");
        if receipt.is_null() {
            missing += 1;
        } else {
            assert_eq!(receipt["status"], "0x1");
        }
    }
    assert_eq!(missing, 0, "{missing} of {} accepted transactions were lost", accepted.len());
    let before = head_and_root(&http, &url).await;
    drop(node);

    // A clean second restart: same head, same state root.
    let _node = spawn(dir.path(), port, extra);
    common::wait_ready(&http, &url).await;
    assert_eq!(head_and_root(&http, &url).await, before);
    // The state root in the header is what the state hashes to (eth_getProof recomputes it).
    let proof = common::rpc(&http, &url, "eth_getProof", json!([keys[1].address(), [], "latest"]))
        .await
        .expect("proof");
    assert_eq!(proof["stateRoot"], before.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_with_instant_mining() {
    crash_and_restart(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_with_interval_mining() {
    crash_and_restart(&["--block-time", "0.2"]).await;
}
