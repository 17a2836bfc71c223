//! EdDSA over BabyJubjub (arkworks' `ed_on_bn254`, whose base field is BN254's scalar field)
//! with Poseidon as its hash: the signatures of the ZK rollup's L2 keys, natively and as a
//! gadget that checks them inside the block circuit.
//!
//! - Keys: a secret scalar `s` and the public point `A = s·G` (`G` the prime-order
//!   subgroup's generator).
//! - Signing `m` (a field element, the hash of an operation): `r = Poseidon(Nonce, s, m)`
//!   reduced to a scalar (deterministic, as RFC 8032), `R = r·G`,
//!   `c = Poseidon(Signature, R.x, R.y, A.x, A.y, m)`, `S = r + c·s mod n`.
//! - Verifying: `S·G == R + c·A`, with `c` taken as the integer of its 254 bits (the circuit
//!   multiplies by exactly those bits; for points of the prime-order subgroup, which the
//!   circuit enforces for `A` and `R`, that equals `(c mod n)·A`).
//!
//! `S` is range-checked to 251 bits, not below `n`: `S` and `S + n` both verify, which lets
//! nobody sign anything new (the message stays bound by `c`).

use ark_bn254::Fr;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ed_on_bn254::{EdwardsAffine, EdwardsProjective, Fr as Scalar, constraints::EdwardsVar};
use ark_ff::{AdditiveGroup, BigInteger, PrimeField};
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, convert::ToBitsGadget, eq::EqGadget, fields::fp::FpVar,
    groups::CurveVar,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::poseidon::{Domain, hash, hash_var};

/// Bits of `S` (the subgroup order is below 2^251).
pub const S_BITS: usize = 251;

/// A secret key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretKey(pub Scalar);

/// A public key: a point of the prime-order subgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pub EdwardsAffine);

/// A signature `(R, S)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The commitment `R = r·G`.
    pub r: EdwardsAffine,
    /// The response `S = r + c·s`.
    pub s: Scalar,
}

fn scalar_to_fr(s: &Scalar) -> Fr {
    Fr::from_le_bytes_mod_order(&s.into_bigint().to_bytes_le())
}

fn fr_to_scalar(f: &Fr) -> Scalar {
    Scalar::from_le_bytes_mod_order(&f.into_bigint().to_bytes_le())
}

/// The challenge `c` of a signature.
fn challenge(r: &EdwardsAffine, a: &EdwardsAffine, message: Fr) -> Fr {
    hash(Domain::Signature, &[r.x, r.y, a.x, a.y, message])
}

impl SecretKey {
    /// A key from 32 bytes of secret material (reduced into the scalar field).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(Scalar::from_le_bytes_mod_order(bytes))
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey((EdwardsProjective::generator() * self.0).into_affine())
    }

    /// Signs `message`.
    pub fn sign(&self, message: Fr) -> Signature {
        let r = fr_to_scalar(&hash(Domain::Nonce, &[scalar_to_fr(&self.0), message]));
        let big_r = (EdwardsProjective::generator() * r).into_affine();
        let c = challenge(&big_r, &self.public().0, message);
        Signature { r: big_r, s: r + fr_to_scalar(&c) * self.0 }
    }
}

impl PublicKey {
    /// Whether `signature` signs `message` under this key.
    pub fn verify(&self, message: Fr, signature: &Signature) -> bool {
        let a = self.0;
        if !a.is_on_curve()
            || !a.is_in_correct_subgroup_assuming_on_curve()
            || !signature.r.is_on_curve()
            || !signature.r.is_in_correct_subgroup_assuming_on_curve()
        {
            return false;
        }
        let c = challenge(&signature.r, &a, message);
        let lhs = EdwardsProjective::generator() * signature.s;
        let rhs = signature.r.into_group() + a.mul_bigint(c.into_bigint());
        lhs == rhs
    }

    /// The key as two field elements (x, y), as account leaves hold it; (0, 1), the identity,
    /// for "no key set".
    pub fn coordinates(&self) -> (Fr, Fr) {
        (self.0.x, self.0.y)
    }

    /// Whether this is the identity (no key).
    pub fn is_unset(&self) -> bool {
        self.0.is_zero()
    }

    /// Whether this can be a key: a point of the prime-order subgroup other than the identity.
    pub fn is_valid(&self) -> bool {
        !self.0.is_zero() && self.0.is_on_curve() && self.0.is_in_correct_subgroup_assuming_on_curve()
    }
}

/// A signature inside a circuit.
pub struct SignatureVar {
    /// `R`, checked on the curve and in the prime-order subgroup when allocated.
    pub r: EdwardsVar,
    /// The bits of `S`, least significant first.
    pub s_bits: Vec<Boolean<Fr>>,
}

impl SignatureVar {
    /// Allocates a signature as witness.
    pub fn witness(
        cs: ConstraintSystemRef<Fr>,
        signature: Option<&Signature>,
    ) -> Result<Self, SynthesisError> {
        let r = EdwardsVar::new_witness(cs.clone(), || {
            signature.map(|s| s.r.into_group()).ok_or(SynthesisError::AssignmentMissing)
        })?;
        let s_bits = (0..S_BITS)
            .map(|i| {
                Boolean::new_witness(cs.clone(), || {
                    signature.map(|s| s.s.into_bigint().get_bit(i)).ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { r, s_bits })
    }

    /// Enforces that this signs `message` under `public_key`.
    pub fn enforce_valid(
        &self,
        cs: ConstraintSystemRef<Fr>,
        public_key: &EdwardsVar,
        message: &FpVar<Fr>,
    ) -> Result<(), SynthesisError> {
        self.conditional_enforce_valid(cs, public_key, message, &Boolean::TRUE)
    }

    /// Where `active`: enforces that this signs `message` under `public_key`.
    pub fn conditional_enforce_valid(
        &self,
        cs: ConstraintSystemRef<Fr>,
        public_key: &EdwardsVar,
        message: &FpVar<Fr>,
        active: &Boolean<Fr>,
    ) -> Result<(), SynthesisError> {
        let c = hash_var(
            cs,
            Domain::Signature,
            &[
                self.r.x.clone(),
                self.r.y.clone(),
                public_key.x.clone(),
                public_key.y.clone(),
                message.clone(),
            ],
        )?;
        let c_bits = c.to_bits_le()?;
        let c_a = public_key.scalar_mul_le(c_bits.iter())?;
        let mut bases = Vec::with_capacity(S_BITS);
        let mut base = EdwardsProjective::generator();
        for _ in 0..S_BITS {
            bases.push(base);
            base.double_in_place();
        }
        let mut s_g = EdwardsVar::zero();
        s_g.precomputed_base_scalar_mul_le(self.s_bits.iter().zip(bases.iter()))?;
        s_g.conditional_enforce_equal(&(self.r.clone() + c_a), active)
    }
}

#[cfg(test)]
mod tests {
    use ark_r1cs_std::alloc::AllocVar;
    use ark_relations::gr1cs::ConstraintSystem;

    use super::*;

    fn check_in_circuit(pk: &PublicKey, message: Fr, signature: &Signature) -> (bool, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let pk_var = EdwardsVar::new_witness(cs.clone(), || Ok(pk.0.into_group())).expect("pk");
        let m = FpVar::new_witness(cs.clone(), || Ok(message)).expect("m");
        let sig = SignatureVar::witness(cs.clone(), Some(signature)).expect("sig");
        sig.enforce_valid(cs.clone(), &pk_var, &m).expect("gadget");
        (cs.is_satisfied().expect("satisfied?"), cs.num_constraints())
    }

    #[test]
    fn signatures_verify_natively_and_in_circuit_and_forgeries_do_not() {
        let sk = SecretKey::from_bytes(&[7u8; 32]);
        let pk = sk.public();
        let m = Fr::from(42u64);
        let sig = sk.sign(m);
        assert!(pk.verify(m, &sig));
        let (ok, constraints) = check_in_circuit(&pk, m, &sig);
        assert!(ok, "a valid signature satisfies the circuit");
        assert!(constraints < 12_000, "{constraints} constraints");

        // another message, another key, a tampered S or R: refused by both
        let other = SecretKey::from_bytes(&[8u8; 32]).public();
        let bad_s = Signature { s: sig.s + Scalar::from(1u64), ..sig };
        let bad_r = Signature { r: (sig.r.into_group().double()).into_affine(), ..sig };
        for (key, msg, s) in [(pk, Fr::from(43u64), sig), (other, m, sig), (pk, m, bad_s), (pk, m, bad_r)] {
            assert!(!key.verify(msg, &s));
            assert!(!check_in_circuit(&key, msg, &s).0);
        }
    }
}
