//! Property tests: over random sequences of operations of every kind (valid or not: wrong
//! keys, replayed or future nonces, overdrafts, strangers' full exits, new and existing
//! recipients), the operator's block builder refuses an operation without changing anything,
//! and on every block it seals the shared rules, run natively, reach its new root and public
//! data, and the public data alone rebuilds the state; for a few random blocks the circuit
//! is satisfied too.

use ark_bn254::Fr;
use loft_zk::{
    block::{Block, BlockBuilder, BlockShape, Op},
    circuit::BlockCircuit,
    eddsa::SecretKey,
    ops::{ChangeKey, Deposit, FullExit, Transfer, Withdraw},
    state::{Address, Params, State},
};
use proptest::prelude::*;

const PARAMS: Params = Params { account_depth: 3, balance_depth: 1 };
const SHAPE: BlockShape = BlockShape { wide: 3, transfers: 3 };

fn address(i: u8) -> Address {
    [i + 1; 20]
}

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i + 1; 32])
}

/// Operator (account 0) and two users with keys and funds.
fn genesis() -> State {
    let mut s = State::new(PARAMS);
    s.create_account([0xf0; 20]).expect("operator");
    for i in 0..2u8 {
        let index = s.create_account(address(i)).expect("user");
        s.credit(index, 0, 5_000).expect("funds");
        s.set_pubkey(index, key(i).public()).expect("key");
    }
    s
}

/// (kind, user, other user, amount, fee, nonce offset, wrong signer, token)
type Spec = (u8, u8, u8, u128, u128, u64, bool, u64);

fn spec() -> impl Strategy<Value = Spec> {
    (0u8..5, 0u8..4, 0u8..4, 0u128..3_000, 0u128..40, 0u64..4, 0u8..5, 0u64..2)
        .prop_map(|(k, u, o, a, f, n, s, t)| (k, u, o, a, f, if n == 3 { 1 } else { 0 }, s == 4, t))
}

fn op(state: &State, (kind, user, other, amount, fee, nonce_off, wrong, token): Spec) -> Op {
    let index = state.index_of(&address(user)).unwrap_or(7);
    let nonce = state.account(index).map(|a| a.nonce).unwrap_or(0) + nonce_off;
    let signer = key(if wrong { user + 1 } else { user });
    match kind {
        0 => Op::Deposit(Deposit { to: address(other), token, amount }),
        1 => {
            let mut t = Transfer {
                from: index,
                to: address(other),
                token,
                amount,
                fee,
                nonce,
                signature: signer.sign(Fr::from(0u64)),
            };
            t.signature = signer.sign(t.message());
            Op::Transfer(t)
        }
        2 => {
            let mut w = Withdraw {
                account: index,
                token,
                amount,
                fee,
                nonce,
                to: [0xee; 20],
                signature: signer.sign(Fr::from(0u64)),
            };
            w.signature = signer.sign(w.message());
            Op::Withdraw(w)
        }
        3 => Op::FullExit(FullExit { account: index, token, owner: address(other) }),
        _ => Op::ChangeKey(ChangeKey {
            account: index,
            key: key(other).public(),
            nonce,
            fee_token: token,
            fee,
        }),
    }
}

/// Pushes the operations into blocks, sealing when a block can not take one; returns the
/// sealed blocks.
fn run(specs: Vec<Spec>) -> Result<Vec<Block>, TestCaseError> {
    let mut blocks = Vec::new();
    let mut builder = BlockBuilder::new(genesis(), SHAPE, 0);
    for s in specs {
        let o = op(builder.state(), s);
        let before = builder.state().root();
        match builder.push(o.clone()) {
            Ok(_) => {}
            Err(loft_zk::block::BlockError::Op(_)) => {
                prop_assert_eq!(builder.state().root(), before, "a refused operation changes nothing");
            }
            Err(_) => {
                prop_assert_eq!(builder.state().root(), before, "a deferred operation changes nothing");
                let (block, state) = builder.seal().map_err(|e| TestCaseError::fail(e.to_string()))?;
                blocks.push(block);
                builder = BlockBuilder::new(state, SHAPE, 0);
                let _ = builder.push(o);
            }
        }
    }
    if !builder.is_empty() {
        blocks.push(builder.seal().map_err(|e| TestCaseError::fail(e.to_string()))?.0);
    }
    Ok(blocks)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn operator_and_rules_agree(specs in prop::collection::vec(spec(), 1..16)) {
        let mut rebuilt = genesis();
        for block in run(specs)? {
            prop_assert_eq!(block.check_rules(), Ok(()), "the rules accept what the operator built");
            loft_zk::replay::apply_block(&mut rebuilt, SHAPE, 0, &block.pubdata)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(rebuilt.root(), block.new_root, "the public data alone rebuilds the state");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]
    #[test]
    fn the_circuit_agrees_on_random_blocks(specs in prop::collection::vec(spec(), 1..6)) {
        for block in run(specs)?.into_iter().take(1) {
            let (satisfied, _) = loft_zk::groth16::check(BlockCircuit::new(&block)).expect("synthesis");
            prop_assert!(satisfied, "the circuit accepts what the operator built");
        }
    }
}
