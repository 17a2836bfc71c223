//! Groth16 over BN254 for loft's circuits: a deterministic setup for devnets (the same seed
//! gives the same keys on every machine, so a generated verifier can be committed), proving
//! and verifying.
//!
//! A deterministic setup is **not** secure for a real network: whoever knows the seed can
//! forge proofs. Real deployments load keys produced by an MPC ceremony instead.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, prepare_verifying_key};
use ark_relations::gr1cs::{ConstraintSynthesizer, SynthesisError};
use ark_snark::SNARK;
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

/// A circuit's keys.
pub struct Keys {
    /// The proving key.
    pub proving: ProvingKey<Bn254>,
    /// The verifying key (what the Solidity verifier is generated from).
    pub verifying: VerifyingKey<Bn254>,
    /// The verifying key prepared for native verification.
    pub prepared: PreparedVerifyingKey<Bn254>,
}

/// Keys for `circuit`'s shape from a seed (devnets and tests only: see the module doc).
pub fn deterministic_setup<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
    seed: [u8; 32],
) -> Result<Keys, SynthesisError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let (proving, verifying) = Groth16::<Bn254>::circuit_specific_setup(circuit, &mut rng)?;
    let prepared = prepare_verifying_key(&verifying);
    Ok(Keys { proving, verifying, prepared })
}

/// A proof that `circuit` (with its witness) is satisfied.
pub fn prove<C: ConstraintSynthesizer<Fr>>(
    keys: &Keys,
    circuit: C,
    seed: [u8; 32],
) -> Result<Proof<Bn254>, SynthesisError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    Groth16::<Bn254>::prove(&keys.proving, circuit, &mut rng)
}

/// Whether `proof` proves the circuit for `inputs`.
pub fn verify(keys: &Keys, inputs: &[Fr], proof: &Proof<Bn254>) -> bool {
    Groth16::<Bn254>::verify_with_processed_vk(&keys.prepared, inputs, proof).unwrap_or(false)
}
