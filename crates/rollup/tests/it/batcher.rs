//! The batcher posts every L2 block exactly once: after a crash between recording a channel
//! and any receipt (the node having lost the transaction too), a restarted batcher sends the
//! same bytes again instead of a second channel; a transaction left unmined is replaced at
//! the same nonce with higher fees. On the embedded L1, mining by hand.

use std::time::Duration;

use alloy::{eips::BlockNumberOrTag, providers::Provider};
use alloy_primitives::{Address, U256};
use loft_chain::{Chain, Store};
use loft_devnet::Devnet;
use loft_l1::L1Client;
use loft_rollup::{
    RollupConfig,
    batcher::{BUMP_AFTER_BLOCKS, Batcher, BatcherStore, DataMode},
    channel_policy::ChannelPolicy,
    config::{BATCH_INBOX, L1Anchor},
    genesis::l2_chain_config,
    sequencer::Sequencer,
};
use loft_rpc::{MiningMode, Node};

/// The inbox transactions in L1 blocks `from..=to`: (block, maxFeePerGas).
async fn inbox_txs(l1: &L1Client, from: u64, to: u64) -> Vec<(u64, u128)> {
    let mut found = Vec::new();
    for n in from..=to {
        let block = l1
            .provider()
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .full()
            .await
            .expect("block")
            .expect("block");
        for tx in block.transactions.into_transactions() {
            use alloy::consensus::Transaction;
            if tx.to() == Some(BATCH_INBOX) {
                found.push((n, tx.max_fee_per_gas()));
            }
        }
    }
    found
}

async fn mine(l1: &L1Client, blocks: u64) {
    let _: serde_json::Value =
        l1.provider().raw_request("anvil_mine".into(), (U256::from(blocks),)).await.expect("mine");
}

/// An embedded L1 mining by hand, and an L2 config whose anchor is its genesis.
async fn l1_and_config() -> (Devnet, L1Client, RollupConfig) {
    let devnet = loft_testkit::devnet(MiningMode::Manual).await;
    let keys = loft_l1::dev_signers(2).expect("keys");
    let l1 = L1Client::connect(&devnet.url(), keys[1].clone()).await.expect("l1");
    let genesis =
        l1.provider().get_block_by_number(BlockNumberOrTag::Number(0)).await.expect("b").expect("b");
    let anchor = L1Anchor { number: 0, hash: genesis.header.hash, timestamp: genesis.header.timestamp };
    let config = RollupConfig::devnet(anchor, keys[1].address(), Address::repeat_byte(0xee));
    (devnet, l1, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_is_posted_once_across_crashes_and_fee_bumps() {
    let (devnet, l1, config) = l1_and_config().await;
    let genesis =
        l1.provider().get_block_by_number(BlockNumberOrTag::Number(0)).await.expect("b").expect("b");
    let chain = Chain::open(l2_chain_config(&config, vec![], Address::ZERO), Store::in_memory().expect("s"))
        .expect("l2");
    let l2 = Node::new(chain, MiningMode::Manual, vec![]);
    let mut sequencer = Sequencer::new(config.clone(), l2.clone(), l1.clone()).expect("sequencer");
    let target = genesis.header.timestamp + 5;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    assert_eq!(sequencer.head().number, 5);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("batcher.redb");
    let open = |posted| {
        Batcher::new(
            config.clone(),
            l2.clone(),
            l1.clone(),
            BatcherStore::open(&path).expect("store"),
            posted,
            DataMode::Calldata,
        )
        .expect("batcher")
        .with_receipt_timeout(Duration::ZERO)
    };

    // A channel is recorded and broadcast; the batcher dies before any receipt, and the L1
    // node loses the transaction as well.
    let mut batcher = open(0);
    let report = batcher.post(100).await.expect("post");
    assert_eq!((report.blocks, report.l1_transactions, report.l1_gas), (Some((1, 5)), 1, 0), "{report:?}");
    drop(batcher);
    let _: serde_json::Value =
        l1.provider().raw_request("anvil_dropAllTransactions".into(), ()).await.expect("drop");

    // Restarted from its record, it knows blocks 1-5 are in flight and sends the same bytes.
    let mut batcher = open(0);
    assert_eq!((batcher.submitted(), batcher.confirmed(), batcher.in_flight()), (5, 0, 1));
    let report = batcher.post(100).await.expect("post");
    assert_eq!(report.blocks, None, "no second channel for the same blocks: {report:?}");
    mine(&l1, 1).await;
    let report = batcher.post(100).await.expect("confirm");
    assert_eq!(report.confirmed, 5, "{report:?}");
    let head = l1.block_number().await.expect("head");
    assert_eq!(inbox_txs(&l1, 0, head).await.len(), 1, "blocks 1-5 were posted once");

    // A transaction that stays unmined is replaced at its nonce with higher fees.
    let target = sequencer.head().timestamp + 3;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    let report = batcher.post(100).await.expect("post");
    assert_eq!(report.blocks, Some((6, 8)));
    let _: serde_json::Value =
        l1.provider().raw_request("anvil_dropAllTransactions".into(), ()).await.expect("drop");
    mine(&l1, BUMP_AFTER_BLOCKS).await;
    let report = batcher.post(100).await.expect("bump");
    assert_eq!((report.bumped, report.blocks), (1, None), "{report:?}");
    mine(&l1, 1).await;
    let report = batcher.post(100).await.expect("confirm");
    assert_eq!(report.confirmed, 8, "{report:?}");
    let posted = inbox_txs(&l1, head + 1, l1.block_number().await.expect("head")).await;
    assert_eq!(posted.len(), 1, "blocks 6-8 were posted once: {posted:?}");

    // Nothing is left to post, and a restart agrees.
    assert_eq!(batcher.post(100).await.expect("idle").blocks, None);
    drop(batcher);
    let batcher = open(0);
    assert_eq!((batcher.confirmed(), batcher.in_flight()), (8, 0));
    devnet.stop().await;
}

/// An idle chain costs one batch transaction per channel duration, not one per tick: the
/// batcher waits while its channel is small and young, posts it once the L1 head is the
/// maximum duration past the channel's first L1 origin, and posts it the cheaper way (blobs,
/// at the devnet's 1-wei blob gas).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_chain_is_posted_once_per_channel_duration() {
    let (devnet, l1, config) = l1_and_config().await;
    let chain = Chain::open(l2_chain_config(&config, vec![], Address::ZERO), Store::in_memory().expect("s"))
        .expect("l2");
    let l2 = Node::new(chain, MiningMode::Manual, vec![]);
    let mut sequencer = Sequencer::new(config.clone(), l2.clone(), l1.clone()).expect("sequencer");
    let policy = ChannelPolicy { max_duration: 4, ..ChannelPolicy::DEFAULT };
    let mut batcher = Batcher::new(
        config.clone(),
        l2.clone(),
        l1.clone(),
        BatcherStore::in_memory().expect("store"),
        0,
        DataMode::Calldata,
    )
    .expect("batcher")
    .with_policy(policy)
    .with_receipt_timeout(Duration::ZERO);
    let start = sequencer.head().timestamp;
    while sequencer.step(start + 5).await.expect("sequence").is_some() {}
    assert_eq!(sequencer.head().number, 5);

    for _ in 0..3 {
        assert_eq!(batcher.post(500).await.expect("post").blocks, None, "a young, small channel waits");
        mine(&l1, 1).await;
    }
    assert_eq!(l1.block_number().await.expect("head"), 3);
    assert_eq!(batcher.post(500).await.expect("post").blocks, None, "3 L1 blocks: still waiting");
    mine(&l1, 1).await;
    let report = batcher.post(500).await.expect("post");
    assert_eq!((report.blocks, report.l1_transactions), (Some((1, 5)), 1), "{report:?}");
    mine(&l1, 1).await;
    let head = l1.block_number().await.expect("head");
    let block = l1
        .provider()
        .get_block_by_number(BlockNumberOrTag::Number(head))
        .full()
        .await
        .expect("b")
        .expect("b");
    let posted: Vec<_> = block.transactions.into_transactions().collect();
    assert_eq!(posted.len(), 1);
    use alloy::consensus::Transaction;
    assert!(posted[0].blob_versioned_hashes().is_some_and(|h| h.len() == 1), "one blob: {posted:?}");
    assert_eq!(batcher.post(500).await.expect("confirm").confirmed, 5);
    assert_eq!(inbox_txs(&l1, 0, head).await.len(), 1, "one transaction for the whole idle stretch");
    devnet.stop().await;
}
