//! A malicious operator against the block circuit. The operator proves whatever witness it
//! likes, so the only question is whether the rules hold for it: here blocks are built by
//! hand, with free witnesses (slots claimed empty that are not, a second account for an
//! address, balances near 2^128, a nonce at 2^32, packed amounts with a second spelling or
//! exponent 31, ids past their public-data fields, fees paid to the wrong account, a
//! change-key's fee), and each is either refused by the rules (natively, and where it says so
//! by the circuit's constraints) or accepted, and then the exodus rebuild, which has only
//! the public data L1 received, must reach the same root and let every owner exit.
//! (The change-key fee is bound by L1: the circuit puts it in the public data, and L1 checks
//! the owner's signature over it; contracts/test/zk/ZkRollup.t.sol tests that half.)

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use loft_zk::{
    block::{
        Block, BlockBuilder, BlockShape, Op, PayoutWitness, TransferWitness, WideWitness, block_commitment,
    },
    circuit::{BlockCircuit, Constraints},
    eddsa::SecretKey,
    exit::{Exit, ExitCircuit},
    ops::{ChangeKey, Deposit, FullExit, Transfer, Withdraw, op_type},
    replay::apply_block,
    rules::{self, Broken, Native, PackedW, PayoutW, TransferW, WideW, Witness, bits_to_bytes},
    state::{Address, Params, State, address_to_fr},
    tree::SparseTree,
};

const PARAMS: Params = Params { account_depth: 4, balance_depth: 2 };
const SHAPE: BlockShape = BlockShape { wide: 3, transfers: 2 };
const OPERATOR: Address = [0xf0; 20];
const U1: Address = [1; 20];
const U2: Address = [2; 20];
const U3: Address = [3; 20];
const ETH: u64 = 0;

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i; 32])
}

fn seal(state: &State, ops: Vec<Op>) -> (Block, State) {
    let mut b = BlockBuilder::new(state.clone(), SHAPE, 0);
    for op in ops {
        b.push(op).expect("an honest operation");
    }
    b.seal().expect("seal")
}

/// The operator's account 0; U1 (account 1) and U2 (account 2) with keys and 1,000,000 wei.
fn base(params: Params) -> State {
    let mut genesis = State::new(params);
    genesis.create_account(OPERATOR).expect("fee account");
    let mut b = BlockBuilder::new(genesis, SHAPE, 0);
    for to in [U1, U2] {
        b.push(Op::Deposit(Deposit { to, token: ETH, amount: 1_000_000 })).expect("deposit");
    }
    b.push(Op::ChangeKey(ChangeKey { account: 1, key: key(1).public(), nonce: 0, fee_token: ETH, fee: 0 }))
        .expect("key");
    b.seal().expect("seal").1
}

fn transfer(from: u64, to: Address, amount: u128, fee: u128, nonce: u64) -> Transfer {
    let mut t = Transfer { from, to, token: ETH, amount, fee, nonce, signature: key(1).sign(Fr::from(0u64)) };
    t.signature = key(from as u8).sign(t.message());
    t
}

/// U1's withdrawal (account 1, nonce 1) to its own L1 address, signed.
fn withdraw(amount: u128, fee: u128) -> Withdraw {
    let mut w = Withdraw {
        account: 1,
        token: ETH,
        amount,
        fee,
        nonce: 1,
        to: U1,
        signature: key(1).sign(Fr::from(0u64)),
    };
    w.signature = key(1).sign(w.message());
    w
}

/// The rules over the block's witnesses, natively: the new root and public data, or the rule
/// the witness breaks.
fn rules_of(b: &Block) -> Result<(Fr, Vec<u8>), Broken> {
    let not_packable = |_| Broken("a witness amount does not pack");
    let wides = b
        .wides
        .iter()
        .map(|w| WideW::new(&Native, w))
        .collect::<Result<Vec<_>, _>>()
        .map_err(not_packable)?;
    let transfers = b
        .transfers
        .iter()
        .map(|(on, t)| TransferW::new(&Native, *on, t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(not_packable)?;
    let payout = PayoutW::new(&Native, &b.payout)?;
    let (root, bits) = rules::block(&Native, &b.old_root, b.fee_account, &wides, &transfers, &payout)?;
    Ok((root, bits_to_bytes(&bits)))
}

/// Whether the block circuit is satisfied by the witness with the commitment a cheating
/// prover would pick (the one to the rules' own root and public data, or the block's).
fn circuit_satisfied(b: &Block) -> bool {
    let (root, pubdata) = rules_of(b).unwrap_or((b.new_root, b.pubdata.clone()));
    let circuit = BlockCircuit {
        fee_account: b.fee_account,
        old_root: b.old_root,
        wides: b.wides.clone(),
        transfers: b.transfers.clone(),
        payout: b.payout.clone(),
        commitment: block_commitment(&b.old_root, &root, &pubdata),
    };
    loft_zk::groth16::check(circuit).expect("synthesis").0
}

fn assert_refused(b: &Block, rule: &str) {
    match rules_of(b) {
        Err(Broken(broken)) => {
            assert!(broken.contains(rule), "refused for \"{broken}\", expected \"{rule}\"")
        }
        Ok(_) => panic!("the rules accept a block that breaks \"{rule}\""),
    }
}

/// The block is accepted; the exodus rebuild, from `before` and the public data alone,
/// reaches the rules' root. Returns the rebuilt state.
fn accepted_and_rebuilt(before: &State, b: &Block) -> State {
    let (root, pubdata) = rules_of(b).expect("the rules accept it");
    let mut rebuilt = before.clone();
    apply_block(&mut rebuilt, b.shape, b.fee_account, &pubdata)
        .expect("the rebuild applies every accepted block");
    assert_eq!(rebuilt.root(), root, "the rebuild reaches the block's root");
    rebuilt
}

/// The fee payout's witness over the state the lanes left (fees in no token: the tampered
/// blocks here collect none), as `BlockBuilder::seal` builds it.
fn payout_over(after_lanes: &State) -> PayoutWitness {
    seal(after_lanes, vec![]).0.payout
}

/// An empty slot's witness at `index` (what a deposit opening an account there presents).
fn empty_slot(state: &State, index: u64) -> loft_zk::state::AccountWitness {
    let mut w = state.account_witness(index, ETH).expect("witness");
    let empty = State::new(state.params());
    let blank = empty.account_witness(index, ETH).expect("blank");
    w.address = blank.address;
    w.key_hash = blank.key_hash;
    w.nonce = 0;
    w.balance_root = blank.balance_root;
    w.balance = 0;
    w.balance_path = blank.balance_path;
    w
}

#[test]
fn a_slot_that_holds_an_account_can_not_be_claimed_empty() {
    let s = base(PARAMS);
    // a deposit for a new address, opened over U1's account 1 (wiping it)
    let (mut b, _) = seal(&s, vec![Op::Deposit(Deposit { to: U3, token: ETH, amount: 5 })]);
    b.wides[0].a = empty_slot(&s, 1);
    assert_refused(&b, "the account is in the state");
    assert!(!circuit_satisfied(&b));
    // U1's full exit served as "no such account" (amount 0) although account 1 is U1's
    let (mut b, _) = seal(&s, vec![Op::FullExit(FullExit { account: 1, token: ETH, owner: U1 })]);
    b.wides[0].a = empty_slot(&s, 1);
    b.wides[0].a_empty = true;
    assert_refused(&b, "the account is in the state");
}

#[test]
fn a_second_account_for_an_address_is_rebuilt_and_exits() {
    for params in [PARAMS, Params { account_depth: 24, balance_depth: 3 }] {
        let s = base(params);
        // a deposit for U1, which has account 1, opened in the empty slot 5 instead
        let (mut b, _) = seal(&s, vec![Op::Deposit(Deposit { to: U1, token: ETH, amount: 777 })]);
        b.wides[0].a = empty_slot(&s, 5);
        b.wides[0].a_empty = true;
        let mut lanes = s.clone();
        lanes.create_account_at(5, U1).expect("slot 5");
        lanes.credit(5, ETH, 777).expect("credit");
        b.payout = payout_over(&lanes);
        let rebuilt = accepted_and_rebuilt(&s, &b);
        assert_eq!(rebuilt.indices_of(&U1), vec![1, 5]);
        // a transfer to U2's address, put in a new account 6 although U2 has account 2
        let t = transfer(1, U2, 1_000, 0, 1);
        let (honest, _) = seal(&rebuilt, vec![Op::Transfer(t.clone())]);
        assert!(honest.transfers[0].0, "honestly, it goes to U2's account in the transfer lane");
        let mut state = rebuilt.clone();
        let sender = state.account_witness(1, ETH).expect("sender");
        state.debit(1, ETH, 1_000).expect("debit");
        state.bump_nonce(1).expect("nonce");
        let recipient = empty_slot(&state, 6);
        let mut b2 = honest.clone();
        b2.wides[0] = WideWitness {
            kind: op_type::TRANSFER_TO_NEW,
            a: sender,
            b: recipient,
            packed_amount: t.amount,
            fee: 0,
            address: U2,
            nonce: 1,
            signature: t.signature,
            ..WideWitness::noop(&honest.wides[1].a)
        };
        b2.transfers[0].0 = false;
        let payout_state = {
            let mut p = state.clone();
            p.create_account_at(6, U2).expect("slot 6");
            p.credit(6, ETH, 1_000).expect("credit");
            p
        };
        b2.payout = payout_over(&payout_state);
        let rebuilt2 = accepted_and_rebuilt(&rebuilt, &b2);
        assert_eq!(rebuilt2.indices_of(&U2), vec![2, 6]);
        // each account of U1 and U2 exits with its own balance under the rebuilt root
        for (index, amount) in [(1, 1_000_000 - 1_000), (5, 777), (2, 1_000_000), (6, 1_000)] {
            let exit = Exit::new(&rebuilt2, index, ETH).expect("exit");
            assert_eq!(exit.amount, amount);
            if params == PARAMS {
                let cs = ConstraintSystem::<Fr>::new_ref();
                ExitCircuit::new(&exit).generate_constraints(cs.clone()).expect("synthesis");
                assert!(cs.is_satisfied().expect("checked"), "account {index} proves its exit");
            }
        }
    }
}

#[test]
fn balances_stay_below_2_pow_128() {
    let s = base(PARAMS);
    // a deposit that would take U1's balance past 2^128
    let (mut b, _) = seal(&s, vec![Op::Deposit(Deposit { to: U1, token: ETH, amount: 1 })]);
    b.wides[0].amount = u128::MAX;
    assert_refused(&b, "stays below 2^128");
    // a transfer (signed for the amount) to an account already near 2^128
    let (_, rich) = seal(&s, vec![Op::Deposit(Deposit { to: U3, token: ETH, amount: u128::MAX - 5 })]);
    let (mut b, _) = seal(&rich, vec![Op::Transfer(transfer(1, U3, 5, 0, 1))]);
    let t = transfer(1, U3, 10, 0, 1);
    b.transfers[0].1.transfer = t;
    assert_refused(&b, "the recipient's balance stays below 2^128");
    assert!(!circuit_satisfied(&b));
    // a withdrawal of more than the balance
    let mut w = withdraw(10, 0);
    let (mut b, _) = seal(&s, vec![Op::Withdraw(w.clone())]);
    w.amount = 1_000_001;
    w.signature = key(1).sign(w.message());
    b.wides[0].amount = w.amount;
    b.wides[0].signature = w.signature;
    assert_refused(&b, "the balance covers what leaves it");
}

/// The transfer slot of `b` with its amount spelled `mantissa · 10^exponent` (35 + 5 bits).
fn respelled<A: Witness>(a: &A, w: &TransferWitness, mantissa: u64, exponent: u64) -> TransferW<A> {
    let mut t = TransferW::new(a, true, w).map_err(|_| "witness").expect("witness");
    t.amount = PackedW {
        mantissa: (0..35)
            .map(|i| a.w_bool((mantissa >> i) & 1 == 1))
            .collect::<Result<_, _>>()
            .map_err(|_| "bit")
            .expect("bits"),
        exponent: (0..5)
            .map(|i| a.w_bool((exponent >> i) & 1 == 1))
            .collect::<Result<_, _>>()
            .map_err(|_| "bit")
            .expect("bits"),
    };
    t
}

#[test]
fn a_packed_amount_has_one_spelling() {
    let s = base(PARAMS);
    // U1 signs a transfer of 10; the operator spells it 1·10^1 instead of 10·10^0
    let (b, _) = seal(&s, vec![Op::Transfer(transfer(1, U2, 10, 0, 1))]);
    let w = &b.transfers[0].1;
    let root = b.old_root;
    assert!(rules::transfer(&Native, &root, &respelled(&Native, w, 10, 0)).is_ok(), "the honest spelling");
    for (mantissa, exponent) in [(1, 1), (0, 3), (1, 31)] {
        let broken = rules::transfer(&Native, &root, &respelled(&Native, w, mantissa, exponent)).err();
        assert_eq!(broken, Some(Broken("a packed amount has one encoding (the smallest exponent)")));
    }
    // the same in the constraints
    for (mantissa, exponent, ok) in [(10, 0, true), (1, 1, false)] {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = Constraints { cs: cs.clone() };
        let root = a.w_f(root).expect("root");
        rules::transfer(&a, &root, &respelled(&a, w, mantissa, exponent)).expect("synthesis");
        assert_eq!(cs.is_satisfied().expect("checked"), ok, "{mantissa}·10^{exponent}");
    }
    // exponent 31 in its one spelling is past any balance
    let least = ((1u64 << 35) - 1) / 10 + 1;
    let broken = rules::transfer(&Native, &root, &respelled(&Native, w, least, 31)).err().map(|b| b.0);
    assert!(broken.is_some_and(|r| r.contains("signed") || r.contains("covers")), "{broken:?}");
}

#[test]
fn a_nonce_past_32_bits_can_not_change_a_key() {
    // an account whose nonce reached 2^32 (built by hand: 4 billion operations are many)
    let params = PARAMS;
    let mut balances = SparseTree::new(params.balance_depth);
    balances.set(ETH, Fr::from(100u64)).expect("balance");
    let nonce = 1u64 << 32;
    let leaf = rules::account_leaf(
        &Native,
        &address_to_fr(&U1),
        &Fr::from(0u64),
        &Fr::from(nonce),
        &balances.root(),
    )
    .expect("leaf");
    let mut accounts = SparseTree::new(params.account_depth);
    accounts.set(1, leaf).expect("account");
    let filler = State::new(params).account_witness(0, ETH).expect("filler");
    let witness = loft_zk::state::AccountWitness {
        address: address_to_fr(&U1),
        key: filler.key,
        key_hash: Fr::from(0u64),
        nonce,
        balance_root: balances.root(),
        balance: 100,
        balance_path: balances.path(ETH).expect("path"),
        account_path: accounts.path(1).expect("path"),
    };
    let change = WideWitness {
        kind: op_type::CHANGE_KEY,
        address: U1,
        nonce,
        new_key: key(9).public(),
        ..WideWitness::noop(&witness)
    };
    let slot = WideW::new(&Native, &change).map_err(|_| "witness").expect("witness");
    let broken = rules::wide(&Native, &accounts.root(), &slot).err();
    assert_eq!(broken, Some(Broken("the nonce fits 32 bits")));
    // one below, it goes through
    let mut ok = change.clone();
    ok.nonce = nonce - 1;
    ok.a.nonce = nonce - 1;
    let leaf = rules::account_leaf(
        &Native,
        &address_to_fr(&U1),
        &Fr::from(0u64),
        &Fr::from(nonce - 1),
        &balances.root(),
    )
    .expect("leaf");
    accounts.set(1, leaf).expect("account");
    ok.a.account_path = accounts.path(1).expect("path");
    let slot = WideW::new(&Native, &ok).map_err(|_| "witness").expect("witness");
    assert!(rules::wide(&Native, &accounts.root(), &slot).is_ok());
}

#[test]
fn ids_past_their_public_data_fields_are_refused_not_cut() {
    // a tree deeper than the 24-bit account field: account 2^24 + 1 would read as account 1
    let params = Params { account_depth: 26, balance_depth: 2 };
    let s = base(params);
    let index = (1u64 << 24) + 1;
    let (mut b, _) = seal(&s, vec![Op::Deposit(Deposit { to: U3, token: ETH, amount: 5 })]);
    let honest_payout = b.payout.clone();
    b.wides[0].a = empty_slot(&s, index);
    let mut lanes = s.clone();
    lanes.create_account_at(index, U3).expect("slot");
    lanes.credit(index, ETH, 5).expect("credit");
    b.payout = payout_over(&lanes);
    assert_refused(&b, "an id fits its field of the public data");
    // within the field, the same deposit is fine
    b.wides[0].a = empty_slot(&s, 3);
    b.payout = honest_payout;
    assert!(rules_of(&b).is_ok());
}

#[test]
fn fees_go_to_the_operators_account_only() {
    let s = base(PARAMS);
    let (mut b, _) = seal(&s, vec![Op::Transfer(transfer(1, U2, 100, 7, 1))]);
    assert!(rules_of(&b).is_ok());
    let after = {
        let mut t = s.clone();
        t.debit(1, ETH, 107).expect("debit");
        t.bump_nonce(1).expect("nonce");
        t.credit(2, ETH, 100).expect("credit");
        t
    };
    b.payout.account = after.account_witness(2, ETH).expect("U2");
    b.payout.balances[0] = after.balance(2, ETH);
    b.payout.siblings[0] = after.balance_path(2, ETH).expect("path").siblings;
    assert_refused(&b, "the fees go to the operator's account");
}

#[test]
fn a_change_key_fee_is_whatever_the_public_data_says_and_l1_checks_it() {
    let s = base(PARAMS);
    // the operator takes almost all of U2's balance as the fee: the circuit has nothing to
    // check it against (the owner signed on L1), so it must reach the public data where L1
    // reads it for the signed digest: fee token at byte 60, the packed fee at 61..63
    let greedy = ChangeKey { account: 2, key: key(2).public(), nonce: 0, fee_token: ETH, fee: 999_000 };
    let (b, _) = seal(&s, vec![Op::ChangeKey(greedy)]);
    let (_, pubdata) = rules_of(&b).expect("the circuit takes the fee it is given");
    assert_eq!(pubdata[0], op_type::CHANGE_KEY);
    assert_eq!(pubdata[60], ETH as u8);
    let packed = loft_zk::amount::FEE.pack(999_000).expect("packs");
    assert_eq!(&pubdata[61..63], &(packed as u16).to_be_bytes());
    accepted_and_rebuilt(&s, &b);
}

/// Two honest blocks over `base`: every kind of operation, both lanes.
fn honest_blocks(s: &State) -> Vec<Block> {
    let w = withdraw(10, 1);
    vec![
        seal(
            s,
            vec![
                Op::Deposit(Deposit { to: U3, token: ETH, amount: 5 }),
                Op::ChangeKey(ChangeKey {
                    account: 2,
                    key: key(2).public(),
                    nonce: 0,
                    fee_token: ETH,
                    fee: 20,
                }),
                Op::Transfer(transfer(1, [4; 20], 100, 1, 1)),
                Op::Transfer(transfer(1, U2, 50, 2, 2)),
            ],
        )
        .0,
        seal(
            s,
            vec![
                Op::FullExit(FullExit { account: 2, token: ETH, owner: U2 }),
                Op::Withdraw(w),
                Op::FullExit(FullExit { account: 1, token: ETH, owner: U3 }),
                Op::Transfer(transfer(1, U2, 5, 0, 2)),
            ],
        )
        .0,
    ]
}

/// One free change to a slot's witness, as a malicious operator would make it.
fn tamper(s: &State, b: &mut Block, slot: usize, field: u8, value: u128, byte: u8) {
    let any_account = s.account_witness((value % 16) as u64, ETH).expect("witness");
    let packable = loft_zk::amount::FEE.unpack((value % (1 << 16)) as u64).unwrap_or(0);
    if slot < b.wides.len() {
        let w = &mut b.wides[slot];
        match field {
            0 => w.amount = value,
            1 => w.fee = packable,
            2 => w.address[(value % 20) as usize] ^= byte.max(1),
            3 => w.a_empty = !w.a_empty,
            4 => w.kind = (value % 8) as u8,
            5 => w.nonce = (value % 4) as u64,
            6 => w.a = any_account,
            7 => w.b = any_account,
            8 => w.packed_amount = packable,
            _ => w.new_key = key(byte).public(),
        }
    } else {
        let (on, t) = &mut b.transfers[slot - b.wides.len()];
        match field {
            0 => t.transfer.amount = packable,
            1 => t.transfer.fee = packable,
            2 => t.transfer.to[(value % 20) as usize] ^= byte.max(1),
            3 => *on = !*on,
            4 => t.recipient = any_account,
            5 => t.transfer.nonce = (value % 4) as u64,
            6 => t.sender = any_account,
            _ => t.transfer.token = (value % 4) as u64,
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Whatever one field of a witness is changed to, the block is refused, or it is
    /// accepted and the exodus rebuild reaches its root from its public data alone.
    #[test]
    fn every_accepted_tampered_block_rebuilds(
        which in 0usize..2,
        slot in 0usize..5,
        field in 0u8..10,
        value in proptest::prelude::any::<u128>(),
        byte in proptest::prelude::any::<u8>(),
    ) {
        let s = base(PARAMS);
        let mut b = honest_blocks(&s).swap_remove(which);
        tamper(&s, &mut b, slot, field, value, byte);
        if let Ok((root, pubdata)) = rules_of(&b) {
            let mut rebuilt = s.clone();
            let applied = apply_block(&mut rebuilt, b.shape, b.fee_account, &pubdata);
            proptest::prop_assert!(applied.is_ok(), "accepted but not rebuilt: {applied:?}");
            proptest::prop_assert_eq!(rebuilt.root(), root);
        }
    }
}

#[test]
fn the_honest_blocks_the_tampering_starts_from_are_accepted_and_rebuilt() {
    let s = base(PARAMS);
    for b in honest_blocks(&s) {
        assert_eq!(rules_of(&b).expect("accepted").0, b.new_root);
        accepted_and_rebuilt(&s, &b);
    }
}
