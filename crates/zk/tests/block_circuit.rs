//! The block circuit against the native operator: for the same transfers, the rules run
//! natively reach the state's roots and public data, the circuit is satisfied with the
//! commitment to them, and it is not satisfied when the new root, the public data or a
//! signature is tampered with. A small block is proven and verified with Groth16.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use loft_zk::{
    circuit::{BlockCircuit, block_commitment, padded_pubdata},
    eddsa::SecretKey,
    groth16,
    ops::{Deposit, Transfer, TransferWitness},
    rules::{Native, TransferW, transfer},
    state::{Params, State},
};

const PARAMS: Params = Params { account_depth: 4, balance_depth: 2 };
const FEE_ACCOUNT: u64 = 0;

struct Block {
    roots: Vec<Fr>,
    old_root: Fr,
    new_root: Fr,
    pubdata: Vec<u8>,
    witnesses: Vec<TransferWitness>,
    state: State,
}

fn signed(key: &SecretKey, from: u64, to: u64, amount: u128, fee: u128, nonce: u64) -> Transfer {
    let mut t = Transfer { from, to, token: 0, amount, fee, nonce, signature: key.sign(Fr::from(0u64)) };
    t.signature = key.sign(t.message());
    t
}

fn block() -> Block {
    let mut state = State::new(PARAMS);
    let keys =
        [SecretKey::from_bytes(&[1; 32]), SecretKey::from_bytes(&[2; 32]), SecretKey::from_bytes(&[3; 32])];
    for (i, key) in keys.iter().enumerate() {
        let address = [i as u8 + 1; 20];
        state.apply_deposit(&Deposit { to: address, token: 0, amount: 1_000_000 }).expect("deposit");
        state.set_pubkey(i as u64, key.public()).expect("key");
    }
    let old_root = state.root();
    let mut pubdata = Vec::new();
    let mut witnesses = Vec::new();
    let mut roots = vec![old_root];
    for t in [signed(&keys[1], 1, 2, 5_000, 10, 0), signed(&keys[2], 2, 1, 700, 3, 0)] {
        let before = state.root();
        let (data, w) = state.apply_transfer_witnessed(&t, FEE_ACCOUNT).expect("transfer");
        // the rules, run natively, reach the state's root and public data
        let out = transfer(&Native, &before, &Fr::from(FEE_ACCOUNT), &native(&w)).expect("rules hold");
        assert_eq!(out.root, state.root(), "native rules and state agree");
        let mut bytes: Vec<u8> = Vec::new();
        for (value, bits) in out.pubdata {
            let be = ark_ff::BigInteger::to_bytes_be(&ark_ff::PrimeField::into_bigint(value));
            bytes.extend(&be[be.len() - bits / 8..]);
        }
        assert_eq!(bytes, data, "public data agrees");
        pubdata.extend(data);
        witnesses.push(w);
        roots.push(state.root());
    }
    Block { roots, old_root, new_root: state.root(), pubdata, witnesses, state }
}

fn native(w: &TransferWitness) -> TransferW<Native> {
    TransferW::from_witness(w).expect("amounts pack")
}

fn circuit(
    b: &Block,
    slots: usize,
    new_root: Fr,
    pubdata: &[u8],
    witnesses: Vec<TransferWitness>,
) -> BlockCircuit {
    BlockCircuit {
        params: PARAMS,
        slots,
        fee_account: FEE_ACCOUNT,
        old_root: b.old_root,
        transfers: Some(witnesses),
        filler: Some(b.state.account_witness(0, 0).expect("filler")),
        commitment: block_commitment(&b.old_root, &new_root, &padded_pubdata(pubdata, slots)),
    }
}

fn satisfied(c: BlockCircuit) -> (bool, usize) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    c.generate_constraints(cs.clone()).expect("synthesis");
    (cs.is_satisfied().expect("checked"), cs.num_constraints())
}

#[test]
fn the_circuit_accepts_the_operators_block_and_nothing_else() {
    let b = block();
    let (ok, constraints) = satisfied(circuit(&b, 3, b.new_root, &b.pubdata, b.witnesses.clone()));
    assert!(ok, "the operator's block satisfies the circuit");
    println!("3 transfer slots: {constraints} constraints ({} per slot, sha256 included)", constraints / 3);

    // a wrong new root, altered public data, a forged signature: not satisfied
    assert!(!satisfied(circuit(&b, 3, b.new_root + Fr::from(1u64), &b.pubdata, b.witnesses.clone())).0);
    let mut altered = b.pubdata.clone();
    altered[9] ^= 1; // the first transfer's amount
    assert!(!satisfied(circuit(&b, 3, b.new_root, &altered, b.witnesses.clone())).0);
    let mut forged = b.witnesses.clone();
    forged[0].transfer.signature = SecretKey::from_bytes(&[9; 32]).sign(forged[0].transfer.message());
    assert!(!satisfied(circuit(&b, 3, b.new_root, &b.pubdata, forged)).0);
}

#[test]
fn a_block_is_proven_and_verified() {
    let b = block();
    // blocks of several sizes, full or padded with no-ops (the commitment's digest is reduced
    // mod r whether or not it is below r)
    for (slots, n) in [(1usize, 1usize), (2, 1), (2, 2), (3, 1)] {
        let c = circuit(&b, slots, b.roots[n], &b.pubdata[..15 * n], b.witnesses[..n].to_vec());
        assert!(satisfied(c).0, "{n} transfers in {slots} slots");
    }
    let shape = BlockCircuit {
        transfers: None,
        filler: None,
        commitment: Fr::from(0u64),
        ..circuit(&b, 2, b.new_root, &b.pubdata, vec![])
    };
    let keys = groth16::deterministic_setup(shape, [7; 32]).expect("setup");
    let c = circuit(&b, 2, b.new_root, &b.pubdata, b.witnesses.clone());
    let commitment = c.commitment;
    let proof = groth16::prove(&keys, c, [8; 32]).expect("prove");
    assert!(groth16::verify(&keys, &[commitment], &proof));
    let other = block_commitment(&b.old_root, &b.old_root, &padded_pubdata(&b.pubdata, 2));
    assert!(!groth16::verify(&keys, &[other], &proof), "the proof is for this block's commitment only");
}
