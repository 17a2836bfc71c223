//! The exit circuit of exodus mode: when the operator stops, a user proves to L1 that under
//! the last executed root account `account`, owned by `owner`, holds exactly `amount` of
//! `token`, and L1 pays it out once. A SNARK rather than a Merkle proof checked on-chain: L1
//! has no cheap Poseidon, and the proof costs the same ~200,000 gas at any tree depth.
//!
//! Public input: `sha256(root ‖ account u24 ‖ token u8 ‖ amount u128 ‖ owner) mod r` (72
//! bytes hashed), so L1 builds it with one `sha256` call from the values it pays out.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar, uint8::UInt8};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use sha2::{Digest, Sha256};

use crate::{
    circuit::{Constraints, enforce_sha256_mod_r},
    rules::{ACCOUNT_BITS, AccountW, Arith, TOKEN_BITS, Witness, account_leaf, path_root},
    state::{AccountWitness, Address, Params, State, StateError},
};

/// The public input of an exit.
pub fn exit_commitment(root: &Fr, account: u64, token: u64, amount: u128, owner: &Address) -> Fr {
    let mut h = Sha256::new();
    h.update(root.into_bigint().to_bytes_be());
    h.update(&account.to_be_bytes()[5..]);
    h.update([token as u8]);
    h.update(amount.to_be_bytes());
    h.update(owner);
    Fr::from_be_bytes_mod_order(&h.finalize())
}

/// What an exit proves, natively.
#[derive(Clone, Debug)]
pub struct Exit {
    /// The root the exit is against.
    pub root: Fr,
    /// The account, with the balance of the token and both paths.
    pub account: AccountWitness,
    /// The account's index.
    pub index: u64,
    /// The token.
    pub token: u64,
    /// The balance.
    pub amount: u128,
    /// The account's address.
    pub owner: Address,
}

impl Exit {
    /// The exit of `token` from account `index` of `state`.
    pub fn new(state: &State, index: u64, token: u64) -> Result<Self, StateError> {
        let owner = state.account(index)?.address;
        Ok(Self {
            root: state.root(),
            account: state.account_witness(index, token)?,
            index,
            token,
            amount: state.balance(index, token),
            owner,
        })
    }

    /// The public input.
    pub fn commitment(&self) -> Fr {
        exit_commitment(&self.root, self.index, self.token, self.amount, &self.owner)
    }
}

/// The exit circuit: one account's balance under a root.
#[derive(Clone)]
pub struct ExitCircuit {
    /// The root.
    pub root: Fr,
    /// The account's witness.
    pub account: AccountWitness,
    /// The public input.
    pub commitment: Fr,
}

impl ExitCircuit {
    /// The circuit of an exit.
    pub fn new(exit: &Exit) -> Self {
        Self { root: exit.root, account: exit.account.clone(), commitment: exit.commitment() }
    }

    /// The circuit's shape for the setup.
    pub fn blank(params: Params) -> Result<Self, StateError> {
        let state = State::new(params);
        Ok(Self { root: state.root(), account: state.account_witness(0, 0)?, commitment: Fr::from(0u64) })
    }
}

/// `bits` (little-endian) as `width` big-endian bits; bits past `width` must be zero (an
/// account past 2^24 or a token past 2^8 is refused, never cut to another id).
fn be(bits: &[Boolean<Fr>], width: usize) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    for bit in bits.iter().skip(width) {
        bit.enforce_equal(&Boolean::FALSE)?;
    }
    let mut out: Vec<Boolean<Fr>> = bits.iter().take(width).cloned().collect();
    out.resize(width, Boolean::FALSE);
    out.reverse();
    Ok(out)
}

impl ConstraintSynthesizer<Fr> for ExitCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let commitment = FpVar::new_input(cs.clone(), || Ok(self.commitment))?;
        let a = Constraints { cs: cs.clone() };
        let on = Boolean::TRUE;
        let root = a.w_f(self.root)?;
        let w = AccountW::new(&a, &self.account)?;
        let leaf = account_leaf(&a, &w.address, &w.key_hash, &w.nonce, &w.balance_root)?;
        a.enforce_equal(&on, &path_root(&a, &leaf, &w.account_path)?, &root, "the account is in the state")?;
        a.enforce_equal(&on, &path_root(&a, &w.balance, &w.balance_path)?, &w.balance_root, "the balance")?;
        a.enforce_nonzero(&on, &w.address, "the account exists")?;
        let mut bits = be(&a.to_bits(&root, 254, "a root")?, 256)?;
        bits.extend(be(&w.account_path.bits, ACCOUNT_BITS)?);
        bits.extend(be(&w.balance_path.bits, TOKEN_BITS)?);
        bits.extend(be(&a.to_bits(&w.balance, 128, "a balance")?, 128)?);
        bits.extend(be(&a.to_bits(&w.address, 160, "an address")?, 160)?);
        let bytes: Vec<UInt8<Fr>> = bits
            .chunks(8)
            .map(|c| UInt8::from_bits_le(&c.iter().rev().cloned().collect::<Vec<_>>()))
            .collect();
        enforce_sha256_mod_r(&bytes, &commitment)
    }
}
