//! The generated Solidity verifier on an EVM (the embedded L1 devnet): it accepts a proof
//! that the native verifier accepts, and refuses the same proof for another input, a proof
//! with a tampered point, and an input outside the scalar field. Its gas is printed.

use alloy_primitives::{Bytes, U256};
use ark_bn254::Fr;
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use loft_l1::L1Client;
use loft_rpc::MiningMode;
use loft_zk::{
    groth16,
    poseidon::{Domain, hash, hash_var},
    solidity::{ProofWords, compile, input_word, verifier_source},
};

alloy::sol! {
    #[sol(rpc)]
    interface IVerifier {
        function verifyProof(uint256[8] proof, uint256[1] input) external view returns (bool);
    }
}

/// Knowledge of a Poseidon preimage: the public input is the hash.
#[derive(Clone)]
struct Preimage {
    preimage: Option<Fr>,
    digest: Fr,
}

impl ConstraintSynthesizer<Fr> for Preimage {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let digest = FpVar::new_input(cs.clone(), || Ok(self.digest))?;
        let preimage =
            FpVar::new_witness(cs.clone(), || self.preimage.ok_or(SynthesisError::AssignmentMissing))?;
        hash_var(cs, Domain::Message, &[preimage])?.enforce_equal(&digest)
    }
}

fn words(p: &ProofWords) -> [U256; 8] {
    p.0.map(U256::from_be_bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_verifier_checks_proofs_on_the_evm() {
    let Some(solc) = loft_testkit::tool("solc") else { return };
    let preimage = Fr::from(123_456_789u64);
    let digest = hash(Domain::Message, &[preimage]);
    let keys = groth16::deterministic_setup(Preimage { preimage: None, digest: Fr::from(0u64) }, [1; 32])
        .expect("setup");
    let proof = groth16::prove(&keys, Preimage { preimage: Some(preimage), digest }, [2; 32]).expect("prove");
    assert!(groth16::verify(&keys, &[digest], &proof), "native verification");
    assert!(!groth16::verify(&keys, &[digest + Fr::from(1u64)], &proof));

    let bytecode: Bytes =
        compile(&solc, &verifier_source(&keys.verifying, "PreimageVerifier"), "PreimageVerifier")
            .expect("solc compiles the verifier")
            .into();
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    let l1 =
        L1Client::connect(&devnet.url(), loft_l1::dev_signers(1).expect("key").remove(0)).await.expect("l1");
    let verifier = IVerifier::new(l1.deploy(bytecode).await.expect("deploy"), l1.provider().clone());

    let proof_words = words(&ProofWords::new(&proof));
    let input = [U256::from_be_bytes(input_word(&digest))];
    assert!(
        verifier.verifyProof(proof_words, input).call().await.expect("call"),
        "the EVM accepts the proof"
    );
    let gas = verifier.verifyProof(proof_words, input).estimate_gas().await.expect("gas");
    println!("verifyProof: {gas} gas (1 public input, including the 21,000 of a transaction)");
    assert!(gas < 260_000, "{gas}");

    // another input, a tampered point, an input outside the field: refused
    let other = [U256::from_be_bytes(input_word(&(digest + Fr::from(1u64))))];
    assert!(!verifier.verifyProof(proof_words, other).call().await.expect("call"));
    let mut tampered = proof_words;
    tampered[6] = proof_words[0];
    tampered[7] = proof_words[1];
    assert!(!verifier.verifyProof(tampered, input).call().await.unwrap_or(false));
    let r: U256 =
        "21888242871839275222246405745257275088548364400416034343698204186575808495617".parse().expect("r");
    let aliased = [input[0] + r];
    assert!(!verifier.verifyProof(proof_words, aliased).call().await.expect("call"), "input + r is refused");
    devnet.stop().await;
}
