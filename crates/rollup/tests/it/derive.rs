//! Derivation rules: batches accepted in order, every invalid batch refused by rule,
//! garbage ignored, and deposits forced in when the sequencing window passes without a batch.

use crate::common;

use crate::common::{config, l1_hash};
use alloy_primitives::{Address, B128, B256, Bytes, TxKind, U256};
use loft_chain::TxDeposit;
use loft_rollup::batch::{ChannelEncoder, Compression, L2BlockBatch};
use loft_rollup::derive::{Deriver, L1Block, L2Head};

/// L1 block `n` of the test L1.
fn l1_block(n: u64, deposits: Vec<TxDeposit>, batcher_data: Vec<Bytes>) -> L1Block {
    common::l1_block_with_fee(n, 7, deposits, batcher_data)
}

fn user_deposit(i: u8) -> TxDeposit {
    TxDeposit {
        source_hash: B256::repeat_byte(i),
        from: Address::repeat_byte(i),
        to: TxKind::Call(Address::repeat_byte(0xcc)),
        mint: 100,
        value: U256::ZERO,
        gas_limit: 50_000,
        is_system_transaction: false,
        input: Bytes::new(),
    }
}

fn channel(id: u8, batches: &[L2BlockBatch]) -> Vec<Bytes> {
    let mut enc = ChannelEncoder::new(B128::repeat_byte(id), Compression::default()).expect("encoder");
    for b in batches {
        enc.add_batch(b).expect("add");
    }
    enc.close().expect("close");
    enc.into_tx_data(120_000).expect("tx data")
}

fn genesis() -> L2Head {
    L2Head { number: 0, hash: B256::repeat_byte(0x11), timestamp: 1000, epoch: 0, sequence_number: 0 }
}

fn next_head(prev: &L2Head, attrs: &loft_rollup::derive::PayloadAttributes) -> L2Head {
    L2Head {
        number: prev.number + 1,
        hash: B256::left_padding_from(&(prev.number + 1).to_be_bytes()),
        timestamp: attrs.timestamp,
        epoch: attrs.epoch.number,
        sequence_number: attrs.sequence_number,
    }
}

fn batch(parent: &L2Head, epoch: u64, txs: Vec<Bytes>) -> L2BlockBatch {
    L2BlockBatch {
        parent_hash: parent.hash,
        epoch_number: epoch,
        epoch_hash: l1_hash(epoch),
        timestamp: parent.timestamp + 2,
        transactions: txs,
    }
}

#[test]
fn batches_become_blocks_in_order_and_deposits_open_their_epoch() {
    let mut d = Deriver::new(config(), l1_block(0, vec![], vec![]));
    let g = genesis();
    // block 1 stays in epoch 0; block 2 moves to epoch 1 (timestamp 1004 >= L1 block 1's)
    let b1 = batch(&g, 0, vec![Bytes::from_static(&[0x02, 0xaa])]);
    let h1 = L2Head {
        number: 1,
        hash: B256::left_padding_from(&1u64.to_be_bytes()),
        timestamp: 1002,
        epoch: 0,
        sequence_number: 1,
    };
    let b2 = batch(&h1, 1, vec![]);
    d.add_l1_block(l1_block(1, vec![user_deposit(1)], channel(1, &[b1, b2]))).expect("l1 1");
    let a1 = d.next_attributes(&g).expect("derive").expect("block 1");
    assert!(a1.from_batch);
    assert_eq!((a1.timestamp, a1.epoch.number, a1.sequence_number), (1002, 0, 1));
    assert_eq!(a1.deposits.len(), 1, "the L1-info deposit only: epoch 0 already started");
    assert_eq!(a1.transactions, vec![Bytes::from_static(&[0x02, 0xaa])]);
    let h1 = next_head(&g, &a1);
    let a2 = d.next_attributes(&h1).expect("derive").expect("block 2");
    assert_eq!((a2.epoch.number, a2.sequence_number), (1, 0));
    assert_eq!(a2.deposits.len(), 2, "L1 info, then the epoch's user deposit");
    assert_eq!(a2.deposits[1], user_deposit(1));
    // nothing more until L1 says more
    let h2 = next_head(&h1, &a2);
    assert_eq!(d.next_attributes(&h2).expect("derive"), None);
    assert_eq!(d.stats().accepted, 2);
}

#[test]
fn a_censoring_sequencer_can_not_keep_deposits_out() {
    let mut d = Deriver::new(config(), l1_block(0, vec![], vec![]));
    let mut head = genesis();
    // The sequencer posts nothing; a user deposits in L1 block 1.
    d.add_l1_block(l1_block(1, vec![user_deposit(7)], vec![])).expect("l1");
    for n in 2..4 {
        d.add_l1_block(l1_block(n, vec![], vec![])).expect("l1");
        assert_eq!(d.next_attributes(&head).expect("derive"), None, "window of epoch 0 still open");
    }
    // L1 block 4 closes epoch 0's window (0 + 4): blocks are derived without batches.
    d.add_l1_block(l1_block(4, vec![], vec![])).expect("l1");
    let mut saw_deposit = false;
    while let Some(a) = d.next_attributes(&head).expect("derive") {
        assert!(!a.from_batch && a.transactions.is_empty());
        saw_deposit |= a.deposits.contains(&user_deposit(7));
        head = next_head(&head, &a);
        if head.epoch >= 1 && !saw_deposit {
            panic!("epoch 1 started without its deposit");
        }
    }
    assert!(saw_deposit, "the censored deposit is in the chain");
    assert!(d.stats().forced > 0);
}

#[test]
fn invalid_batches_are_refused_by_rule() {
    let mut d = Deriver::new(config(), l1_block(0, vec![], vec![]));
    let g = genesis();
    let wrong_parent = L2BlockBatch { parent_hash: B256::repeat_byte(0x99), ..batch(&g, 0, vec![]) };
    let wrong_epoch_hash = L2BlockBatch { epoch_hash: B256::repeat_byte(0x98), ..batch(&g, 0, vec![]) };
    let epoch_too_far = batch(&g, 2, vec![]);
    let smuggled_deposit = batch(&g, 0, vec![Bytes::from_static(&[0x7e, 0x01])]);
    let empty_tx = batch(&g, 0, vec![Bytes::new()]);
    let data = channel(1, &[wrong_parent, wrong_epoch_hash, epoch_too_far, smuggled_deposit, empty_tx]);
    // and garbage from anyone: not even frames
    let mut batcher_data = data;
    batcher_data.push(Bytes::from_static(b"\x00garbage that is not a frame"));
    batcher_data.push(Bytes::from_static(b"\x07wrong version"));
    d.add_l1_block(l1_block(1, vec![], batcher_data)).expect("l1");
    assert_eq!(d.next_attributes(&g).expect("derive"), None, "no valid batch, window still open");
    let stats = d.stats();
    assert_eq!(stats.invalid, 5);
    assert_eq!(stats.bad_frames, 2);
    // a valid batch arriving later still applies
    d.add_l1_block(l1_block(2, vec![], channel(2, &[batch(&g, 0, vec![])]))).expect("l1");
    assert!(d.next_attributes(&g).expect("derive").expect("block").from_batch);
}

#[test]
fn a_batch_landing_after_its_window_is_refused() {
    let mut d = Deriver::new(config(), l1_block(0, vec![], vec![]));
    let g = genesis();
    for n in 1..=4 {
        d.add_l1_block(l1_block(n, vec![], vec![])).expect("l1");
    }
    // epoch 0's window closed at L1 block 4; a batch for epoch 0 in block 5 is too late
    d.add_l1_block(l1_block(5, vec![], channel(1, &[batch(&g, 0, vec![Bytes::from_static(&[2, 1])])])))
        .expect("l1");
    let a = d.next_attributes(&g).expect("derive").expect("block");
    assert!(!a.from_batch, "derived without the late batch");
    assert_eq!(d.stats().invalid, 1);
}

#[test]
fn l1_blocks_must_extend_the_chain_read() {
    let mut d = Deriver::new(config(), l1_block(0, vec![], vec![]));
    d.add_l1_block(l1_block(1, vec![], vec![])).expect("l1");
    let mut fork = l1_block(2, vec![], vec![]);
    fork.parent_hash = B256::repeat_byte(0x55);
    assert!(matches!(d.add_l1_block(fork), Err(loft_rollup::derive::DeriveError::L1Mismatch { .. })));
    assert!(matches!(
        d.add_l1_block(l1_block(3, vec![], vec![])),
        Err(loft_rollup::derive::DeriveError::L1Gap { expected: 2, got: 3 })
    ));
}
