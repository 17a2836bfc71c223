//! The optimistic rollup on the embedded L1 devnet and on anvil, through the same alloy client:
//! contracts deployed, a deposit through the portal lands on L2, L2 transfers are sequenced,
//! the batcher posts them (calldata, then blobs) and a replica that reads only L1 reaches the
//! sequencer's exact blocks and state root. Along the way: an outsider's data in the inbox is
//! ignored, an L1 reorg is survived, a withdrawal goes round trip, a deposit the sequencer
//! never includes still lands within the sequencing window, and L2 blocks become finalized
//! with the L1 blocks their data came in.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockNumberOrTag, eip2718::Encodable2718},
    network::{TransactionBuilder, TxSignerSync},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use loft_chain::{Chain, GenesisAccount, Store};
use loft_l1::L1Client;
use loft_rollup::batch::{ChannelEncoder, Compression, random_channel_id};
use loft_rollup::{
    RollupConfig,
    batcher::{Batcher, BatcherStore, DataMode, MAX_CALLDATA_PAYLOAD},
    config::{BATCH_INBOX, L1Anchor, L2_TO_L1_MESSAGE_PASSER},
    contracts::{L2ToL1MessagePasser, RollupDeployParams, RollupPortal, deploy},
    genesis::l2_chain_config,
    proposer::{Proposer, Withdrawal},
    replica::Replica,
    sequencer::{Sequenced, Sequencer},
};
use loft_rpc::{MiningMode, Node};

const ETH: u128 = 1_000_000_000_000_000_000;
const L2_CHAIN_ID: u64 = 42069;

fn l2_transfer(key: &PrivateKeySigner, nonce: u64, to: Address, value: u128) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = key.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

fn l2_node(config: &RollupConfig, user: Address, bridge: Address) -> std::sync::Arc<Node> {
    let funded = vec![GenesisAccount { address: user, balance: U256::from(100 * ETH), ..Default::default() }];
    let chain =
        Chain::open(l2_chain_config(config, funded, bridge), Store::in_memory().expect("store")).expect("l2");
    Node::new(chain, MiningMode::Manual, vec![])
}

/// The whole flow against the L1 at `url` (funded dev accounts from the test mnemonic).
/// `blob_reader`: whether the node serves blob contents (`loft_getBlob`), so that batches
/// posted as blobs can be derived.
async fn scenario(url: &str, blob_reader: bool) {
    let keys = loft_l1::dev_signers(3).expect("dev keys");
    let (deployer, batcher_key, user) = (keys[0].clone(), keys[1].clone(), keys[2].clone());
    let l1 = L1Client::connect(url, deployer.clone()).await.expect("l1");
    // The L2 is anchored to the L1 block before its contracts (no deposit can predate it).
    let anchor =
        l1.provider().get_block_by_number(BlockNumberOrTag::Latest).await.expect("block").expect("block");
    let deployment = deploy(
        &l1,
        &RollupDeployParams {
            proposer: deployer.address(),
            challenger: deployer.address(),
            submission_interval: 10,
            l2_block_time: 1,
            l2_genesis_time: anchor.header.timestamp,
            finalization_period: 12,
        },
    )
    .await
    .expect("deploy");
    let l1_anchor = L1Anchor {
        number: anchor.header.number,
        hash: anchor.header.hash,
        timestamp: anchor.header.timestamp,
    };
    let config = RollupConfig {
        l2_chain_id: L2_CHAIN_ID,
        sequencing_window: 20,
        ..RollupConfig::devnet(l1_anchor, batcher_key.address(), deployment.portal)
    };
    let bob = Address::repeat_byte(0xb0);

    // A deposit through the portal on L1.
    let user_l1 = L1Client::connect(url, user.clone()).await.expect("l1");
    let portal = RollupPortal::new(deployment.portal, user_l1.provider().clone());
    let receipt = portal
        .depositTransaction(bob, U256::from(ETH), 100_000, false, Bytes::new())
        .value(U256::from(ETH))
        .send()
        .await
        .expect("deposit sent")
        .get_receipt()
        .await
        .expect("deposit mined");
    assert!(receipt.status());

    // The sequencer catches up with L1's clock; the deposit's epoch brings it in.
    let sequencer_node = l2_node(&config, user.address(), deployment.l1_standard_bridge);
    let mut sequencer =
        Sequencer::new(config.clone(), sequencer_node.clone(), l1.clone()).expect("sequencer");
    let l1_now = |c: &L1Client| {
        let c = c.clone();
        async move {
            c.provider()
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await
                .expect("b")
                .expect("b")
                .header
                .timestamp
        }
    };
    // (several L1 blocks may share a timestamp on anvil: the epoch moves one L1 block per L2 block)
    let target = l1_now(&l1).await + 10;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    assert_eq!(sequencer_node.with_chain(|c| c.state().balance(&bob)), U256::from(ETH), "deposit on L2");

    // L2 transfers, sequenced (the deposit, sent by the user, used L2 nonce 0).
    for nonce in 1..6 {
        sequencer_node.submit_raw(&l2_transfer(&user, nonce, bob, 1000)).expect("L2 transfer accepted");
    }
    let target = sequencer.head().timestamp + 2;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    assert_eq!(sequencer_node.with_chain(|c| c.state().balance(&bob)), U256::from(ETH + 5000));

    // An outsider posts to the inbox: garbage, and a well-formed channel with its own version
    // of block 1 (a transfer of the user's, valid there, that the sequencer never saw). Only
    // the configured batcher's data counts: every replica ignores both.
    let mut forged =
        sequencer_node.with_chain(|c| loft_rollup::block::batch_for_block(c, 1)).expect("block 1");
    assert!(
        forged.transactions.is_empty()
            && sequencer_node.with_chain(|c| c.block_txs(1)).expect("txs").len() == 1
    );
    forged.transactions = vec![l2_transfer(&user, 0, Address::repeat_byte(0x66), 1).into()];
    let mut encoder = ChannelEncoder::new(random_channel_id(), Compression::default()).expect("encoder");
    encoder.add_batch(&forged).expect("add");
    encoder.close().expect("close");
    let mut outsider_data = encoder.into_tx_data(MAX_CALLDATA_PAYLOAD).expect("frames");
    outsider_data.push(Bytes::from_static(&[0x00, 0xde, 0xad, 0xbe, 0xef]));
    outsider_data.push(Bytes::from_static(b"not a frame at all"));
    for data in outsider_data {
        l1.send(TransactionRequest::default().with_to(BATCH_INBOX).with_input(data)).await.expect("outsider");
    }

    // The batcher posts everything as calldata.
    let batcher_l1 = L1Client::connect(url, batcher_key.clone()).await.expect("l1");
    let mut batcher = Batcher::new(
        config.clone(),
        sequencer_node.clone(),
        batcher_l1.clone(),
        BatcherStore::in_memory().expect("store"),
        0,
        DataMode::Calldata,
    )
    .expect("batcher");
    let report = batcher.post(1000).await.expect("post");
    assert_eq!(report.transactions, 5);
    assert!(report.l1_transactions >= 1 && report.compressed_bytes > 0 && report.l1_gas > 0, "{report:?}");
    let sequenced = sequencer.head();
    assert_eq!(batcher.confirmed(), sequenced.number);
    assert_eq!(batcher.post(1000).await.expect("nothing new").blocks, None, "nothing is posted twice");

    // A replica that reads only L1 reaches the same chain.
    let replica_node = l2_node(&config, user.address(), deployment.l1_standard_bridge);
    let mut replica = Replica::new(config.clone(), replica_node.clone(), l1.clone()).await.expect("replica");
    replica.step().await.expect("derive");
    assert_eq!(replica.safe().number, sequenced.number, "every posted block derived");
    assert_eq!(replica.safe().hash, sequenced.hash);
    let (seq_root, rep_root) = (
        sequencer_node.with_chain(|c| c.head().header.state_root),
        replica_node.with_chain(|c| c.head().header.state_root),
    );
    assert_eq!(seq_root, rep_root);
    // Safe is what the replica derived; nothing comes from finalized L1 blocks yet (both L1s
    // finalize 64 blocks below their head).
    assert_eq!(
        replica_node.with_chain(|c| (c.safe_number(), c.finalized_number())),
        (sequenced.number, 0),
        "safe and finalized tags"
    );

    // An L1 reorg takes a posted batch away: the replica undoes the L2 blocks derived from
    // it, and derives them again once the batch is posted anew.
    let snapshot: U256 = l1.provider().raw_request("evm_snapshot".into(), ()).await.expect("snapshot");
    let target = sequencer.head().timestamp + 2;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    // (a batcher that waits for 3 confirmations keeps the channel in flight)
    let mut batcher = batcher.with_confirmations(3);
    let report = batcher.post(1000).await.expect("post");
    assert!(report.blocks.is_some() && batcher.in_flight() == 1, "{report:?}");
    replica.step().await.expect("derive");
    let before_reorg = replica.safe().number;
    assert_eq!(replica.safe().hash, sequencer.head().hash);
    let reverted: bool = l1.provider().raw_request("evm_revert".into(), (snapshot,)).await.expect("revert");
    assert!(reverted);
    for i in 0..3u8 {
        l1.transfer(Address::repeat_byte(0x90 + i), U256::from(1)).await.expect("L1 moves on another branch");
    }
    let report = replica.step().await.expect("derive after the reorg");
    assert!(report.rewound > 0, "{report:?}");
    assert!(replica.safe().number < before_reorg, "blocks derived from the lost batch are undone");
    // the batcher finds its transaction gone and broadcasts the same bytes again
    let report = batcher.post(1000).await.expect("re-post");
    assert_eq!((report.reorged, report.blocks), (1, None), "{report:?}");
    replica.step().await.expect("derive");
    assert_eq!(replica.safe().hash, sequencer.head().hash, "the same chain again");
    l1.provider()
        .raw_request::<_, serde_json::Value>("anvil_mine".into(), (U256::from(3),))
        .await
        .expect("mine");
    let report = batcher.post(1000).await.expect("confirm");
    assert_eq!((batcher.in_flight(), report.confirmed), (0, sequencer.head().number), "{report:?}");
    let mut batcher = batcher.with_confirmations(0);

    // More blocks, posted as blobs this time (where the node serves blobs), derived too.
    sequencer_node.submit_raw(&l2_transfer(&user, 6, bob, 1)).expect("L2 transfer accepted");
    let target = sequencer.head().timestamp + 2;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    batcher.set_mode(if blob_reader { DataMode::Blobs } else { DataMode::Calldata });
    let report = batcher.post(1000).await.expect("post blobs");
    assert_eq!(report.l1_blob_gas > 0, blob_reader, "{report:?}");
    replica.step().await.expect("derive");
    assert_eq!(replica.safe().hash, sequencer.head().hash, "blob batches derived");

    // L1 reorganises away the L1 origin of the sequencer's newest blocks (and the batch that
    // carried them): the sequencer undoes them and sequences again on the new L1 branch, the
    // batcher abandons their channel and posts the new blocks, and the replica follows.
    let snapshot: U256 = l1.provider().raw_request("evm_snapshot".into(), ()).await.expect("snapshot");
    let fork_head = l1.block_number().await.expect("head");
    for i in 0..2u8 {
        l1.transfer(Address::repeat_byte(0x70 + i), U256::from(1)).await.expect("L1 block");
    }
    sequencer_node.submit_raw(&l2_transfer(&user, 7, bob, 7)).expect("L2 transfer accepted");
    // (one origin per L2 block at most: sequence until the origin is L1's head)
    let l1_head = l1.block_number().await.expect("head");
    for _ in 0..1_000 {
        if sequencer.head().epoch >= l1_head {
            break;
        }
        let next = sequencer.head().timestamp + 1;
        sequencer.step(next).await.expect("sequence");
    }
    assert!(sequencer.head().epoch > fork_head, "the sequencer took an origin that L1 will lose");
    let mut batcher = batcher.with_confirmations(3);
    assert!(batcher.post(1000).await.expect("post").blocks.is_some());
    replica.step().await.expect("derive");
    assert_eq!(replica.safe().hash, sequencer.head().hash);
    let bob_before = sequencer_node.with_chain(|c| c.state().balance(&bob));
    let reverted: bool = l1.provider().raw_request("evm_revert".into(), (snapshot,)).await.expect("revert");
    assert!(reverted);
    for i in 0..3u8 {
        l1.transfer(Address::repeat_byte(0x80 + i), U256::from(2)).await.expect("L1 moves on another branch");
    }
    match sequencer.step_report(u64::MAX / 2).await.expect("step") {
        Sequenced::Rewound { undone, to } => {
            assert!(undone > 0 && to < sequencer_node.with_chain(|c| c.head().header.number) + 1)
        }
        other => panic!("the sequencer did not notice its origin gone: {other:?}"),
    }
    assert!(sequencer.head().epoch <= fork_head, "back on an origin L1 still has");
    let target = l1_now(&l1).await.max(sequencer.head().timestamp) + 3;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    assert_eq!(
        sequencer_node.with_chain(|c| c.state().balance(&bob)),
        bob_before,
        "the transfer of an undone block went back to the pool and was sequenced again"
    );
    let report = batcher.post(1000).await.expect("post the new blocks");
    assert!(report.abandoned >= 1 && report.blocks.is_some(), "{report:?}");
    replica.step().await.expect("derive");
    assert_eq!(replica.safe().hash, sequencer.head().hash, "the replica follows the new chain");
    let mut batcher = batcher.with_confirmations(0);
    batcher.post(1000).await.expect("settle");

    // A withdrawal of 0.4 ETH: initiated on L2, proven against an output root, finalized
    // after the challenge window, exactly once.
    let withdraw_call = L2ToL1MessagePasser::initiateWithdrawalCall {
        target: user.address(),
        gasLimit: U256::from(100_000),
        data: Bytes::new(),
    };
    let mut tx = TxEip1559 {
        chain_id: L2_CHAIN_ID,
        nonce: 8,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(L2_TO_L1_MESSAGE_PASSER),
        value: U256::from(4 * ETH / 10),
        input: withdraw_call.abi_encode().into(),
        ..Default::default()
    };
    let sig = user.sign_transaction_sync(&mut tx).expect("sign");
    let hash =
        sequencer_node.submit_raw(&TxEnvelope::from(tx.into_signed(sig)).encoded_2718()).expect("withdraw");
    // L2 past block 10 (the first output), then L1's clock past those L2 blocks
    let target = sequencer.head().timestamp + 12;
    while sequencer.step(target).await.expect("sequence").is_some() {}
    let receipt = sequencer_node.with_chain(|c| c.receipt(&hash)).expect("read").expect("mined");
    assert!(receipt.receipt.status());
    let withdrawal = Withdrawal::from_receipt(&receipt).pop().expect("MessagePassed");
    let _: serde_json::Value =
        l1.provider().raw_request("evm_increaseTime".into(), (120u64,)).await.expect("increase time");
    batcher.post(1000).await.expect("post");
    replica.step().await.expect("derive");
    assert_eq!(replica.safe().hash, sequencer.head().hash);
    let mut proposer = Proposer::new(replica_node.clone(), l1.clone(), deployment.output_oracle);
    let mut outputs = Vec::new();
    while let Some(output) = proposer.step().await.expect("propose") {
        outputs.push(output.block_number);
    }
    assert!(outputs.len() >= 2 && outputs[0] == 10, "{outputs:?}");
    assert!(*outputs.last().expect("some") >= withdrawal.l2_block, "an output covers the withdrawal");
    let portal_l1 = user_l1.clone();
    let portal_before = user_l1.balance(deployment.portal).await.expect("balance");
    withdrawal
        .prove(&portal_l1, deployment.portal, deployment.output_oracle, &replica_node)
        .await
        .expect("prove");
    assert!(
        withdrawal
            .prove(&portal_l1, deployment.portal, deployment.output_oracle, &replica_node)
            .await
            .is_err(),
        "proving again (which would reset the timer) is refused"
    );
    assert!(withdrawal.finalize(&portal_l1, deployment.portal).await.is_err(), "too early");
    let _: serde_json::Value =
        l1.provider().raw_request("evm_increaseTime".into(), (13u64,)).await.expect("increase time");
    withdrawal.finalize(&portal_l1, deployment.portal).await.expect("finalize");
    assert_eq!(
        user_l1.balance(deployment.portal).await.expect("balance"),
        portal_before - U256::from(4 * ETH / 10),
        "the portal paid the withdrawal"
    );
    assert!(withdrawal.finalize(&portal_l1, deployment.portal).await.is_err(), "only once");

    // The sequencer stops (or censors): a deposit made now still reaches L2 within the
    // sequencing window, through derivation alone.
    let carol = Address::repeat_byte(0xca);
    let receipt = portal
        .depositTransaction(carol, U256::from(ETH / 4), 100_000, false, Bytes::new())
        .value(U256::from(ETH / 4))
        .send()
        .await
        .expect("deposit sent")
        .get_receipt()
        .await
        .expect("deposit mined");
    let deposit_l1_block = receipt.block_number.expect("mined");

    // Once L1 finalizes the blocks the batches came in, the L2 blocks derived from them are
    // finalized too.
    let derived = replica.safe().number;
    let _: serde_json::Value =
        l1.provider().raw_request("anvil_mine".into(), (U256::from(70),)).await.expect("mine");
    replica.step().await.expect("derive");
    assert_eq!(replica.finalized(), derived, "finalized: derived before the L1 finalized block");
    assert_eq!(replica_node.with_chain(|c| c.finalized_number()), derived, "the finalized tag");
    assert!(replica.safe().number >= derived);
    assert_eq!(
        replica_node.with_chain(|c| c.state().balance(&carol)),
        U256::from(ETH / 4),
        "the censored deposit is on L2"
    );
    assert_eq!(sequencer_node.with_chain(|c| c.state().balance(&carol)), U256::ZERO, "never sequenced");
    let included_in = (derived + 1..=replica.safe().number)
        .find(|n| {
            replica_node.with_chain(|c| {
                c.block_txs(*n)
                    .expect("txs")
                    .iter()
                    .any(|t| t.is_deposit() && alloy::consensus::Transaction::to(&t.tx) == Some(carol))
            })
        })
        .expect("a block carries the deposit");
    let epoch =
        replica_node.with_chain(|c| loft_rollup::sequencer::block_epoch(c, included_in)).expect("epoch");
    assert!(epoch <= deposit_l1_block + config.sequencing_window, "within the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_on_the_embedded_devnet() {
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    scenario(&devnet.url(), true).await;
    devnet.stop().await;
}

/// anvil from `.tools/bin` or PATH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_on_anvil() {
    let Some(anvil) = loft_testkit::anvil() else { return };
    // anvil does not serve blob contents by versioned hash: batches go as calldata there.
    scenario(&anvil.endpoint(), false).await;
}
