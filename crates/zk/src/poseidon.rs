//! Poseidon over the BN254 scalar field, the one hash of the ZK rollup's state, natively and
//! as an R1CS gadget from the same parameters (so the two can not disagree).
//!
//! Parameters: width 3 (rate 2, capacity 1), x^5 S-box, 8 full and 57 partial rounds (the
//! Poseidon paper's choice for a 254-bit field at 128-bit security), round constants and MDS
//! matrix from the paper's Grain LFSR (arkworks' `find_poseidon_ark_and_mds`). One
//! permutation costs about 240 constraints.
//!
//! Inputs of any fixed length are absorbed two at a time; the capacity element starts at a
//! domain tag that also encodes the input length, so that no two uses (and no two lengths)
//! can produce the same hash from different inputs.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::{
    CryptographicSponge,
    constraints::CryptographicSpongeVar,
    poseidon::{PoseidonConfig, PoseidonSponge, constraints::PoseidonSpongeVar, find_poseidon_ark_and_mds},
};
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// Full rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds (width 3).
pub const PARTIAL_ROUNDS: usize = 57;
/// Elements absorbed per permutation.
pub const RATE: usize = 2;

/// What a hash is for: separates the uses of Poseidon in the rollup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Domain {
    /// An inner node of a Merkle tree: `(left, right)`.
    Node = 1,
    /// An account leaf: `(pubkey x, pubkey y, nonce, balances root)`.
    Account = 2,
    /// A balance leaf: `(amount)`.
    Balance = 3,
    /// The challenge of an EdDSA signature: `(R.x, R.y, A.x, A.y, message)`.
    Signature = 4,
    /// A deterministic signing nonce: `(secret, message)`.
    Nonce = 5,
    /// A signed operation: its fields.
    Message = 6,
    /// The hash of an L2 public key that change-key puts in the public data: `(x, y)`.
    Key = 7,
}

/// The shared parameters.
pub fn config() -> &'static PoseidonConfig<Fr> {
    static CONFIG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) =
            find_poseidon_ark_and_mds::<Fr>(254, RATE, FULL_ROUNDS as u64, PARTIAL_ROUNDS as u64, 0);
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, 5, mds, ark, RATE, 1)
    })
}

/// The initial capacity element: the domain and the input length.
fn tag(domain: Domain, len: usize) -> Fr {
    Fr::from(((domain as u64) << 32) | len as u64)
}

/// The hash of `inputs` in `domain`.
pub fn hash(domain: Domain, inputs: &[Fr]) -> Fr {
    let mut sponge = PoseidonSponge::new(config());
    sponge.state[0] = tag(domain, inputs.len());
    sponge.absorb(&inputs.to_vec());
    sponge.squeeze_field_elements::<Fr>(1)[0]
}

/// The same hash inside a circuit.
pub fn hash_var(
    cs: ConstraintSystemRef<Fr>,
    domain: Domain,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config());
    sponge.state[0] = FpVar::Constant(tag(domain, inputs.len()));
    sponge.absorb(&inputs.to_vec())?;
    let mut out = sponge.squeeze_field_elements(1)?;
    out.pop().ok_or(SynthesisError::Unsatisfiable)
}

#[cfg(test)]
mod tests {
    use ark_r1cs_std::{GR1CSVar, alloc::AllocVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn native_and_circuit_agree(values in prop::collection::vec(any::<u64>(), 1..6)) {
            let inputs: Vec<Fr> = values.iter().map(|v| Fr::from(*v)).collect();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let vars: Vec<FpVar<Fr>> = inputs
                .iter()
                .map(|v| FpVar::new_witness(cs.clone(), || Ok(*v)))
                .collect::<Result<_, _>>()
                .expect("alloc");
            let out = hash_var(cs.clone(), Domain::Message, &vars).expect("gadget");
            prop_assert_eq!(out.value().expect("value"), hash(Domain::Message, &inputs));
            prop_assert!(cs.is_satisfied().expect("satisfied"));
        }
    }

    #[test]
    fn domains_and_lengths_separate() {
        let a = [Fr::from(1u64), Fr::from(2u64)];
        assert_ne!(hash(Domain::Node, &a), hash(Domain::Account, &a));
        assert_ne!(hash(Domain::Node, &a[..1]), hash(Domain::Node, &[a[0], Fr::from(0u64)]));
    }

    #[test]
    fn a_two_to_one_hash_costs_one_permutation() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let vars: Vec<FpVar<Fr>> = (0..2)
            .map(|i| FpVar::new_witness(cs.clone(), || Ok(Fr::from(i as u64))))
            .collect::<Result<_, _>>()
            .expect("alloc");
        let _root = hash_var(cs.clone(), Domain::Node, &vars).expect("gadget");
        let n = cs.num_constraints();
        assert!((200..=300).contains(&n), "{n} constraints");
    }
}
