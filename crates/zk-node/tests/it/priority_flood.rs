//! A spammer against the ZK rollup's priority queue, end to end with real proofs on the
//! embedded L1: one whole L1 block of free full-exit requests. The operator, proving at its
//! configured capacity (a block of `wide_slots` priority operations every `block_interval`
//! L1 blocks; here L1 advances only by the operator's own blocks and one more per block),
//! serves every request before its deadline, and at no point can anyone switch the rollup to
//! exodus mode. Then the operator stops for good: exodus starts at the next request's
//! deadline, not a block before. The L1 block is a small one (its gas limit set for the flood
//! with `evm_setBlockGasLimit`), so that the proofs of the whole flood stay few; the Solidity
//! test `ZkPriorityFlood.t.sol` floods a 30M-gas block.

use std::{sync::Arc, time::Duration};

use alloy::providers::Provider;
use alloy_primitives::aliases::U24;
use loft_devnet::DevnetConfig;
use loft_l1::L1Client;
use loft_rpc::MiningMode;
use loft_zk_node::{
    contracts::{RollupConfig, ZkRollup, deploy},
    keys::RollupKeys,
    operator::{Operator, OperatorConfig},
    store::Store,
};

/// Requests in the flood: the flood's L1 block has a gas limit that fits exactly these.
const FLOOD: u64 = 24;
/// The gas limit of each request (one uses some 75,000 in a transaction of its own).
const REQUEST_GAS: u64 = 80_000;

fn config() -> RollupConfig {
    RollupConfig {
        account_depth: 4,
        balance_depth: 1,
        wide_slots: 4,
        transfer_slots: 1,
        fee_account: 0,
        // without the queue's clock, request 13 would expire while the operator is at 12
        priority_expiration_blocks: 6,
        block_interval: 2,
        min_deposit: 1_000_000_000_000,
    }
}

async fn mine(l1: &L1Client) {
    let _: serde_json::Value = l1.provider().raw_request("evm_mine".into(), ()).await.expect("mine");
}

async fn set_block_gas_limit(l1: &L1Client, gas: u64) {
    let set: bool =
        l1.provider().raw_request("evm_setBlockGasLimit".into(), (gas,)).await.expect("gas limit");
    assert!(set);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_full_exits_can_not_force_exodus() {
    let devnet =
        loft_testkit::devnet_with(DevnetConfig { mining: MiningMode::Instant, ..Default::default() }).await;
    let url = devnet.url();
    let signers = loft_l1::dev_signers(3).expect("keys");
    let operator_l1 = L1Client::connect(&url, signers[0].clone()).await.expect("l1");
    let attacker = L1Client::connect(&url, signers[1].clone()).await.expect("l1");
    let user = L1Client::connect(&url, signers[2].clone()).await.expect("l1");
    let dir = tempfile::tempdir().expect("dir");
    // set up once per shape and kept under target/loft-test-cache/ (the file names the shape)
    let cache = loft_testkit::cache_dir("zk-keys");
    let keys = Arc::new(loft_testkit::one_at_a_time(|| RollupKeys::devnet(&cache, &config())).expect("keys"));
    let d = deploy(&operator_l1, &config(), &keys).await.expect("deploy");
    let rollup = ZkRollup::new(d.rollup, operator_l1.provider().clone());

    // the flood: FLOOD requests, all in one L1 block that they fill
    devnet.node.set_mining(MiningMode::Manual);
    let usual_limit = operator_l1
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("head")
        .expect("head")
        .header
        .gas_limit;
    set_block_gas_limit(&operator_l1, FLOOD * REQUEST_GAS).await;
    let spam = ZkRollup::new(d.rollup, attacker.provider().clone());
    let first_nonce = attacker.provider().get_transaction_count(attacker.address()).await.expect("nonce");
    for i in 0..FLOOD {
        let _pending = spam
            .requestFullExit(U24::from(i % 16), 0)
            .nonce(first_nonce + i)
            .gas(REQUEST_GAS)
            .send()
            .await
            .expect("a request enters the pool");
    }
    let flood_block = devnet.node.mine().expect("the flood's block");
    set_block_gas_limit(&operator_l1, usual_limit).await;
    devnet.node.set_mining(MiningMode::Instant);
    assert_eq!(flood_block.tx_hashes.len() as u64, FLOOD, "one block holds the whole flood");
    assert_eq!(rollup.totalPriorityRequests().call().await.expect("total"), FLOOD);

    // the operator, at its configured capacity: a block every `block_interval` L1 blocks
    let op_config =
        OperatorConfig { deployment: d.clone(), block_time: Duration::from_millis(300), l1_confirmations: 0 };
    let store = Store::open(&dir.path().join("operator.redb")).expect("store");
    let op = Operator::open(op_config, operator_l1.clone(), keys, store).await.expect("operator");
    let task = tokio::spawn(op.clone().run());
    let mut executed = 0u32;
    for _ in 0..20_000 {
        // before every block nobody can switch the rollup to exodus mode
        assert!(
            rollup.activateExodusMode().call().await.is_err(),
            "a request expired while the operator kept up"
        );
        let now = rollup.lastExecutedBlock().call().await.expect("executed");
        if now > executed {
            // the operator's block took an L1 block; one more passes before its next one
            for _ in 1..config().block_interval * u64::from(now - executed) {
                mine(&operator_l1).await;
            }
            executed = now;
        }
        if rollup.firstPriorityRequestId().call().await.expect("first") == FLOOD {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rollup.firstPriorityRequestId().call().await.expect("first"), FLOOD, "every request served");
    assert!(rollup.activateExodusMode().call().await.is_err());
    let l1_blocks = operator_l1.block_number().await.expect("head") - flood_block.header.header.number;
    println!("{FLOOD} requests in one L1 block: served in {executed} rollup blocks, {l1_blocks} L1 blocks");

    // the operator stops for good; a user's full exit waits; exodus at its deadline exactly
    task.abort();
    let _ = task.await;
    let r = ZkRollup::new(d.rollup, user.provider().clone());
    let receipt =
        r.requestFullExit(U24::from(1u64), 0).send().await.expect("send").get_receipt().await.expect("r");
    assert!(receipt.status());
    let expiration = rollup.priorityRequests(FLOOD).call().await.expect("request").expirationBlock;
    while operator_l1.block_number().await.expect("head") + 1 < expiration {
        assert!(rollup.activateExodusMode().call().await.is_err(), "not before the deadline");
        mine(&operator_l1).await;
    }
    let receipt = rollup.activateExodusMode().send().await.expect("send").get_receipt().await.expect("r");
    assert!(receipt.status(), "exodus at the deadline");
    assert!(rollup.exodusMode().call().await.expect("mode"));
}
