//! The L1 end-to-end suite, run against the embedded devnet and against a real anvil through
//! the same alloy client: deployments, transfers, events, filters, subscriptions, fees,
//! snapshots and time travel.

use crate::common;

use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::{
    consensus::{SidecarCoder, SimpleCoder, Transaction as _},
    eips::eip4844::Blob,
    network::TransactionBuilder,
    providers::{Provider, ProviderBuilder, WsConnect},
    rpc::types::{Filter, TransactionRequest},
    sol_types::SolEvent,
};
use alloy_primitives::{Address, B256, U64, U256, keccak256};
use futures::StreamExt;
use loft_l1::{L1Client, contracts, contracts::LoftToken};
use loft_primitives::smt::SmtProof;
use loft_rpc::MiningMode;
use serde_json::Value;

const ETH: u128 = 1_000_000_000_000_000_000;

/// Runs the whole scenario against the node at `http` / `ws`; `loft_node` enables the checks
/// of loft-specific behaviour (sparse-Merkle proofs).
async fn scenario(http: &str, ws: &str, loft_node: bool) {
    let keys = loft_l1::dev_signers(3).expect("dev keys");
    let alice = L1Client::connect(http, keys[0].clone()).await.expect("connect");
    let bob = keys[1].address();
    let p = alice.provider();
    assert_eq!(alice.chain_id().await.expect("chain id"), 31337);

    // ETH transfer, balances on both sides.
    let bob_before = alice.balance(bob).await.expect("balance");
    let receipt = alice.transfer(bob, U256::from(ETH)).await.expect("transfer");
    assert!(receipt.status());
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(alice.balance(bob).await.expect("balance"), bob_before + U256::from(ETH));

    // Deploy loft's contracts and use the ERC-20.
    let deployments = contracts::deploy_all(&alice).await.expect("deploy");
    let token = LoftToken::new(deployments.loft_token, p.clone());
    let supply = token.totalSupply().call().await.expect("supply");
    assert_eq!(token.balanceOf(alice.address()).call().await.expect("balance"), supply);
    let amount = U256::from(12_345u64);
    let head_before = p.get_block_number().await.expect("head");

    // A WebSocket subscription to new heads and to the token's logs.
    let ws_provider = ProviderBuilder::new().connect_ws(WsConnect::new(ws)).await.expect("ws");
    let mut heads = ws_provider.subscribe_blocks().await.expect("newHeads").into_stream();
    let mut logs = ws_provider
        .subscribe_logs(&Filter::new().address(deployments.loft_token))
        .await
        .expect("logs")
        .into_stream();
    // An HTTP filter for the same logs.
    let filter_id = p
        .new_filter(
            &Filter::new()
                .address(deployments.loft_token)
                .event_signature(LoftToken::Transfer::SIGNATURE_HASH),
        )
        .await
        .expect("filter");

    let estimate = token.transfer(bob, amount).from(alice.address()).estimate_gas().await.expect("estimate");
    assert!(estimate > 21_000 && estimate < 100_000, "estimate {estimate}");
    let receipt =
        token.transfer(bob, amount).send().await.expect("send").get_receipt().await.expect("receipt");
    assert!(receipt.status());
    assert_eq!(token.balanceOf(bob).call().await.expect("balance"), amount);

    // The Transfer event: in the receipt, through eth_getLogs, the filter and the subscription.
    let log = receipt.inner.logs().first().expect("a log");
    let event = LoftToken::Transfer::decode_log_data(log.data()).expect("decodes");
    assert_eq!((event.from, event.to, event.value), (alice.address(), bob, amount));
    let found = p
        .get_logs(
            &Filter::new()
                .address(deployments.loft_token)
                .from_block(head_before + 1)
                .event_signature(LoftToken::Transfer::SIGNATURE_HASH),
        )
        .await
        .expect("logs");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].transaction_hash, Some(receipt.transaction_hash));
    let changes: Vec<alloy::rpc::types::Log> = p.get_filter_changes(filter_id).await.expect("filter changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let again: Vec<alloy::rpc::types::Log> = p.get_filter_changes(filter_id).await.expect("filter changes");
    assert!(again.is_empty(), "a filter reports each log once");
    let sub_log =
        tokio::time::timeout(Duration::from_secs(10), logs.next()).await.expect("log in time").expect("log");
    assert_eq!(sub_log.transaction_hash, Some(receipt.transaction_hash));
    let head = tokio::time::timeout(Duration::from_secs(10), heads.next())
        .await
        .expect("head in time")
        .expect("head");
    assert!(head.number > head_before);

    // A reverting call carries the custom error's data.
    let err = token
        .transfer(bob, supply * U256::from(2))
        .from(keys[2].address())
        .call()
        .await
        .expect_err("reverts");
    let decoded = err.as_decoded_interface_error::<LoftToken::LoftTokenErrors>();
    assert!(matches!(decoded, Some(LoftToken::LoftTokenErrors::ERC20InsufficientBalance(_))), "{err:?}");

    // Blocks and transactions read back.
    let block = p
        .get_block_by_number(receipt.block_number.expect("number").into())
        .full()
        .await
        .expect("block")
        .expect("exists");
    assert_eq!(block.header.hash, receipt.block_hash.expect("hash"));
    assert!(block.transactions.hashes().any(|h| h == receipt.transaction_hash));
    let tx = p.get_transaction_by_hash(receipt.transaction_hash).await.expect("tx").expect("exists");
    assert_eq!(tx.block_hash, receipt.block_hash);
    let fee_history = p
        .get_fee_history(4, alloy::eips::BlockNumberOrTag::Latest, &[25.0, 75.0])
        .await
        .expect("fee history");
    assert!(!fee_history.base_fee_per_gas.is_empty());
    assert!(p.get_gas_price().await.expect("gas price") > 0);

    // Storage of the token: the balance mapping slot of bob (slot index of _balances).
    let slot = U256::from_be_bytes(
        keccak256(
            [B256::left_padding_from(bob.as_slice()).0, B256::from(U256::from(balances_slot())).0].concat(),
        )
        .0,
    );
    let raw = p.get_storage_at(deployments.loft_token, slot).await.expect("storage");
    assert_eq!(raw, amount, "bob's balance in the mapping slot");

    if loft_node {
        // loft's eth_getProof: sparse-Merkle proofs that verify against the block's state root.
        let proof: Value = p
            .raw_request("eth_getProof".into(), (deployments.loft_token, vec![slot], "latest"))
            .await
            .expect("proof");
        let state_root: B256 = serde_json::from_value(proof["stateRoot"].clone()).expect("root");
        let latest = p
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("block")
            .expect("exists");
        assert_eq!(state_root, latest.header.state_root);
        let compact: alloy_primitives::Bytes =
            serde_json::from_value(proof["storageProof"][0]["proof"]["compact"].clone()).expect("compact");
        let storage_root: B256 = serde_json::from_value(proof["storageHash"].clone()).expect("storage root");
        let smt = SmtProof::decode(&compact).expect("decodes");
        assert!(smt.verify(
            &storage_root,
            &keccak256(slot.to_be_bytes::<32>()),
            Some(B256::from(amount.to_be_bytes::<32>()))
        ));
        let account: alloy_primitives::Bytes =
            serde_json::from_value(proof["accountProof"]["compact"].clone()).expect("compact");
        let basic = loft_chain::state::AccountBasic {
            nonce: 1,
            balance: U256::ZERO,
            code_hash: serde_json::from_value(proof["codeHash"].clone()).expect("code hash"),
        };
        let leaf = loft_chain::state::account_leaf_value(&basic, storage_root);
        assert!(SmtProof::decode(&account).expect("decodes").verify(
            &state_root,
            &keccak256(deployments.loft_token),
            Some(leaf)
        ));
    }

    // EIP-4844: data posted as blobs (as the rollup batcher does), and read back on loft.
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let receipt = alice.send_blobs(Address::repeat_byte(0x4b), &data).await.expect("blob transaction");
    assert_eq!(receipt.blob_gas_used, Some(2 * 131_072));
    assert!(receipt.blob_gas_price.is_some_and(|p| p > 0));
    let tx = p.get_transaction_by_hash(receipt.transaction_hash).await.expect("tx").expect("tx");
    let hashes = tx.blob_versioned_hashes().expect("versioned hashes").to_vec();
    assert_eq!(hashes.len(), 2);
    let block_number = receipt.block_number.expect("mined");
    let block = p.get_block_by_number(block_number.into()).await.expect("block").expect("block");
    assert_eq!(block.header.blob_gas_used, Some(2 * 131_072));
    if loft_node {
        let mut blobs = Vec::new();
        for hash in &hashes {
            let blob: alloy_primitives::Bytes =
                p.raw_request("loft_getBlob".into(), (hash,)).await.expect("loft_getBlob");
            blobs.push(Blob::try_from(blob.as_ref()).expect("a whole blob"));
        }
        let decoded = SimpleCoder::default().decode_all(&blobs).expect("decodes");
        assert_eq!(decoded.concat(), data);
        let missing: Option<alloy_primitives::Bytes> =
            p.raw_request("loft_getBlob".into(), (B256::repeat_byte(1),)).await.expect("loft_getBlob");
        assert!(missing.is_none());
    }

    // The block gas limit set at run time, as anvil sets it: the next block has it.
    let limit_before =
        p.get_block_by_number(BlockNumberOrTag::Latest).await.expect("b").expect("b").header.gas_limit;
    let set: bool =
        p.raw_request("evm_setBlockGasLimit".into(), (U64::from(25_000_000u64),)).await.expect("set");
    assert!(set);
    let _: Value = p.raw_request("evm_mine".into(), ()).await.expect("mine");
    let limited = p.get_block_by_number(BlockNumberOrTag::Latest).await.expect("b").expect("b");
    assert_eq!(limited.header.gas_limit, 25_000_000);
    let _: bool =
        p.raw_request("evm_setBlockGasLimit".into(), (U64::from(limit_before),)).await.expect("set");

    // Snapshots and time travel, as anvil does them.
    let snapshot: U256 = p.raw_request("evm_snapshot".into(), ()).await.expect("snapshot");
    let ts_before = p
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("b")
        .expect("b")
        .header
        .timestamp;
    let _: Value = p.raw_request("evm_increaseTime".into(), (3600u64,)).await.expect("increase time");
    let _: Value = p.raw_request("evm_mine".into(), ()).await.expect("mine");
    let ts_after = p
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("b")
        .expect("b")
        .header
        .timestamp;
    assert!(ts_after >= ts_before + 3600, "{ts_before} -> {ts_after}");
    alice.transfer(Address::repeat_byte(0x77), U256::from(5)).await.expect("transfer");
    assert_eq!(alice.balance(Address::repeat_byte(0x77)).await.expect("b"), U256::from(5));
    let reverted: bool = p.raw_request("evm_revert".into(), (snapshot,)).await.expect("revert");
    assert!(reverted);
    assert_eq!(alice.balance(Address::repeat_byte(0x77)).await.expect("b"), U256::ZERO);
    let _: Value = p
        .raw_request("anvil_setBalance".into(), (Address::repeat_byte(0x78), U256::from(777)))
        .await
        .expect("set balance");
    assert_eq!(alice.balance(Address::repeat_byte(0x78)).await.expect("b"), U256::from(777));

    // eth_sendTransaction for an unlocked dev account.
    let plain = ProviderBuilder::new().connect(http).await.expect("plain provider");
    let tx = TransactionRequest::default()
        .with_from(keys[2].address())
        .with_to(Address::repeat_byte(0x79))
        .with_value(U256::from(9));
    let pending = plain.send_transaction(tx).await.expect("eth_sendTransaction");
    assert!(pending.get_receipt().await.expect("receipt").status());
}

/// Storage slot of LoftToken's `_balances` mapping: `_name` 0, `_symbol` 1, `_totalSupply` 2
/// (`_decimals` is immutable, so not in storage).
fn balances_slot() -> u64 {
    3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_embedded_devnet() {
    let devnet = common::devnet(MiningMode::Instant).await;
    scenario(&devnet.url(), &devnet.ws_url(), true).await;
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_embedded_devnet_with_interval_mining() {
    let devnet = common::devnet(MiningMode::Interval(Duration::from_millis(200))).await;
    scenario(&devnet.url(), &devnet.ws_url(), true).await;
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_anvil() {
    let Some(anvil) = loft_testkit::anvil() else { return };
    scenario(&anvil.endpoint(), &anvil.ws_endpoint(), false).await;
}
