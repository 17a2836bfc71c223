//! Bad input sent to the rollup's sequencer over JSON-RPC gets geth's errors, as on L1, plus
//! the rollup's own: malformed, wrongly signed, wrong-chain (the L1's chain id), replayed,
//! too far ahead, oversized, a deposit smuggled in as a raw transaction, and a sender who can
//! pay the L2 gas but not the L1 data fee. None of them changes the chain.

use alloy::{
    consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::{Signature, local::PrivateKeySigner},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use loft_chain::{BlockSpec, Chain, GenesisAccount, Store};
use loft_l1::L1Client;
use loft_rollup::{
    RollupConfig,
    config::{DEVNET_L2_CHAIN_ID, L1Anchor},
    deposits::L1BlockInfo,
    genesis::l2_chain_config,
};
use loft_rpc::{MiningMode, Node};

const GWEI: u128 = 1_000_000_000;

fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&[i; 32].into()).expect("key")
}

fn transfer(nonce: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEVNET_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    }
}

fn sign(s: &PrivateKeySigner, mut tx: TxEip1559) -> Bytes {
    let sig = s.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// The sequencer's answer to `raw`: Ok(hash) or Err((code, message)).
async fn send(l2: &L1Client, raw: &[u8]) -> Result<B256, (i64, String)> {
    use alloy::providers::Provider;
    let raw = Bytes::copy_from_slice(raw);
    l2.provider().raw_request::<_, B256>("eth_sendRawTransaction".into(), (raw,)).await.map_err(|e| {
        match e.as_error_resp() {
            Some(p) => (p.code, p.message.to_string()),
            None => (0, e.to_string()),
        }
    })
}

fn refused(answer: Result<B256, (i64, String)>, prefix: &str) {
    match answer {
        Err((code, msg)) => {
            assert_eq!(code, -32000, "{msg}");
            assert!(msg.starts_with(prefix), "expected {prefix:?}, got {msg:?}");
        }
        Ok(hash) => panic!("accepted {hash}, expected {prefix:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactions_get_geth_errors_on_l2() {
    let anchor = L1Anchor { number: 0, hash: B256::repeat_byte(1), timestamp: 1000 };
    let rollup = RollupConfig {
        sequencing_window: 10,
        channel_timeout: 10,
        ..RollupConfig::devnet(anchor, Address::repeat_byte(0xba), Address::repeat_byte(0xaa))
    };
    let (alice, poor) = (key(1), key(2));
    // `poor` can pay 21,000 gas at 10 gwei and the value, not the L1 data fee on top
    let funded = vec![
        GenesisAccount {
            address: alice.address(),
            balance: U256::from(10u128.pow(21)),
            ..Default::default()
        },
        GenesisAccount {
            address: poor.address(),
            balance: U256::from(21_000 * 10 * GWEI + 1),
            ..Default::default()
        },
    ];
    let chain =
        Chain::open(l2_chain_config(&rollup, funded, Address::ZERO), Store::in_memory().expect("store"))
            .expect("chain");
    let node = Node::new(chain, MiningMode::Manual, vec![]);
    // A first block brings L1 prices (a 50 gwei L1 base fee).
    let info = L1BlockInfo {
        number: 0,
        timestamp: 1000,
        hash: B256::repeat_byte(1),
        base_fee: 50 * GWEI,
        blob_base_fee: 1,
        batcher_hash: B256::ZERO,
    };
    node.build_with(BlockSpec {
        timestamp: Some(1001),
        deposits: vec![info.deposit(0)],
        l1_prices: Some(info.prices()),
        ..Default::default()
    })
    .expect("block 1");
    let server =
        loft_rpc::serve(node.clone(), "127.0.0.1:0".parse().expect("addr"), loft_rpc::Methods::Public)
            .await
            .expect("serve");
    let l2 = L1Client::connect(&format!("http://{}", server.addr), alice.clone()).await.expect("client");

    let ok = sign(&alice, transfer(0));
    send(&l2, &ok).await.expect("a good transfer");
    refused(send(&l2, &ok).await, "already known");
    refused(
        send(&l2, &sign(&alice, TxEip1559 { value: U256::from(2), ..transfer(0) })).await,
        "replacement transaction underpriced",
    );
    // the L1's chain id on the L2
    refused(
        send(&l2, &sign(&alice, TxEip1559 { chain_id: 31337, ..transfer(1) })).await,
        "invalid chain id for signer: have 31337 want 42069",
    );
    // a signature that recovers nobody
    let mut tx = transfer(1);
    let sig = alice.sign_transaction_sync(&mut tx).expect("sign");
    let forged = TxEnvelope::from(Signed::new_unhashed(tx, Signature::new(U256::ZERO, sig.s(), sig.v())));
    refused(send(&l2, &forged.encoded_2718()).await, "invalid sender");
    // malformed
    refused(send(&l2, &[0x02, 0xde, 0xad]).await, "rlp:");
    // too far ahead of the sender's nonce
    refused(send(&l2, &sign(&alice, transfer(5_000))).await, "nonce too high");
    // oversized calldata
    let big = TxEip1559 { gas_limit: 29_000_000, input: Bytes::from(vec![1u8; 130 * 1024]), ..transfer(1) };
    refused(send(&l2, &sign(&alice, big)).await, "oversized data");
    // the L1 data fee is part of what a sender must afford
    refused(send(&l2, &sign(&poor, transfer(0))).await, "insufficient funds for gas * price + value");
    // a deposit (type 0x7e) only ever comes from L1
    let deposit = node.with_chain(|c| c.block_txs(1).expect("txs")[0].encoded.clone());
    refused(send(&l2, &deposit).await, "transaction type not supported");

    // The good transfer is mined; once mined, replaying it is "nonce too low".
    node.build_with(BlockSpec {
        timestamp: Some(1002),
        deposits: vec![info.deposit(1)],
        l1_prices: Some(info.prices()),
        txs: None,
        ..Default::default()
    })
    .expect("block 2");
    assert_eq!(node.with_chain(|c| c.state().nonce(&alice.address())), 1);
    refused(send(&l2, &ok).await, "already known");
    refused(
        send(&l2, &sign(&alice, TxEip1559 { value: U256::from(3), ..transfer(0) })).await,
        "nonce too low",
    );
    use alloy::providers::Provider;
    // The L2's blocks come from its own rules: nobody may mine, rewind or mint on it over RPC
    // (geth serves none of anvil's devnet controls either).
    for (method, params) in [
        ("evm_mine", serde_json::json!([])),
        ("anvil_mine", serde_json::json!(["0x2"])),
        ("evm_setAutomine", serde_json::json!([true])),
        ("evm_snapshot", serde_json::json!([])),
        ("evm_revert", serde_json::json!(["0x1"])),
        ("evm_increaseTime", serde_json::json!([3600])),
        ("anvil_setBalance", serde_json::json!([alice.address(), "0xffffffffffffffffffff"])),
        ("anvil_setCode", serde_json::json!([alice.address(), "0x00"])),
        ("anvil_dropAllTransactions", serde_json::json!([])),
    ] {
        let answer: Result<serde_json::Value, _> = l2.provider().raw_request(method.into(), params).await;
        let error = answer.expect_err(method).to_string();
        assert!(error.contains("-32601") || error.contains("Method not found"), "{method}: {error}");
    }
    assert_eq!(node.with_chain(|c| c.head().header.number), 2, "nothing else changed the chain");
    assert_eq!(node.with_chain(|c| c.state().nonce(&alice.address())), 1);
    let _ = server.handle.stop();
}
