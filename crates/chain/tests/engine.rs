//! Engine tests: execution, pool rules, persistence across restarts, rewinds.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use loft_chain::{Chain, ChainConfig, ChainError, GenesisAccount, Store, TxError};

const CHAIN_ID: u64 = 31337;

fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&[i; 32].into()).expect("valid key")
}

fn config(signers: &[PrivateKeySigner]) -> ChainConfig {
    let alloc = signers
        .iter()
        .map(|s| GenesisAccount {
            address: s.address(),
            balance: U256::from(10u128.pow(24)),
            ..Default::default()
        })
        .collect();
    let mut c = ChainConfig::dev(CHAIN_ID, alloc);
    c.genesis_timestamp = 1_700_000_000;
    c
}

fn transfer(s: &PrivateKeySigner, nonce: u64, to: Address, value: u64, max_fee: u128) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = s.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

#[test]
fn transfers_persist_across_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let (root, head) = {
        let mut chain =
            Chain::open(config(std::slice::from_ref(&alice)), Store::open(dir.path()).expect("store"))
                .expect("open");
        for nonce in 0..10 {
            chain.submit_raw(&transfer(&alice, nonce, bob, 1000, 10_000_000_000)).expect("submit");
        }
        let block = chain.build_block().expect("build");
        assert_eq!(block.tx_hashes.len(), 10);
        assert_eq!(block.header.header.gas_used, 210_000);
        assert_eq!(chain.state().balance(&bob), U256::from(10_000));
        // a transaction left in the pool survives the restart too
        chain.submit_raw(&transfer(&alice, 10, bob, 1, 10_000_000_000)).expect("submit");
        (block.header.header.state_root, block.header.hash)
    };
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::open(dir.path()).expect("store"))
            .expect("reopen");
    assert_eq!(chain.head().hash, head);
    assert_eq!(chain.head().header.state_root, root);
    assert_eq!(chain.state().balance(&bob), U256::from(10_000));
    assert_eq!(chain.pool().len(), 1);
    let block = chain.build_block().expect("build");
    assert_eq!(block.tx_hashes.len(), 1);
    let receipt = chain.receipt(&block.tx_hashes[0]).expect("read").expect("receipt");
    assert_eq!(receipt.gas_used, 21_000);
}

#[test]
fn pool_rules() {
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::in_memory().expect("store")).expect("open");
    let fee = 10_000_000_000;
    let first = transfer(&alice, 0, bob, 1, fee);
    chain.submit_raw(&first).expect("first");
    let err = chain.submit_raw(&first).expect_err("duplicate");
    assert!(matches!(err, ChainError::Tx(TxError::AlreadyKnown)), "{err}");
    // same nonce, fee not bumped by 10%: refused; bumped: replaces
    let err = chain.submit_raw(&transfer(&alice, 0, bob, 2, fee + 1)).expect_err("underpriced");
    assert_eq!(err.to_string(), "replacement transaction underpriced");
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: fee * 2,
        max_priority_fee_per_gas: 2,
        to: TxKind::Call(bob),
        value: U256::from(5),
        ..Default::default()
    };
    let sig = alice.sign_transaction_sync(&mut tx).expect("sign");
    chain.submit_raw(&TxEnvelope::from(tx.into_signed(sig)).encoded_2718()).expect("replacement");
    assert_eq!(chain.pool().len(), 1);
    // a nonce gap is queued, not executed
    chain.submit_raw(&transfer(&alice, 2, bob, 1, fee)).expect("gapped");
    let block = chain.build_block().expect("build");
    assert_eq!(block.tx_hashes.len(), 1);
    assert_eq!(chain.state().balance(&bob), U256::from(5));
    assert_eq!(chain.pool().len(), 1);
    let err = chain.submit_raw(&transfer(&alice, 0, bob, 1, fee)).expect_err("nonce too low");
    assert!(err.to_string().starts_with("nonce too low"), "{err}");
    // wrong chain id
    let mut tx = TxLegacy {
        chain_id: Some(1),
        nonce: 1,
        gas_price: fee,
        gas_limit: 21_000,
        to: TxKind::Call(bob),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let sig = alice.sign_transaction_sync(&mut tx).expect("sign");
    let err = chain.submit_raw(&TxEnvelope::from(tx.into_signed(sig)).encoded_2718()).expect_err("chain id");
    assert_eq!(err.to_string(), "invalid chain id for signer: have 1 want 31337");
    // insufficient funds
    let poor = signer(9);
    let err = chain.submit_raw(&transfer(&poor, 0, bob, 1, fee)).expect_err("funds");
    assert!(err.to_string().starts_with("insufficient funds for gas * price + value"), "{err}");
    // intrinsic gas
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_limit: 20_000,
        max_fee_per_gas: fee,
        to: TxKind::Call(bob),
        ..Default::default()
    };
    let sig = alice.sign_transaction_sync(&mut tx).expect("sign");
    let err = chain.submit_raw(&TxEnvelope::from(tx.into_signed(sig)).encoded_2718()).expect_err("intrinsic");
    assert_eq!(err.to_string(), "intrinsic gas too low: gas 20000, minimum needed 21000");
    // garbage
    assert!(matches!(chain.submit_raw(&[0x02, 0xff, 0x00]), Err(ChainError::Tx(TxError::Decode(_)))));
}

#[test]
fn rewind_restores_state_and_requeues() {
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::in_memory().expect("store")).expect("open");
    let fee = 10_000_000_000;
    chain.submit_raw(&transfer(&alice, 0, bob, 7, fee)).expect("submit");
    let b1 = chain.build_block().expect("b1");
    chain.submit_raw(&transfer(&alice, 1, bob, 8, fee)).expect("submit");
    chain.set_balance(Address::repeat_byte(0xcc), U256::from(99));
    chain.build_block().expect("b2");
    assert_eq!(chain.state().balance(&bob), U256::from(15));
    chain.rewind_to(1).expect("rewind");
    assert_eq!(chain.head().hash, b1.header.hash);
    assert_eq!(chain.state().balance(&bob), U256::from(7));
    assert_eq!(chain.state().balance(&Address::repeat_byte(0xcc)), U256::ZERO);
    assert_eq!(chain.pool().len(), 1, "the rewound transaction is pooled again");
    let b2 = chain.build_block().expect("b2 again");
    assert_eq!(b2.tx_hashes.len(), 1);
    assert_eq!(chain.state().balance(&bob), U256::from(15));
}

#[test]
fn past_state_is_rebuilt_from_change_sets() {
    use loft_chain::state::StateReader;
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::in_memory().expect("store")).expect("open");
    for nonce in 0..3 {
        chain.submit_raw(&transfer(&alice, nonce, bob, 100, 10_000_000_000)).expect("submit");
        chain.build_block().expect("build");
    }
    chain.set_balance(bob, U256::from(1)); // a pending devnet edit is not part of any past state
    for (block, expected) in [(0u64, 0u64), (1, 100), (2, 200), (3, 300)] {
        let past = chain.state_at(block).expect("past state");
        assert_eq!(past.balance_of(&bob), U256::from(expected), "at block {block}");
        assert_eq!(past.nonce_of(&alice.address()), block);
    }
    assert_eq!(chain.state().balance(&bob), U256::from(1));
    assert!(chain.state_at(4).is_err(), "the future is not available");
}
