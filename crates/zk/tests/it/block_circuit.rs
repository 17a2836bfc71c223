//! The block circuit against the native operator: for blocks with every kind of operation
//! (deposits opening accounts, change-key, transfers to existing and to new accounts,
//! withdrawals, full exits by the owner and by someone else), the rules run natively reach
//! the block's root and public data, the circuit is satisfied with the commitment to them,
//! and it is not satisfied when the new root, the public data or a signature is tampered
//! with. A small block is proven and verified with Groth16.

use ark_bn254::Fr;
use loft_zk::{
    block::{Block, BlockBuilder, BlockError, BlockShape, Op, block_commitment},
    circuit::BlockCircuit,
    eddsa::SecretKey,
    groth16,
    ops::{ChangeKey, Deposit, FullExit, Transfer, Withdraw},
    state::{Address, Params, State},
};

const PARAMS: Params = Params { account_depth: 4, balance_depth: 2 };
const OPERATOR: Address = [0xf0; 20];
const U1: Address = [1; 20];
const U2: Address = [2; 20];
const U3: Address = [3; 20];

fn genesis() -> State {
    let mut s = State::new(PARAMS);
    s.create_account(OPERATOR).expect("the operator's fee account");
    s
}

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i; 32])
}

fn transfer(k: &SecretKey, from: u64, to: Address, amount: u128, fee: u128, nonce: u64) -> Op {
    let mut t = Transfer { from, to, token: 0, amount, fee, nonce, signature: k.sign(Fr::from(0u64)) };
    t.signature = k.sign(t.message());
    Op::Transfer(t)
}

fn withdraw(k: &SecretKey, account: u64, amount: u128, fee: u128, nonce: u64) -> Op {
    let mut w =
        Withdraw { account, token: 0, amount, fee, nonce, to: [0xee; 20], signature: k.sign(Fr::from(0u64)) };
    w.signature = k.sign(w.message());
    Op::Withdraw(w)
}

const SHAPE: BlockShape = BlockShape { wide: 4, transfers: 2 };

/// Block 1: two deposits open accounts 1 and 2, both set keys, then a transfer between them.
/// Block 2: a transfer to a new address, a withdrawal, a full exit by a stranger (moves
/// nothing) and by the owner, and a transfer.
fn blocks() -> (Block, Block, State) {
    let mut b = BlockBuilder::new(genesis(), SHAPE, 0);
    for op in [
        Op::Deposit(Deposit { to: U1, token: 0, amount: 1_000_000 }),
        Op::Deposit(Deposit { to: U2, token: 0, amount: 500_000 }),
        Op::ChangeKey(ChangeKey { account: 1, key: key(1).public(), nonce: 0, fee_token: 0, fee: 10 }),
        Op::ChangeKey(ChangeKey { account: 2, key: key(2).public(), nonce: 0, fee_token: 0, fee: 0 }),
        transfer(&key(1), 1, U2, 5_000, 10, 1),
    ] {
        b.push(op).expect("block 1 takes it");
    }
    assert_eq!(
        b.push(Op::Deposit(Deposit { to: U3, token: 0, amount: 1 })),
        Err(BlockError::Full("wide")),
        "the wide lane is full"
    );
    let (one, state) = b.seal().expect("seal 1");
    let mut b = BlockBuilder::new(state, SHAPE, 0);
    for op in [
        transfer(&key(2), 2, U3, 700, 3, 1),
        withdraw(&key(1), 1, 400, 1, 2),
        Op::FullExit(FullExit { account: 2, token: 0, owner: U1 }),
        transfer(&key(1), 1, U2, 2_000, 2, 3),
    ] {
        b.push(op).expect("block 2 takes it");
    }
    b.push(transfer(&key(2), 2, U1, 3_000, 0, 2)).expect("the last transfer slot");
    // the owner's full exit would come before the transfer lane, where account 2 pays 3,000 it
    // would no longer have: it waits for the next block
    assert_eq!(
        b.push(Op::FullExit(FullExit { account: 2, token: 0, owner: U2 })),
        Err(BlockError::LaneOrder)
    );
    let (two, state) = b.seal().expect("seal 2");
    (one, two, state)
}

fn satisfied(c: BlockCircuit) -> (bool, usize) {
    groth16::check(c).expect("synthesis")
}

#[test]
fn the_circuit_accepts_the_operators_blocks_and_nothing_else() {
    let (one, two, state) = blocks();
    // balances: fees paid to the operator at the end of each block
    assert_eq!(state.balance(0, 0), 10 + 10 + 3 + 1 + 2);
    assert_eq!(state.balance(1, 0), 1_000_000 - 10 - 5_010 - 401 - 2_002 + 3_000);
    assert_eq!(state.balance(2, 0), 500_000 + 5_000 - 703 + 2_000 - 3_000);
    assert_eq!(state.balance(3, 0), 700);
    // the public data alone rebuilds the state, block by block
    let mut rebuilt = genesis();
    for b in [&one, &two] {
        loft_zk::replay::apply_block(&mut rebuilt, SHAPE, 0, &b.pubdata).expect("replay");
        assert_eq!(rebuilt.root(), b.new_root, "the public data says everything the block changed");
    }
    assert_eq!(two.pubdata[2 * 64], 5, "the stranger's full exit is served");
    assert_eq!(&two.pubdata[2 * 64 + 5..2 * 64 + 21], &[0u8; 16], "and moves nothing");
    for b in [&one, &two] {
        assert_eq!(b.pubdata.len(), 4 * 64 + 2 * 15);
        b.check_rules().expect("the native rules agree with the operator");
        let (ok, constraints) = satisfied(BlockCircuit::new(b));
        assert!(ok, "the operator's block satisfies the circuit");
        println!("4 wide + 2 transfer slots: {constraints} constraints");
    }

    // a wrong new root, altered public data (wide and transfer lane): not satisfied
    let wrong_root = BlockCircuit {
        commitment: block_commitment(&two.old_root, &(two.new_root + Fr::from(1u64)), &two.pubdata),
        ..BlockCircuit::new(&two)
    };
    assert!(!satisfied(wrong_root).0);
    for byte in [20, 64 + 9, 4 * 64 + 9] {
        let mut altered = two.pubdata.clone();
        altered[byte] ^= 1;
        let c = BlockCircuit {
            commitment: block_commitment(&two.old_root, &two.new_root, &altered),
            ..BlockCircuit::new(&two)
        };
        assert!(!satisfied(c).0, "byte {byte} altered");
    }
    // forged signatures in witnesses: a transfer, a transfer to a new account, a withdrawal
    let mut forged = BlockCircuit::new(&two);
    forged.transfers[0].1.transfer.signature = key(9).sign(Fr::from(1u64));
    assert!(!satisfied(forged).0);
    for slot in [0, 1] {
        let mut forged = BlockCircuit::new(&two);
        forged.wides[slot].signature = key(9).sign(Fr::from(1u64));
        assert!(!satisfied(forged).0, "wide slot {slot}");
    }
    // a full exit that claims the stranger owns the account, a deposit to another address
    let mut stolen = BlockCircuit::new(&two);
    stolen.wides[2].a.address += Fr::from(1u64);
    assert!(!satisfied(stolen).0);
    let mut redirected = BlockCircuit::new(&one);
    redirected.wides[0].address = U3;
    assert!(!satisfied(redirected).0);
}

#[test]
fn a_block_is_proven_and_verified() {
    let shape = BlockShape { wide: 1, transfers: 1 };
    let mut b = BlockBuilder::new(genesis(), shape, 0);
    b.push(Op::Deposit(Deposit { to: U1, token: 1, amount: 77 })).expect("deposit");
    let (block, _) = b.seal().expect("seal");
    let keys = groth16::deterministic_setup(BlockCircuit::blank(PARAMS, shape, 0).expect("blank"), [7; 32])
        .expect("setup");
    let c = BlockCircuit::new(&block);
    let commitment = c.commitment;
    let proof = groth16::prove(&keys, c, [8; 32]).expect("prove");
    assert!(groth16::verify(&keys, &[commitment], &proof));
    let other = block_commitment(&block.old_root, &block.old_root, &block.pubdata);
    assert!(!groth16::verify(&keys, &[other], &proof), "the proof is for this block's commitment only");
}
