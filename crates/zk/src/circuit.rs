//! The block circuit: the rules of [`crate::rules`] over R1CS ([`Constraints`]), for a block of
//! a fixed number of transfer slots (unused slots are no-ops), with one public input:
//! `sha256(oldRoot ‖ newRoot ‖ publicData) mod r`, so that L1 verifies any block for the
//! same cost and hashes the public data it received as calldata.

use ark_bn254::Fr;
use ark_crypto_primitives::crh::sha256::constraints::Sha256Gadget;
use ark_ed_on_bn254::constraints::EdwardsVar;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    convert::ToBitsGadget,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
    select::CondSelectGadget,
    uint8::UInt8,
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use sha2::{Digest, Sha256};

use crate::{
    amount::{AMOUNT, FEE},
    eddsa::SignatureVar,
    ops::TransferWitness,
    poseidon::{Domain, hash_var},
    rules::{AccountW, Arith, PackedW, PathW, TransferW, packed_bits, transfer},
    state::{AccountWitness, Params},
};

/// The rules as constraints.
pub struct Constraints {
    /// The constraint system.
    pub cs: ConstraintSystemRef<Fr>,
}

impl Arith for Constraints {
    type F = FpVar<Fr>;
    type Bool = Boolean<Fr>;
    type Point = EdwardsVar;
    type Sig = SignatureVar;
    type Error = SynthesisError;

    fn constant(&self, v: Fr) -> FpVar<Fr> {
        FpVar::Constant(v)
    }
    fn add(&self, a: &FpVar<Fr>, b: &FpVar<Fr>) -> FpVar<Fr> {
        a + b
    }
    fn sub(&self, a: &FpVar<Fr>, b: &FpVar<Fr>) -> FpVar<Fr> {
        a - b
    }
    fn mul(&self, a: &FpVar<Fr>, b: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
        Ok(a * b)
    }
    fn select(&self, c: &Boolean<Fr>, a: &FpVar<Fr>, b: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
        FpVar::conditionally_select(c, a, b)
    }
    fn bits_to_number(&self, bits: &[Boolean<Fr>]) -> FpVar<Fr> {
        Boolean::le_bits_to_fp(bits).unwrap_or_else(|_| FpVar::zero())
    }
    fn hash(&self, domain: Domain, inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
        hash_var(self.cs.clone(), domain, inputs)
    }
    fn enforce_equal(
        &self,
        active: &Boolean<Fr>,
        a: &FpVar<Fr>,
        b: &FpVar<Fr>,
        _rule: &'static str,
    ) -> Result<(), SynthesisError> {
        a.conditional_enforce_equal(b, active)
    }
    fn enforce_nonzero(
        &self,
        active: &Boolean<Fr>,
        a: &FpVar<Fr>,
        _rule: &'static str,
    ) -> Result<(), SynthesisError> {
        // a non-zero where active: select(active, a, 1) has an inverse
        let v = FpVar::conditionally_select(active, a, &FpVar::one())?;
        v.enforce_not_equal(&FpVar::zero())
    }
    fn enforce_bits(&self, a: &FpVar<Fr>, bits: usize, _rule: &'static str) -> Result<(), SynthesisError> {
        let all = a.to_bits_le()?;
        for bit in &all[bits..] {
            bit.enforce_equal(&Boolean::FALSE)?;
        }
        Ok(())
    }
    fn point_xy(&self, p: &EdwardsVar) -> (FpVar<Fr>, FpVar<Fr>) {
        (p.x.clone(), p.y.clone())
    }
    fn enforce_signature(
        &self,
        active: &Boolean<Fr>,
        key: &EdwardsVar,
        message: &FpVar<Fr>,
        sig: &SignatureVar,
        _rule: &'static str,
    ) -> Result<(), SynthesisError> {
        sig.conditional_enforce_valid(self.cs.clone(), key, message, active)
    }
}

fn alloc_bits(cs: &ConstraintSystemRef<Fr>, bits: &[bool]) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    bits.iter().map(|b| Boolean::new_witness(cs.clone(), || Ok(*b))).collect()
}

fn alloc_path(
    cs: &ConstraintSystemRef<Fr>,
    index: u64,
    siblings: &[Fr],
) -> Result<PathW<Constraints>, SynthesisError> {
    let bits: Vec<bool> = (0..siblings.len()).map(|i| (index >> i) & 1 == 1).collect();
    Ok(PathW {
        bits: alloc_bits(cs, &bits)?,
        siblings: siblings
            .iter()
            .map(|s| FpVar::new_witness(cs.clone(), || Ok(*s)))
            .collect::<Result<_, _>>()?,
    })
}

fn alloc_account(
    cs: &ConstraintSystemRef<Fr>,
    w: &AccountWitness,
) -> Result<AccountW<Constraints>, SynthesisError> {
    let fp = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v));
    Ok(AccountW {
        address: fp(w.address)?,
        key: EdwardsVar::new_witness(cs.clone(), || Ok(w.key.0))?,
        nonce: fp(Fr::from(w.nonce))?,
        balance_root: fp(w.balance_root)?,
        balance: fp(Fr::from(w.balance))?,
        balance_path: alloc_path(cs, w.balance_path.index, &w.balance_path.siblings)?,
        account_path: alloc_path(cs, w.account_path.index, &w.account_path.siblings)?,
    })
}

fn alloc_packed(
    cs: &ConstraintSystemRef<Fr>,
    packing: crate::amount::Packing,
    value: u128,
) -> Result<PackedW<Constraints>, SynthesisError> {
    let (mantissa, exponent) = packed_bits(packing, value).ok_or(SynthesisError::Unsatisfiable)?;
    Ok(PackedW { mantissa: alloc_bits(cs, &mantissa)?, exponent: alloc_bits(cs, &exponent)? })
}

/// A no-op slot's witness: any account will do, nothing is enforced or changed.
fn noop(state_root_path: &AccountWitness) -> TransferWitness {
    TransferWitness {
        transfer: crate::ops::Transfer {
            from: 0,
            to: 0,
            token: 0,
            amount: 0,
            fee: 0,
            nonce: 0,
            signature: crate::eddsa::SecretKey(Default::default()).sign(Fr::zero()),
        },
        sender: state_root_path.clone(),
        recipient: state_root_path.clone(),
        operator: state_root_path.clone(),
    }
}

/// A block of `slots` transfer slots.
#[derive(Clone)]
pub struct BlockCircuit {
    /// Tree depths.
    pub params: Params,
    /// Transfer slots.
    pub slots: usize,
    /// The operator's fee account.
    pub fee_account: u64,
    /// The root before the block.
    pub old_root: Fr,
    /// The transfers (at most `slots`) with their witnesses; `None` for the setup.
    pub transfers: Option<Vec<TransferWitness>>,
    /// A witness of any account under the final root, for the no-op slots.
    pub filler: Option<AccountWitness>,
    /// The public input.
    pub commitment: Fr,
}

/// The public input of a block: `sha256(oldRoot ‖ newRoot ‖ publicData) mod r`, roots as 32
/// big-endian bytes.
pub fn block_commitment(old_root: &Fr, new_root: &Fr, pubdata: &[u8]) -> Fr {
    let mut h = Sha256::new();
    h.update(old_root.into_bigint().to_bytes_be());
    h.update(new_root.into_bigint().to_bytes_be());
    h.update(pubdata);
    Fr::from_be_bytes_mod_order(&h.finalize())
}

/// The public data of `slots` slots holding `pubdata` (the transfers' bytes, no-ops as zeros).
pub fn padded_pubdata(pubdata: &[u8], slots: usize) -> Vec<u8> {
    let mut out = pubdata.to_vec();
    out.resize(slots * TRANSFER_BYTES, 0);
    out
}

/// Bytes of a transfer slot's public data.
pub const TRANSFER_BYTES: usize = 15;

/// Big-endian bytes of `value`, `bits` wide (a multiple of 8).
fn to_bytes_be(value: &FpVar<Fr>, bits: usize) -> Result<Vec<UInt8<Fr>>, SynthesisError> {
    let all = value.to_bits_le()?;
    let mut out = Vec::with_capacity(bits / 8);
    for byte in (0..bits / 8).rev() {
        out.push(UInt8::from_bits_le(&all[byte * 8..byte * 8 + 8]));
    }
    Ok(out)
}

fn root_bytes(root: &FpVar<Fr>) -> Result<Vec<UInt8<Fr>>, SynthesisError> {
    let mut bits = root.to_bits_le()?;
    bits.resize(256, Boolean::FALSE);
    Ok((0..32).rev().map(|i| UInt8::from_bits_le(&bits[i * 8..i * 8 + 8])).collect())
}

impl ConstraintSynthesizer<Fr> for BlockCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let commitment = FpVar::new_input(cs.clone(), || Ok(self.commitment))?;
        let old_root = FpVar::new_witness(cs.clone(), || Ok(self.old_root))?;
        let fee_account = FpVar::Constant(Fr::from(self.fee_account));
        let a = Constraints { cs: cs.clone() };
        let transfers = self.transfers.unwrap_or_default();
        let empty = crate::state::State::new(self.params)
            .account_witness(0, 0)
            .map_err(|_| SynthesisError::Unsatisfiable)?;
        let filler = self.filler.unwrap_or(empty);
        let mut root = old_root.clone();
        let mut pubdata = Vec::new();
        for i in 0..self.slots {
            let (w, active) = match transfers.get(i) {
                Some(w) => (w.clone(), true),
                None => (noop(&filler), false),
            };
            let t = &w.transfer;
            let slot = TransferW {
                active: Boolean::new_witness(cs.clone(), || Ok(active))?,
                amount: alloc_packed(&cs, AMOUNT, t.amount)?,
                fee: alloc_packed(&cs, FEE, t.fee)?,
                nonce: FpVar::new_witness(cs.clone(), || Ok(Fr::from(t.nonce)))?,
                signature: SignatureVar::witness(cs.clone(), Some(&t.signature))?,
                sender: alloc_account(&cs, &w.sender)?,
                recipient: alloc_account(&cs, &w.recipient)?,
                operator: alloc_account(&cs, &w.operator)?,
            };
            let out = transfer(&a, &root, &fee_account, &slot)?;
            root = out.root;
            for (value, bits) in &out.pubdata {
                pubdata.extend(to_bytes_be(value, *bits)?);
            }
        }
        let mut input = root_bytes(&old_root)?;
        input.extend(root_bytes(&root)?);
        input.extend(pubdata);
        let digest = Sha256Gadget::digest(&input)?;
        let mut bits = Vec::with_capacity(256);
        for byte in digest.0.iter().rev() {
            bits.extend(byte.to_bits_le()?);
        }
        // the digest's integer, reduced mod r (le_bits_to_fp would insist on a value below r)
        let mut reduced = FpVar::zero();
        let mut power = Fr::from(1u64);
        for bit in &bits {
            reduced += FpVar::from(bit.clone()) * power;
            power = power + power;
        }
        reduced.enforce_equal(&commitment)
    }
}
