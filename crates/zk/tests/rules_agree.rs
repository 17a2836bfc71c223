//! Property tests: over random sequences of transfers (valid or not), the operator's checks
//! (`ops`) and the shared rules (`rules`, run natively) agree on every accepted transfer's new
//! root and public data, and a refused transfer changes nothing; for a few random blocks the
//! circuit agrees too.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use loft_zk::{
    circuit::{BlockCircuit, block_commitment, padded_pubdata},
    eddsa::SecretKey,
    ops::{Deposit, Transfer, TransferWitness},
    rules::{Native, TransferW, transfer},
    state::{Params, State},
};
use proptest::prelude::*;

const PARAMS: Params = Params { account_depth: 3, balance_depth: 1 };

fn native(w: &TransferWitness) -> TransferW<Native> {
    TransferW::from_witness(w).expect("amounts pack")
}

fn setup() -> (State, Vec<SecretKey>) {
    let mut state = State::new(PARAMS);
    let keys: Vec<SecretKey> = (1..=3u8).map(|i| SecretKey::from_bytes(&[i; 32])).collect();
    for (i, key) in keys.iter().enumerate() {
        state.apply_deposit(&Deposit { to: [i as u8 + 1; 20], token: 0, amount: 5_000 }).expect("deposit");
        state.set_pubkey(i as u64, key.public()).expect("key");
    }
    (state, keys)
}

/// (from, to, amount, fee, nonce offset, signer offset, token)
type Spec = (u64, u64, u128, u128, u64, usize, u64);

fn spec() -> impl Strategy<Value = Spec> {
    (0u64..4, 0u64..4, 0u128..3_000, 0u128..50, 0u64..3, 0usize..4, 0u64..2).prop_map(
        |(f, t, a, fee, n, s, tok)| {
            (f, t, a, fee, if n == 2 { 1 } else { 0 }, if s == 3 { 1 } else { 0 }, tok)
        },
    )
}

fn build(
    state: &State,
    keys: &[SecretKey],
    (from, to, amount, fee, nonce_off, signer_off, token): Spec,
) -> Transfer {
    let nonce = state.account(from).map(|a| a.nonce).unwrap_or(0) + nonce_off;
    let signer = &keys[(from as usize + signer_off) % keys.len()];
    let mut t = Transfer { from, to, token, amount, fee, nonce, signature: signer.sign(Fr::from(0u64)) };
    t.signature = signer.sign(t.message());
    t
}

fn bytes_of(fields: &[(Fr, usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (value, bits) in fields {
        let be = value.into_bigint().to_bytes_be();
        out.extend(&be[be.len() - bits / 8..]);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn operator_and_rules_agree(specs in prop::collection::vec(spec(), 1..8)) {
        let (mut state, keys) = setup();
        for s in specs {
            let t = build(&state, &keys, s);
            let before = state.root();
            match state.apply_transfer_witnessed(&t, 0) {
                Ok((data, w)) => {
                    let out = transfer(&Native, &before, &Fr::from(0u64), &native(&w));
                    let out = out.map_err(|e| TestCaseError::fail(format!("rules refuse what the operator took: {e}")))?;
                    prop_assert_eq!(out.root, state.root());
                    prop_assert_eq!(bytes_of(&out.pubdata), data);
                }
                Err(_) => prop_assert_eq!(state.root(), before, "a refused transfer changes nothing"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]
    #[test]
    fn the_circuit_agrees_on_random_blocks(specs in prop::collection::vec(spec(), 1..4)) {
        let (mut state, keys) = setup();
        let old_root = state.root();
        let mut pubdata = Vec::new();
        let mut witnesses = Vec::new();
        for s in specs {
            let t = build(&state, &keys, s);
            if let Ok((data, w)) = state.apply_transfer_witnessed(&t, 0) {
                pubdata.extend(data);
                witnesses.push(w);
            }
        }
        let slots = 3;
        let circuit = BlockCircuit {
            params: PARAMS,
            slots,
            fee_account: 0,
            old_root,
            commitment: block_commitment(&old_root, &state.root(), &padded_pubdata(&pubdata, slots)),
            transfers: Some(witnesses),
            filler: Some(state.account_witness(0, 0).expect("filler")),
        };
        let cs = ConstraintSystem::<Fr>::new_ref();
        circuit.generate_constraints(cs.clone()).expect("synthesis");
        prop_assert!(cs.is_satisfied().expect("checked"), "the circuit accepts what the operator built");
    }
}
