//! The rollup's consensus pipeline end to end, without I/O: a sequencer builds L2 blocks from
//! its pool and L1 deposits, its blocks are batched, compressed and framed into L1 data, and
//! a replica that sees only the L1 blocks derives the very same chain (same block hashes, same
//! state roots, same fees).

use crate::common;

use crate::common::config;
use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B128, B256, Bytes, TxKind, U256};
use loft_chain::{Chain, GenesisAccount, Store, TxDeposit};
use loft_rollup::batch::{ChannelEncoder, Compression};
use loft_rollup::{
    block::{batch_for_block, block_spec},
    config::L1_FEE_VAULT,
    derive::{Deriver, L1Block, L2Head, attributes},
    genesis::l2_chain_config,
};

const ETH: u128 = 1_000_000_000_000_000_000;

/// L1 block `n` of the test L1.
fn l1_block(n: u64, deposits: Vec<TxDeposit>, batcher_data: Vec<Bytes>) -> L1Block {
    common::l1_block_with_fee(n, 20_000_000_000 + n as u128, deposits, batcher_data)
}

fn alice() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).expect("key")
}

fn transfer(nonce: u64, to: Address) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: 42069,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000,
        to: TxKind::Call(to),
        value: U256::from(1000 + nonce),
        ..Default::default()
    };
    let sig = alice().sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

fn l2_chain() -> Chain {
    let funded = vec![GenesisAccount {
        address: alice().address(),
        balance: U256::from(100 * ETH),
        ..Default::default()
    }];
    Chain::open(
        l2_chain_config(&config(), funded, Address::repeat_byte(0xb1)),
        Store::in_memory().expect("store"),
    )
    .expect("chain")
}

#[test]
fn a_replica_derives_the_sequencers_chain_from_l1_alone() {
    let bob = Address::repeat_byte(0xb0);
    let deposit = TxDeposit {
        source_hash: B256::repeat_byte(0xd1),
        from: Address::repeat_byte(0xd0),
        to: TxKind::Call(bob),
        mint: ETH,
        value: U256::from(ETH),
        gas_limit: 100_000,
        is_system_transaction: false,
        input: Bytes::new(),
    };
    // L1 as the sequencer sees it while sequencing: blocks 0..=3, a deposit in block 1.
    let mut l1 = vec![
        l1_block(0, vec![], vec![]),
        l1_block(1, vec![deposit.clone()], vec![]),
        l1_block(2, vec![], vec![]),
        l1_block(3, vec![], vec![]),
    ];

    // The sequencer: 8 blocks, each with a transfer from its pool.
    let mut sequencer = l2_chain();
    let genesis = sequencer.head().clone();
    let mut head = L2Head { number: 0, hash: genesis.hash, timestamp: 1000, epoch: 0, sequence_number: 0 };
    for i in 0..8u64 {
        sequencer.submit_raw(&transfer(i, Address::repeat_byte(0x40 + i as u8))).expect("pool");
        let next_ts = head.timestamp + 2;
        let epoch = match l1.get(head.epoch as usize + 1) {
            Some(next) if next.info.timestamp <= next_ts => next.clone(),
            _ => l1[head.epoch as usize].clone(),
        };
        let attrs = attributes(&head, &epoch, next_ts, vec![], false);
        let mut spec = block_spec(&attrs, 42069);
        spec.txs = None; // the sequencer takes its pool's best
        let block = sequencer.build_block_with(spec).expect("sequence");
        assert!(block.dropped.is_empty(), "{:?}", block.dropped);
        head = L2Head {
            number: block.header.header.number,
            hash: block.header.hash,
            timestamp: next_ts,
            epoch: attrs.epoch.number,
            sequence_number: attrs.sequence_number,
        };
    }
    assert_eq!(sequencer.state().balance(&bob), U256::from(ETH), "the deposit landed");
    assert!(sequencer.state().balance(&L1_FEE_VAULT) > U256::ZERO, "L1 data fees were charged");

    // The batcher: one channel with all 8 blocks, posted in L1 block 4.
    let mut channel = ChannelEncoder::new(B128::repeat_byte(7), Compression::default()).expect("channel");
    for n in 1..=8 {
        channel.add_batch(&batch_for_block(&sequencer, n).expect("batch")).expect("add");
    }
    let payloads = channel.into_tx_data(120_000).expect("frames");
    l1.push(l1_block(4, vec![], payloads));

    // The replica: L1 only.
    let mut replica = l2_chain();
    assert_eq!(replica.head().hash, genesis.hash, "same genesis");
    let mut deriver = Deriver::new(config(), l1[0].clone());
    for block in &l1[1..] {
        deriver.add_l1_block(block.clone()).expect("l1");
    }
    let mut safe = L2Head { number: 0, hash: genesis.hash, timestamp: 1000, epoch: 0, sequence_number: 0 };
    while let Some(attrs) = deriver.next_attributes(&safe).expect("derive") {
        assert!(attrs.from_batch);
        let built = replica.build_block_with(block_spec(&attrs, 42069)).expect("derive block");
        let expected = sequencer.header_by_number(built.header.header.number).expect("read").expect("exists");
        assert_eq!(built.header, expected, "block {} differs", built.header.header.number);
        safe = L2Head {
            number: built.header.header.number,
            hash: built.header.hash,
            timestamp: attrs.timestamp,
            epoch: attrs.epoch.number,
            sequence_number: attrs.sequence_number,
        };
    }
    assert_eq!(safe.number, 8, "every block derived");
    assert_eq!(replica.head().header.state_root, sequencer.head().header.state_root);
    assert_eq!(replica.state().balance(&L1_FEE_VAULT), sequencer.state().balance(&L1_FEE_VAULT));
    assert_eq!(deriver.stats().accepted, 8);
}
