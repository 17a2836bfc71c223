//! The block circuit: the rules of [`crate::rules`] over R1CS ([`Constraints`]), for a block of
//! a fixed shape (wide slots, transfer slots; unused slots are no-ops), with one public
//! input: `sha256(oldRoot ‖ newRoot ‖ publicData) mod r`, so that L1 verifies any block for
//! the same cost and hashes the public data it received as calldata.

use ark_bn254::Fr;
use ark_crypto_primitives::crh::sha256::constraints::Sha256Gadget;
use ark_ed_on_bn254::constraints::EdwardsVar;
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

use crate::{
    block::{Block, BlockShape, PayoutWitness, TransferWitness, WideWitness},
    eddsa::{PublicKey, Signature, SignatureVar},
    poseidon::{Domain, hash_var},
    rules::{Arith, PayoutW, TransferW, WideW, Witness, WitnessError, block},
    state::{Params, StateError},
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
    fn bool_constant(&self, b: bool) -> Boolean<Fr> {
        Boolean::Constant(b)
    }
    fn select_bool(
        &self,
        c: &Boolean<Fr>,
        a: &Boolean<Fr>,
        b: &Boolean<Fr>,
    ) -> Result<Boolean<Fr>, SynthesisError> {
        Boolean::conditionally_select(c, a, b)
    }
    fn and(&self, a: &Boolean<Fr>, b: &Boolean<Fr>) -> Result<Boolean<Fr>, SynthesisError> {
        Ok(a & b)
    }
    fn or(&self, a: &Boolean<Fr>, b: &Boolean<Fr>) -> Result<Boolean<Fr>, SynthesisError> {
        Ok(a | b)
    }
    fn not(&self, a: &Boolean<Fr>) -> Boolean<Fr> {
        !a
    }
    fn is_equal(&self, a: &FpVar<Fr>, b: &FpVar<Fr>) -> Result<Boolean<Fr>, SynthesisError> {
        a.is_eq(b)
    }
    fn bool_to_f(&self, b: &Boolean<Fr>) -> FpVar<Fr> {
        FpVar::from(b.clone())
    }
    fn enforce_false(&self, b: &Boolean<Fr>, _rule: &'static str) -> Result<(), SynthesisError> {
        b.enforce_equal(&Boolean::FALSE)
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
    fn to_bits(
        &self,
        a: &FpVar<Fr>,
        bits: usize,
        _rule: &'static str,
    ) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
        let mut all = a.to_bits_le()?;
        if bits < all.len() {
            for bit in &all[bits..] {
                bit.enforce_equal(&Boolean::FALSE)?;
            }
            all.truncate(bits);
        }
        Ok(all)
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

impl Witness for Constraints {
    fn w_f(&self, v: Fr) -> Result<FpVar<Fr>, SynthesisError> {
        FpVar::new_witness(self.cs.clone(), || Ok(v))
    }
    fn w_bool(&self, b: bool) -> Result<Boolean<Fr>, SynthesisError> {
        Boolean::new_witness(self.cs.clone(), || Ok(b))
    }
    fn w_point(&self, p: &PublicKey) -> Result<EdwardsVar, SynthesisError> {
        EdwardsVar::new_witness(self.cs.clone(), || Ok(p.0))
    }
    fn w_sig(&self, s: &Signature) -> Result<SignatureVar, SynthesisError> {
        SignatureVar::witness(self.cs.clone(), Some(s))
    }
}

fn synthesis(e: WitnessError<SynthesisError>) -> SynthesisError {
    match e {
        WitnessError::NotPackable => SynthesisError::Unsatisfiable,
        WitnessError::Arith(e) => e,
    }
}

/// A block of a fixed shape: the witnesses of its slots and payout, and its public input.
#[derive(Clone)]
pub struct BlockCircuit {
    /// The operator's fee account.
    pub fee_account: u64,
    /// The root before the block.
    pub old_root: Fr,
    /// The wide slots.
    pub wides: Vec<WideWitness>,
    /// The transfer slots, each with whether it is active.
    pub transfers: Vec<(bool, TransferWitness)>,
    /// The fee payout.
    pub payout: PayoutWitness,
    /// The public input.
    pub commitment: Fr,
}

impl BlockCircuit {
    /// The circuit of a sealed block.
    pub fn new(block: &Block) -> Self {
        Self {
            fee_account: block.fee_account,
            old_root: block.old_root,
            wides: block.wides.clone(),
            transfers: block.transfers.clone(),
            payout: block.payout.clone(),
            commitment: block.commitment(),
        }
    }

    /// The circuit of `shape`, for the setup (its witness is a block of no-ops).
    pub fn blank(params: Params, shape: BlockShape, fee_account: u64) -> Result<Self, StateError> {
        Ok(Self::new(&Block::blank(params, shape, fee_account)?))
    }
}

/// Big-endian bits as bytes for sha256.
fn bytes(bits: &[Boolean<Fr>]) -> Vec<UInt8<Fr>> {
    bits.chunks(8)
        .map(|c| {
            let le: Vec<Boolean<Fr>> = c.iter().rev().cloned().collect();
            UInt8::from_bits_le(&le)
        })
        .collect()
}

fn root_bytes(root: &FpVar<Fr>) -> Result<Vec<UInt8<Fr>>, SynthesisError> {
    let mut bits = root.to_bits_le()?;
    bits.resize(256, Boolean::FALSE);
    Ok((0..32).rev().map(|i| UInt8::from_bits_le(&bits[i * 8..i * 8 + 8])).collect())
}

/// Enforces `commitment = sha256(bytes) mod r`, the digest's integer reduced by a linear
/// combination (`le_bits_to_fp` would insist on a digest below r).
pub fn enforce_sha256_mod_r(input: &[UInt8<Fr>], commitment: &FpVar<Fr>) -> Result<(), SynthesisError> {
    let digest = Sha256Gadget::digest(input)?;
    let mut bits = Vec::with_capacity(256);
    for byte in digest.0.iter().rev() {
        bits.extend(byte.to_bits_le()?);
    }
    let mut reduced = FpVar::zero();
    let mut power = Fr::from(1u64);
    for bit in &bits {
        reduced += FpVar::from(bit.clone()) * power;
        power = power + power;
    }
    reduced.enforce_equal(commitment)
}

impl ConstraintSynthesizer<Fr> for BlockCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let commitment = FpVar::new_input(cs.clone(), || Ok(self.commitment))?;
        let a = Constraints { cs: cs.clone() };
        let old_root = a.w_f(self.old_root)?;
        let wides =
            self.wides.iter().map(|w| WideW::new(&a, w)).collect::<Result<Vec<_>, _>>().map_err(synthesis)?;
        let transfers = self
            .transfers
            .iter()
            .map(|(on, t)| TransferW::new(&a, *on, t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(synthesis)?;
        let payout = PayoutW::new(&a, &self.payout)?;
        let (new_root, pubdata) = block(&a, &old_root, self.fee_account, &wides, &transfers, &payout)?;
        let mut input = root_bytes(&old_root)?;
        input.extend(root_bytes(&new_root)?);
        input.extend(bytes(&pubdata));
        enforce_sha256_mod_r(&input, &commitment)
    }
}
