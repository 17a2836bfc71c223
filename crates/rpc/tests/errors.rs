//! Bad input over JSON-RPC: every refusal comes back with geth's code and message, and
//! garbage or oversized requests get an error, never a crash.

use std::sync::Arc;

use alloy::{
    consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope, TxLegacy},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::{Signature, local::PrivateKeySigner},
};
use alloy_primitives::{Address, Bytes, TxKind, U256, hex};
use loft_chain::{Chain, ChainConfig, GenesisAccount, Store};
use loft_rpc::{MiningMode, Node};
use serde_json::{Value, json};

const CHAIN_ID: u64 = 31337;
const FEE: u128 = 10_000_000_000;

fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&[i; 32].into()).expect("valid key")
}

struct Harness {
    url: String,
    http: reqwest::Client,
    _server: loft_rpc::RpcServer,
    node: Arc<Node>,
}

async fn start(mining: MiningMode) -> Harness {
    let alloc = vec![GenesisAccount {
        address: key(1).address(),
        balance: U256::from(10u128.pow(24)),
        ..Default::default()
    }];
    let chain =
        Chain::open(ChainConfig::dev(CHAIN_ID, alloc), Store::in_memory().expect("store")).expect("chain");
    let node = Node::new(chain, mining, vec![key(1)]);
    let server = loft_rpc::serve(
        node.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        loft_rpc::Methods::WithDevControls,
    )
    .await
    .expect("serve");
    Harness { url: format!("http://{}", server.addr), http: reqwest::Client::new(), _server: server, node }
}

impl Harness {
    async fn raw(&self, body: String) -> (u16, Value) {
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        let (_, v) = self
            .raw(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string())
            .await;
        v
    }

    async fn send(&self, raw: &[u8]) -> Value {
        self.call("eth_sendRawTransaction", json!([Bytes::copy_from_slice(raw)])).await
    }
}

fn sign_1559(s: &PrivateKeySigner, tx: TxEip1559) -> Vec<u8> {
    let mut tx = tx;
    let sig = s.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

fn transfer(nonce: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: FEE,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0xb0)),
        value: U256::from(1),
        ..Default::default()
    }
}

fn assert_error(v: &Value, code: i64, message_prefix: &str) {
    let err = v.get("error").unwrap_or_else(|| panic!("expected an error, got {v}"));
    assert_eq!(err["code"].as_i64(), Some(code), "{v}");
    let msg = err["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with(message_prefix), "message {msg:?} does not start with {message_prefix:?}");
}

#[tokio::test]
async fn refused_transactions_get_geth_errors() {
    let h = start(MiningMode::Instant).await;
    let alice = key(1);
    // a good one, then the same again
    let ok = sign_1559(&alice, transfer(0));
    let v = h.send(&ok).await;
    assert!(v.get("result").is_some(), "{v}");
    assert_error(&h.send(&ok).await, -32000, "already known");
    // nonce too low
    assert_error(
        &h.send(&sign_1559(&alice, TxEip1559 { value: U256::from(2), ..transfer(0) })).await,
        -32000,
        "nonce too low",
    );
    // insufficient funds
    assert_error(
        &h.send(&sign_1559(&key(7), transfer(0))).await,
        -32000,
        "insufficient funds for gas * price + value",
    );
    // intrinsic gas too low
    assert_error(
        &h.send(&sign_1559(&alice, TxEip1559 { gas_limit: 20_000, ..transfer(1) })).await,
        -32000,
        "intrinsic gas too low: gas 20000, minimum needed 21000",
    );
    // wrong chain id
    assert_error(
        &h.send(&sign_1559(&alice, TxEip1559 { chain_id: 1, ..transfer(1) })).await,
        -32000,
        "invalid chain id for signer: have 1 want 31337",
    );
    // tip above fee cap
    assert_error(
        &h.send(&sign_1559(&alice, TxEip1559 { max_priority_fee_per_gas: FEE + 1, ..transfer(1) })).await,
        -32000,
        "max priority fee per gas higher than max fee per gas",
    );
    // fee cap below base fee
    assert_error(
        &h.send(&sign_1559(
            &alice,
            TxEip1559 { max_fee_per_gas: 1, max_priority_fee_per_gas: 1, ..transfer(1) },
        ))
        .await,
        -32000,
        "max fee per gas less than block base fee",
    );
    // gas above the block gas limit
    assert_error(
        &h.send(&sign_1559(&alice, TxEip1559 { gas_limit: 40_000_000, ..transfer(1) })).await,
        -32000,
        "exceeds block gas limit",
    );
    // invalid signature: r = 0 does not recover
    let mut tx = transfer(1);
    let sig = alice.sign_transaction_sync(&mut tx).expect("sign");
    let bad = Signature::new(U256::ZERO, sig.s(), sig.v());
    let forged = TxEnvelope::from(Signed::new_unhashed(tx, bad)).encoded_2718();
    assert_error(&h.send(&forged).await, -32000, "invalid sender");
    // legacy without EIP-155
    let mut legacy = TxLegacy {
        chain_id: None,
        nonce: 1,
        gas_price: FEE,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    let sig = alice.sign_transaction_sync(&mut legacy).expect("sign");
    assert_error(
        &h.send(&TxEnvelope::from(legacy.into_signed(sig)).encoded_2718()).await,
        -32000,
        "only replay-protected (EIP-155) transactions allowed over RPC",
    );
    // oversized data
    let big = TxEip1559 { gas_limit: 29_000_000, input: Bytes::from(vec![1u8; 130 * 1024]), ..transfer(1) };
    assert_error(&h.send(&sign_1559(&alice, big)).await, -32000, "oversized data");
    // garbage bytes as a transaction
    assert_error(&h.send(&[0x02, 0xde, 0xad]).await, -32000, "rlp:");
    assert_error(&h.send(&[]).await, -32000, "rlp:");
    // nothing above changed the chain: one block, nonce 1
    assert_eq!(h.node.with_chain(|c| c.head().header.number), 1);
    assert_eq!(h.call("eth_getTransactionCount", json!([alice.address(), "latest"])).await["result"], "0x1");
}

#[tokio::test]
async fn replacement_needs_a_fee_bump() {
    let h = start(MiningMode::Manual).await;
    let alice = key(1);
    assert!(h.send(&sign_1559(&alice, transfer(0))).await.get("result").is_some());
    assert_error(
        &h.send(&sign_1559(
            &alice,
            TxEip1559 { value: U256::from(9), max_fee_per_gas: FEE + FEE / 20, ..transfer(0) },
        ))
        .await,
        -32000,
        "replacement transaction underpriced",
    );
    let bumped = sign_1559(
        &alice,
        TxEip1559 {
            value: U256::from(9),
            max_fee_per_gas: FEE * 2,
            max_priority_fee_per_gas: 2,
            ..transfer(0)
        },
    );
    let v = h.send(&bumped).await;
    assert!(v.get("result").is_some(), "{v}");
    // a nonce gap is accepted into the queue but not mined
    assert!(h.send(&sign_1559(&alice, transfer(5))).await.get("result").is_some());
    h.call("evm_mine", json!([])).await;
    let block = h.call("eth_getBlockByNumber", json!(["latest", true])).await;
    let txs = block["result"]["transactions"].as_array().expect("txs");
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0]["value"], "0x9", "the replacement was mined, not the original");
    assert_eq!(h.call("eth_getTransactionCount", json!([alice.address(), "pending"])).await["result"], "0x1");
}

#[tokio::test]
async fn malformed_requests_get_errors() {
    let h = start(MiningMode::Instant).await;
    // not JSON
    let (_, v) = h.raw("{not json".into()).await;
    assert_error(&v, -32700, "Parse error");
    let (_, v) = h.raw(String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x13]).into()).await;
    assert_error(&v, -32700, "Parse error");
    // unknown method
    assert_error(&h.call("eth_doesNotExist", json!([])).await, -32601, "Method not found");
    // wrong params
    assert_error(&h.call("eth_getBalance", json!(["0x1234"])).await, -32602, "invalid params");
    assert_error(&h.call("eth_getBalance", json!([])).await, -32602, "invalid params");
    assert_error(&h.call("eth_getBlockByNumber", json!([{"x": 1}])).await, -32602, "invalid params");
    // a body over the limit is refused (HTTP 413), and the server keeps serving
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "ab".repeat(5 * 1024 * 1024)
    );
    let (status, _) = h.raw(huge).await;
    assert_eq!(status, 413);
    // batches: answered per call; an oversized batch is refused as a whole
    let batch: Vec<Value> =
        (0..3).map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []})).collect();
    let (_, v) = h.raw(serde_json::to_string(&batch).expect("json")).await;
    let answers = v.as_array().expect("batch answer");
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|a| a["result"] == "0x7a69"));
    // calls of a batch run concurrently, yet answers keep the order of the requests, and a
    // bad entry gets its own error without spoiling the others
    let mixed: Vec<Value> = (0..200)
        .map(|i| match i % 4 {
            0 => json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}),
            1 => json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0xdead"]}),
            2 => json!({"jsonrpc": "2.0", "id": i, "method": "no_such_method", "params": []}),
            _ => json!({"jsonrpc": "2.0", "id": i, "method": "net_version", "params": []}),
        })
        .collect();
    let (_, v) = h.raw(serde_json::to_string(&mixed).expect("json")).await;
    let answers = v.as_array().expect("batch answer");
    assert_eq!(answers.len(), 200);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["id"], i, "answer {i} out of order: {a}");
        match i % 4 {
            0 => assert_eq!(a["result"], "0x7a69"),
            1 => assert!(a["error"]["code"].is_i64(), "{a}"),
            2 => assert_eq!(a["error"]["code"], -32601, "{a}"),
            _ => assert_eq!(a["result"], "31337"),
        }
    }
    let big: Vec<Value> = (0..1001)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
        .collect();
    let (_, v) = h.raw(serde_json::to_string(&big).expect("json")).await;
    assert!(v.get("error").is_some(), "{v}");
    // still alive
    assert_eq!(h.call("eth_chainId", json!([])).await["result"], "0x7a69");
    assert_eq!(h.call("net_version", json!([])).await["result"], "31337");
}

#[tokio::test]
async fn call_reverts_carry_data() {
    let h = start(MiningMode::Instant).await;
    // init code that reverts with Error("nope"): store the ABI-encoded reason in memory and revert
    let reason = hex::decode(
        "08c379a0\
         0000000000000000000000000000000000000000000000000000000000000020\
         0000000000000000000000000000000000000000000000000000000000000004\
         6e6f706500000000000000000000000000000000000000000000000000000000",
    )
    .expect("hex");
    let mut code = Vec::new();
    for (i, chunk) in reason.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        code.push(0x7f); // PUSH32
        code.extend_from_slice(&word);
        code.push(0x60); // PUSH1 offset
        code.push((i * 32) as u8);
        code.push(0x52); // MSTORE
    }
    code.extend_from_slice(&[0x60, reason.len() as u8, 0x60, 0x00, 0xfd]); // REVERT(0, len)
    let v = h.call("eth_call", json!([{"data": Bytes::from(code.clone())}, "latest"])).await;
    assert_error(&v, 3, "execution reverted: nope");
    assert_eq!(v["error"]["data"].as_str(), Some(format!("0x{}", hex::encode(&reason)).as_str()));
    let v = h.call("eth_estimateGas", json!([{"from": key(1).address(), "data": Bytes::from(code)}])).await;
    assert_error(&v, 3, "execution reverted: nope");
    // a plain transfer estimates at 21000
    let v = h
        .call(
            "eth_estimateGas",
            json!([{"from": key(1).address(), "to": Address::repeat_byte(1), "value": "0x1"}]),
        )
        .await;
    assert_eq!(v["result"], "0x5208");
    // historical state is refused clearly
    let v = h.call("eth_getBalance", json!([key(1).address(), "0x5"])).await;
    assert_error(&v, -32000, "header not found");
}

#[tokio::test]
async fn blob_transactions_with_bad_sidecars_are_refused() {
    use alloy::{
        consensus::{SidecarBuilder, SimpleCoder, TxEip4844, TxEip4844WithSidecar},
        eips::eip4844::Bytes48,
    };
    let h = start(MiningMode::Instant).await;
    let alice = key(1);
    let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(b"rollup batch").build_4844().expect("sidecar");
    let tx = TxEip4844 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: FEE,
        max_priority_fee_per_gas: 1,
        to: Address::repeat_byte(0x4b),
        max_fee_per_blob_gas: FEE,
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        ..Default::default()
    };
    let sign = |tx: TxEip4844WithSidecar| {
        let mut tx = alloy::consensus::TxEip4844Variant::from(tx);
        let sig = alice.sign_transaction_sync(&mut tx).expect("sign");
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    };
    // the proof does not match the blob
    let mut forged = sidecar.clone();
    forged.proofs[0] = Bytes48::repeat_byte(0x11);
    let v = h.send(&sign(TxEip4844WithSidecar::from_tx_and_sidecar(tx.clone(), forged.into()))).await;
    assert_error(&v, -32000, "invalid blob sidecar");
    // the commitment does not match the versioned hash
    let mut swapped = sidecar.clone();
    swapped.commitments[0] = Bytes48::repeat_byte(0x22);
    let v = h.send(&sign(TxEip4844WithSidecar::from_tx_and_sidecar(tx.clone(), swapped.into()))).await;
    assert_error(&v, -32000, "invalid blob sidecar");
    // no sidecar at all
    let mut bare =
        alloy::consensus::TxEip4844Variant::<alloy::eips::eip7594::BlobTransactionSidecarVariant>::TxEip4844(
            tx.clone(),
        );
    let sig = alice.sign_transaction_sync(&mut bare).expect("sign");
    let v = h.send(&TxEnvelope::from(bare.into_signed(sig)).encoded_2718()).await;
    assert_error(&v, -32000, "invalid blob sidecar");
    // nothing was accepted; the honest one goes through
    assert_eq!(h.call("eth_getTransactionCount", json!([alice.address(), "pending"])).await["result"], "0x0");
    let v = h.send(&sign(TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar.into()))).await;
    assert!(v["result"].is_string(), "{v}");
}

#[tokio::test]
async fn deposits_are_served_as_type_0x7e() {
    let h = start(MiningMode::Manual).await;
    let from = Address::repeat_byte(0xd0);
    let to = Address::repeat_byte(0xb0);
    let deposit = loft_chain::TxDeposit {
        source_hash: alloy_primitives::B256::repeat_byte(1),
        from,
        to: TxKind::Call(to),
        mint: 5,
        value: U256::from(2),
        gas_limit: 50_000,
        is_system_transaction: false,
        input: Bytes::new(),
    };
    let block = h
        .node
        .with_chain(|ch| {
            ch.build_block_with(loft_chain::BlockSpec { deposits: vec![deposit], ..Default::default() })
        })
        .expect("block");
    let hash = block.tx_hashes[0];
    let tx = h.call("eth_getTransactionByHash", json!([hash])).await["result"].clone();
    assert_eq!(tx["type"], "0x7e", "{tx}");
    assert_eq!(tx["from"], json!(from));
    assert_eq!(tx["mint"], "0x5");
    assert_eq!(tx["sourceHash"], json!(alloy_primitives::B256::repeat_byte(1)));
    assert_eq!(tx["blockNumber"], "0x1");
    let receipt = h.call("eth_getTransactionReceipt", json!([hash])).await["result"].clone();
    assert_eq!(receipt["type"], "0x7e", "{receipt}");
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["depositNonce"], "0x0");
    let full = h.call("eth_getBlockByNumber", json!(["0x1", true])).await["result"].clone();
    assert_eq!(full["transactions"][0]["type"], "0x7e");
    assert_eq!(h.call("eth_getBalance", json!([to, "latest"])).await["result"], "0x2");
    assert_eq!(h.call("eth_getBalance", json!([from, "latest"])).await["result"], "0x3");
    // the raw deposit is refused by eth_sendRawTransaction
    let raw = h.node.with_chain(|ch| ch.block_txs(1).expect("txs")[0].encoded.clone());
    let v = h.send(&raw).await;
    assert!(v.get("error").is_some(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_and_finalized_tags() {
    let h = start(MiningMode::Manual).await;
    let number = |v: Value| v["result"]["number"].clone();
    h.call("anvil_mine", json!(["0x64"])).await;
    for (tag, expected) in [("latest", "0x64"), ("safe", "0x44"), ("finalized", "0x24")] {
        assert_eq!(number(h.call("eth_getBlockByNumber", json!([tag, false])).await), expected, "{tag}");
    }
    // state at the safe block: the balance query resolves the tag, not the head
    let v = h.call("eth_getBalance", json!([key(1).address(), "finalized"])).await;
    assert!(v["result"].is_string(), "{v}");
}

/// A node that forwards transactions (a rollup replica) answers exactly what the node it
/// forwards to answers: the hash of an accepted transaction, which that node then holds, or
/// its error with code, message and data unchanged; it never keeps one in its own pool. A
/// node that knows nowhere to send them refuses them with a clear error.
#[tokio::test]
async fn forwarded_transactions_get_the_sequencer_answer() {
    let sequencer = start(MiningMode::Manual).await;
    let replica = start(MiningMode::Manual).await;
    replica.node.set_tx_route(loft_rpc::TxRoute::Forward(sequencer.url.clone()));
    let alice = key(1);

    let tx = sign_1559(&alice, transfer(0));
    let answer = replica.send(&tx).await;
    let hash = answer.get("result").cloned().unwrap_or_else(|| panic!("forwarded: {answer}"));
    let held = sequencer.call("eth_getTransactionByHash", json!([hash])).await;
    assert_eq!(held["result"]["hash"], hash, "the sequencer holds the forwarded transaction");
    let not_held = replica.call("eth_getTransactionByHash", json!([hash])).await;
    assert_eq!(not_held["result"], Value::Null, "the replica keeps nothing in its own pool");

    // eth_sendTransaction signs with the replica's dev key and forwards the result too (the
    // nonce given: the replica's own chain has not seen the first transaction yet)
    let signed = replica
        .call(
            "eth_sendTransaction",
            json!([{"from": alice.address(), "to": Address::repeat_byte(0xb0), "value": "0x1",
                    "gas": "0x5208", "nonce": "0x1", "maxFeePerGas": format!("{FEE:#x}"), "maxPriorityFeePerGas": "0x1"}]),
        )
        .await;
    let signed_hash = signed.get("result").cloned().unwrap_or_else(|| panic!("forwarded: {signed}"));
    let held = sequencer.call("eth_getTransactionByHash", json!([signed_hash])).await;
    assert_eq!(held["result"]["nonce"], "0x1", "{held}");

    // the sequencer's refusals come back unchanged
    for bad in [
        tx.clone(),                                                        // already known
        sign_1559(&key(7), transfer(0)),                                   // insufficient funds
        sign_1559(&alice, TxEip1559 { chain_id: 1, ..transfer(2) }),       // wrong chain
        sign_1559(&alice, TxEip1559 { gas_limit: 20_000, ..transfer(2) }), // intrinsic gas
    ] {
        let direct = sequencer.send(&bad).await;
        let forwarded = replica.send(&bad).await;
        assert!(direct.get("error").is_some(), "{direct}");
        assert_eq!(forwarded["error"], direct["error"], "the error passes through unchanged");
    }
    // bytes that are no transaction: the sequencer's decoding error
    assert_eq!(replica.send(&[0xde, 0xad]).await["error"], sequencer.send(&[0xde, 0xad]).await["error"]);

    // a sequencer that does not answer
    replica.node.set_tx_route(loft_rpc::TxRoute::Forward("http://127.0.0.1:9".into()));
    assert_error(
        &replica.send(&sign_1559(&alice, transfer(2))).await,
        -32000,
        "this node forwards transactions to its sequencer at http://127.0.0.1:9, which did not answer",
    );
    // no sequencer at all
    replica.node.set_tx_route(loft_rpc::TxRoute::Refuse("no sequencer configured".into()));
    assert_error(&replica.send(&sign_1559(&alice, transfer(2))).await, -32000, "no sequencer configured");
    let pending = sequencer.node.with_chain(|c| c.pool().len());
    assert_eq!(pending, 2, "only the two accepted transactions reached the sequencer");
}
