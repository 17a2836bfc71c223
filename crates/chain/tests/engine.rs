//! Engine tests: execution, pool rules, persistence across restarts, rewinds.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use loft_chain::{
    BlockSpec, Chain, ChainConfig, ChainError, Finality, GenesisAccount, RecoveredTx, Store, TxDeposit,
    TxError,
};

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

fn deposit(
    source: u8,
    from: Address,
    to: Option<Address>,
    mint: u128,
    value: u64,
    gas: u64,
    input: Bytes,
) -> TxDeposit {
    TxDeposit {
        source_hash: alloy_primitives::B256::repeat_byte(source),
        from,
        to: to.map(TxKind::Call).unwrap_or(TxKind::Create),
        mint,
        value: U256::from(value),
        gas_limit: gas,
        is_system_transaction: false,
        input,
    }
}

/// Init code deploying a contract whose runtime code is the single byte 0x00 (STOP).
fn tiny_contract_init_code() -> Bytes {
    // PUSH1 1 PUSH1 0x0c PUSH1 0 CODECOPY PUSH1 1 PUSH1 0 RETURN, then the runtime byte 0x00
    Bytes::from(vec![0x60, 0x01, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x01, 0x60, 0x00, 0xf3, 0x00])
}

#[test]
fn deposits_mint_run_first_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = signer(1);
    let depositor = Address::repeat_byte(0xd0);
    let bob = Address::repeat_byte(0xb0);
    let eth = 10u128.pow(18);
    let (head, root, created) = {
        let mut chain =
            Chain::open(config(std::slice::from_ref(&alice)), Store::open(dir.path()).expect("store"))
                .expect("open");
        chain.submit_raw(&transfer(&alice, 0, bob, 7, 10_000_000_000)).expect("submit");
        let spec = BlockSpec {
            deposits: vec![
                // mints 5 ETH and sends 1 to bob
                deposit(1, depositor, Some(bob), 5 * eth, 10u64.pow(18), 100_000, Bytes::new()),
                // asks to send more than it has: fails, yet its mint stays and its nonce moves
                deposit(2, depositor, Some(bob), eth, u64::MAX, 100_000, Bytes::new()),
                // creates a contract at depositor.create(2)
                deposit(3, depositor, None, 0, 0, 200_000, tiny_contract_init_code()),
            ],
            ..Default::default()
        };
        let block = chain.build_block_with(spec).expect("block");
        assert_eq!(block.tx_hashes.len(), 4, "three deposits and the pooled transfer");
        let receipts = chain.block_receipts(block.header.header.number).expect("receipts").expect("some");
        assert!(receipts[0].tx.is_deposit() && receipts[0].receipt.status());
        assert!(!receipts[1].receipt.status(), "the overdrawn deposit fails");
        assert_eq!(receipts[1].gas_used, 100_000, "a failed deposit uses its whole gas limit");
        assert!(receipts[2].receipt.status());
        assert_eq!(receipts[2].receipt.deposit_nonce(), Some(2));
        let created = depositor.create(2);
        assert_eq!(receipts[2].contract_address, Some(created));
        assert!(!receipts[3].tx.is_deposit(), "signed transactions come after the deposits");
        assert_eq!(receipts[0].effective_gas_price, 0, "deposits pay no L2 fee");
        assert_eq!(chain.state().balance(&bob), U256::from(eth + 7));
        assert_eq!(chain.state().balance(&depositor), U256::from(5 * eth)); // 6 minted, 1 sent
        assert_eq!(chain.state().nonce(&depositor), 3);
        assert_eq!(chain.state().code_of(&created), Bytes::from(vec![0x00]));
        (block.header.hash, block.header.header.state_root, created)
    };
    // After a restart the deposits decode from the store with their receipts.
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::open(dir.path()).expect("store"))
            .expect("reopen");
    assert_eq!(chain.head().hash, head);
    assert_eq!(chain.head().header.state_root, root);
    let txs = chain.block_txs(1).expect("txs");
    assert!(txs[..3].iter().all(|t| t.is_deposit()));
    let mined = chain.mined_tx(&txs[2].hash).expect("lookup").expect("found");
    assert_eq!(mined.index, 2);
    let receipt = chain.receipt(&txs[2].hash).expect("receipt").expect("found");
    assert_eq!(receipt.contract_address, Some(created));
    // A deposit can never come through the pool.
    let raw = txs[0].encoded.clone();
    assert!(chain.submit_raw(&raw).is_err());
}

#[test]
fn explicit_blocks_are_deterministic_and_skip_what_can_not_run() {
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let fee = 10_000_000_000;
    let good0 = transfer(&alice, 0, bob, 1, fee);
    let gap = transfer(&alice, 5, bob, 1, fee);
    let good1 = transfer(&alice, 1, bob, 1, fee);
    let decoded: Vec<std::sync::Arc<RecoveredTx>> = [&good0, &gap, &good1]
        .iter()
        .map(|raw| std::sync::Arc::new(RecoveredTx::decode(raw, CHAIN_ID).expect("decode")))
        .collect();
    let build = || {
        let mut chain = Chain::open(config(std::slice::from_ref(&alice)), Store::in_memory().expect("store"))
            .expect("open");
        let spec = BlockSpec {
            timestamp: Some(1_700_000_002),
            prevrandao: Some(alloy_primitives::B256::repeat_byte(9)),
            extra_data: Some(Bytes::from_static(b"epoch 7")),
            deposits: vec![deposit(1, bob, Some(bob), 1, 0, 21_000, Bytes::new())],
            txs: Some(decoded.clone()),
            l1_prices: None,
        };
        let block = chain.build_block_with(spec).expect("block");
        // the nonce-gapped one is left out and reported; the one after it (nonce 1) still runs
        assert_eq!(block.tx_hashes.len(), 3, "{:?}", block.dropped);
        assert_eq!(block.dropped.len(), 1);
        assert_eq!(block.dropped[0].0, decoded[1].hash);
        assert_eq!(block.header.header.timestamp, 1_700_000_002);
        assert_eq!(block.header.header.extra_data, Bytes::from_static(b"epoch 7"));
        // a timestamp not after the parent's is refused
        let err = chain
            .build_block_with(BlockSpec { timestamp: Some(1_700_000_002), ..Default::default() })
            .expect_err("same timestamp");
        assert!(matches!(err, ChainError::InvalidBlock(_)), "{err}");
        block.header
    };
    assert_eq!(build(), build(), "same inputs, same block");
}

#[test]
fn rollup_transactions_pay_the_l1_data_fee_to_the_vault() {
    use loft_chain::l1_fee::{L1FeeConfig, L1Prices, l1_fee};
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let vault = Address::repeat_byte(0xfe);
    let rule = L1FeeConfig { base_fee_scalar: 1_000_000, blob_base_fee_scalar: 0, vault };
    let mut cfg = config(std::slice::from_ref(&alice));
    cfg.l1_fee = Some(rule);
    let mut chain = Chain::open(cfg, Store::in_memory().expect("store")).expect("open");
    let prices = L1Prices { base_fee: 30_000_000_000, blob_base_fee: 1 };
    chain.set_l1_prices(prices);
    let raw = transfer(&alice, 0, bob, 5, 10_000_000_000);
    let fee = l1_fee(&rule, &prices, &raw);
    assert!(fee > U256::ZERO);
    assert_eq!(chain.l1_fee_of(&raw), fee);
    chain.submit_raw(&raw).expect("submit");
    let before = chain.state().balance(&alice.address());
    let block = chain.build_block().expect("block");
    let receipts = chain.block_receipts(block.header.header.number).expect("receipts").expect("some");
    let gas_cost = U256::from(receipts[0].gas_used) * U256::from(receipts[0].effective_gas_price);
    assert_eq!(chain.state().balance(&vault), fee);
    assert_eq!(chain.state().balance(&alice.address()), before - gas_cost - U256::from(5) - fee);

    // An account that can pay the gas but not the L1 fee is refused by the pool...
    let poor = signer(2);
    chain.set_balance(poor.address(), U256::from(21_000u64 * 10_000_000_000 + 1));
    let raw = transfer(&poor, 0, bob, 1, 10_000_000_000);
    assert!(matches!(chain.submit_raw(&raw), Err(ChainError::Tx(TxError::InsufficientFunds { .. }))));
    // ...and left out of a derived block, without being charged.
    let tx = std::sync::Arc::new(RecoveredTx::decode(&raw, CHAIN_ID).expect("decode"));
    let block =
        chain.build_block_with(BlockSpec { txs: Some(vec![tx]), ..Default::default() }).expect("block");
    assert!(block.tx_hashes.is_empty());
    assert_eq!(block.dropped.len(), 1);
    assert_eq!(chain.state().balance(&poor.address()), U256::from(21_000u64 * 10_000_000_000 + 1));
}

#[test]
fn storage_proofs_at_past_blocks_match_the_roots_of_their_time() {
    use loft_chain::state::storage_key;
    let alice = signer(1);
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::in_memory().expect("store")).expect("open");
    let contract = Address::repeat_byte(0xcc);
    let mut roots = Vec::new();
    for n in 1..=4u64 {
        chain.set_storage(contract, U256::from(n), U256::from(n * 10));
        if n == 3 {
            chain.set_storage(contract, U256::from(1), U256::ZERO); // cleared
        }
        let block = chain.build_block().expect("block");
        assert_eq!(block.header.header.number, n);
        roots.push(chain.prove(&contract, &[]).storage_root);
    }
    chain.set_storage(contract, U256::from(9), U256::from(9)); // pending, not in any block
    for n in 1..=4u64 {
        let (root, proofs) =
            chain.storage_proofs_at(&contract, &[U256::from(1), U256::from(2)], n).expect("proofs");
        assert_eq!(root, roots[n as usize - 1], "storage root at block {n}");
        for (slot, value, proof) in proofs {
            let expected = match (n, slot.to::<u64>()) {
                (1 | 2, 1) => U256::from(10),
                (_, 1) => U256::ZERO,
                (1, 2) => U256::ZERO,
                (_, 2) => U256::from(20),
                _ => unreachable!(),
            };
            assert_eq!(value, expected, "slot {slot} at block {n}");
            let value_hash = (!value.is_zero()).then(|| alloy_primitives::B256::from(value));
            assert!(proof.verify(&root, &storage_key(&slot), value_hash), "proof of slot {slot} at {n}");
        }
    }
    assert!(chain.storage_proofs_at(&contract, &[], 5).is_err(), "the future is refused");
}

#[test]
fn safe_and_finalized_follow_depth_or_forkchoice() {
    // An L1 (depth rule, as anvil): safe 32 and finalized 64 blocks below the head.
    let mut l1 = Chain::open(config(&[]), Store::in_memory().expect("store")).expect("open");
    for _ in 0..100 {
        l1.build_block().expect("block");
    }
    assert_eq!((l1.safe_number(), l1.finalized_number()), (68, 36));

    // A rollup (external rule): genesis until derivation says more; recorded durably.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(&[]);
    cfg.finality = Finality::External;
    {
        let mut l2 = Chain::open(cfg.clone(), Store::open(dir.path()).expect("store")).expect("open");
        for _ in 0..10 {
            l2.build_block().expect("block");
        }
        assert_eq!((l2.safe_number(), l2.finalized_number()), (0, 0));
        assert!(matches!(l2.set_forkchoice(11, 0), Err(ChainError::InvalidForkchoice { .. })), "past head");
        assert!(matches!(l2.set_forkchoice(4, 5), Err(ChainError::InvalidForkchoice { .. })), "past safe");
        l2.set_forkchoice(8, 5).expect("forkchoice");
        // finalized never moves back
        l2.set_forkchoice(9, 3).expect("forkchoice");
        assert_eq!((l2.safe_number(), l2.finalized_number()), (9, 5));
    }
    let mut l2 = Chain::open(cfg, Store::open(dir.path()).expect("store")).expect("reopen");
    assert_eq!((l2.safe_number(), l2.finalized_number()), (9, 5), "survives a restart");
    // a rewind below safe pulls the tags down with the head
    l2.rewind_to(7).expect("rewind");
    assert_eq!((l2.safe_number(), l2.finalized_number()), (7, 5));
    l2.build_block().expect("block");
    assert_eq!(l2.safe_number(), 7, "a new block 8 is not safe until derived again");
}

#[test]
fn the_pending_block_is_the_next_block_and_changes_nothing() {
    use loft_chain::{CallOutcome, CallRequest};
    let alice = signer(1);
    let bob = Address::repeat_byte(0xb0);
    let carol = Address::repeat_byte(0xc0);
    let mut chain =
        Chain::open(config(std::slice::from_ref(&alice)), Store::in_memory().expect("store")).expect("open");
    chain.build_block().expect("block 1");
    let root = chain.head().header.state_root;
    // an edit between blocks (anvil_setBalance) belongs to the next block
    chain.set_balance(bob, U256::from(5));
    for nonce in 0..3 {
        chain.submit_raw(&transfer(&alice, nonce, bob, 1000, 10_000_000_000)).expect("submit");
    }
    let pending = chain.pending_block().expect("pending");
    assert_eq!(pending.header.header.number, 2);
    assert_eq!(pending.header.header.parent_hash, chain.head().hash);
    assert_eq!(pending.txs.len(), 3);
    assert_eq!(pending.receipts.len(), 3);
    assert_eq!(pending.header.header.gas_used, 63_000);
    assert_ne!(pending.header.header.state_root, root);
    // nothing was kept
    assert_eq!(chain.head().header.number, 1);
    assert_eq!(chain.state().balance(&bob), U256::from(5));
    assert_eq!(chain.pool().len(), 3);
    // a call at `pending` sees the pool's transactions; at the head it does not
    let pay =
        CallRequest { from: Some(bob), to: Some(carol), value: Some(U256::from(3005)), ..Default::default() };
    assert!(matches!(chain.call(&pay, None), Ok(CallOutcome::Success { .. })));
    assert!(matches!(chain.call(&pay, Some(1)), Err(ChainError::Invalid(_))), "bob has 5 wei at the head");
    assert!(chain.estimate_gas(&pay, None).expect("estimate").is_ok());
    // what is mined next (at the same time) is the pending block, byte for byte
    let timestamp = Some(pending.header.header.timestamp);
    let mined = chain.build_block_with(BlockSpec { timestamp, ..Default::default() }).expect("block 2");
    assert_eq!(mined.header, pending.header);
    assert_eq!(chain.state().balance(&bob), U256::from(3005));

    // The pending state is kept between calls, and follows the pool and devnet edits.
    let pays = |chain: &Chain, wei: u64| {
        let call = CallRequest { value: Some(U256::from(wei)), ..pay.clone() };
        matches!(chain.call(&call, None), Ok(CallOutcome::Success { .. }))
    };
    assert!(pays(&chain, 3005) && !pays(&chain, 3006), "an empty pool: the head's state");
    chain.submit_raw(&transfer(&alice, 3, bob, 1000, 10_000_000_000)).expect("submit");
    assert!(pays(&chain, 4005) && !pays(&chain, 4006), "a new transaction in the pool");
    assert!(pays(&chain, 4005), "again, from the kept pending state");
    assert_eq!(chain.pending_block().expect("pending").txs.len(), 1);
    chain.submit_raw(&transfer(&alice, 4, bob, 1000, 10_000_000_000)).expect("submit");
    assert!(pays(&chain, 5005) && !pays(&chain, 5006), "another transaction in the pool");
    assert_eq!(
        chain.pending_block().expect("pending").txs.len(),
        2,
        "the kept pending block follows the pool"
    );
    chain.set_balance(bob, U256::from(10));
    assert!(pays(&chain, 2010) && !pays(&chain, 2011), "a devnet edit");
}
