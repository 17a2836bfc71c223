//! Groth16 over BN254 for loft's circuits: a deterministic setup for devnets (the same seed
//! gives the same keys on every machine, so a generated verifier can be committed), proving
//! and verifying.
//!
//! A deterministic setup is **not** secure for a real network: whoever knows the seed can
//! forge proofs. Real deployments load keys produced by an MPC ceremony instead.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, prepare_verifying_key};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
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

/// A circuit behind a trait object, so that arkworks' generic setup and prover are
/// instantiated once, here, rather than in every crate that proves: this crate is built
/// optimised in tests too (see the workspace's profiles), its dependents are not, and an
/// unoptimised prover is some ten times slower.
struct ErasedCircuit<'a>(Box<dyn FnOnce(ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> + Send + 'a>);

impl ConstraintSynthesizer<Fr> for ErasedCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        (self.0)(cs)
    }
}

fn erase<'a, C: ConstraintSynthesizer<Fr> + Send + 'a>(circuit: C) -> ErasedCircuit<'a> {
    ErasedCircuit(Box::new(move |cs| circuit.generate_constraints(cs)))
}

/// Keys for `circuit`'s shape from a seed (devnets and tests only: see the module doc).
pub fn deterministic_setup<C: ConstraintSynthesizer<Fr> + Send>(
    circuit: C,
    seed: [u8; 32],
) -> Result<Keys, SynthesisError> {
    let circuit = erase(circuit);
    on_pool(move || setup_erased(circuit, seed))
}

/// Runs `f` on a thread of rayon's global pool and returns what it gives. arkworks splits
/// small steps of synthesis and proving across rayon; started from a thread outside the pool,
/// every such step is handed to the pool and waited for (two context switches each), which
/// was measured at three quarters of a proof's CPU time. From a pool thread a step runs in
/// place unless an idle thread steals it. Everything that synthesises a circuit goes through
/// here, the tests' satisfiability checks too.
pub fn on_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::scope(|_| f())
}

fn setup_erased(circuit: ErasedCircuit<'_>, seed: [u8; 32]) -> Result<Keys, SynthesisError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let (proving, verifying) = Groth16::<Bn254>::circuit_specific_setup(circuit, &mut rng)?;
    let prepared = prepare_verifying_key(&verifying);
    Ok(Keys { proving, verifying, prepared })
}

/// Whether `circuit`'s witness satisfies it, and how many constraints it has (synthesised on
/// a pool thread, as everything here).
pub fn check<C: ConstraintSynthesizer<Fr> + Send>(circuit: C) -> Result<(bool, usize), SynthesisError> {
    on_pool(move || {
        let cs = ark_relations::gr1cs::ConstraintSystem::<Fr>::new_ref();
        circuit.generate_constraints(cs.clone())?;
        Ok((cs.is_satisfied()?, cs.num_constraints()))
    })
}

/// A proof that `circuit` (with its witness) is satisfied.
pub fn prove<C: ConstraintSynthesizer<Fr> + Send>(
    keys: &Keys,
    circuit: C,
    seed: [u8; 32],
) -> Result<Proof<Bn254>, SynthesisError> {
    let circuit = erase(circuit);
    on_pool(move || prove_erased(keys, circuit, seed))
}

fn prove_erased(
    keys: &Keys,
    circuit: ErasedCircuit<'_>,
    seed: [u8; 32],
) -> Result<Proof<Bn254>, SynthesisError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    Groth16::<Bn254>::prove(&keys.proving, circuit, &mut rng)
}

/// Whether `proof` proves the circuit for `inputs`.
pub fn verify(keys: &Keys, inputs: &[Fr], proof: &Proof<Bn254>) -> bool {
    Groth16::<Bn254>::verify_with_processed_vk(&keys.prepared, inputs, proof).unwrap_or(false)
}

/// Why keys could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The file is not a proving key.
    #[error("{0}: not a Groth16 (BN254) proving key: {1}")]
    Format(String, ark_serialize::SerializationError),
}

impl Keys {
    /// The keys of a proving key (it holds the verifying key).
    pub fn from_proving(proving: ProvingKey<Bn254>) -> Self {
        let verifying = proving.vk.clone();
        let prepared = prepare_verifying_key(&verifying);
        Self { proving, verifying, prepared }
    }

    /// Writes the proving key (arkworks' uncompressed canonical encoding), atomically: to a
    /// temporary file, then renamed.
    pub fn save(&self, path: &std::path::Path) -> Result<(), KeyFileError> {
        use ark_serialize::CanonicalSerialize;
        let name = path.display().to_string();
        let tmp = path.with_extension("tmp");
        let io = |e| KeyFileError::Io(name.clone(), e);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        self.proving.serialize_uncompressed(&mut file).map_err(|e| KeyFileError::Format(name.clone(), e))?;
        std::io::Write::flush(&mut file).map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a proving key written by [`Keys::save`] (or an MPC ceremony's output in the same
    /// encoding). Points are checked on the curve and in the subgroup.
    pub fn load(path: &std::path::Path) -> Result<Self, KeyFileError> {
        Self::read(path, ark_serialize::Validate::Yes)
    }

    /// Reads a proving key this node set up and wrote itself ([`Keys::save`] of a
    /// deterministic setup), without checking every point on the curve and in the subgroup:
    /// those checks (a scalar multiplication per G2 point) are most of the time a start
    /// takes. The node trusts its own files as it trusts its own binary (whoever can write
    /// one can change the other); a key from outside (a ceremony's) goes through
    /// [`Keys::load`]. The verifying key, small, is still checked.
    pub fn load_own(path: &std::path::Path) -> Result<Self, KeyFileError> {
        let keys = Self::read(path, ark_serialize::Validate::No)?;
        use ark_serialize::Valid;
        keys.verifying.check().map_err(|e| KeyFileError::Format(path.display().to_string(), e))?;
        Ok(keys)
    }

    fn read(path: &std::path::Path, validate: ark_serialize::Validate) -> Result<Self, KeyFileError> {
        use ark_serialize::CanonicalDeserialize;
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| KeyFileError::Io(name.clone(), e))?;
        let proving = ProvingKey::<Bn254>::deserialize_with_mode(
            std::io::BufReader::new(file),
            ark_serialize::Compress::No,
            validate,
        )
        .map_err(|e| KeyFileError::Format(name, e))?;
        Ok(Self::from_proving(proving))
    }
}
