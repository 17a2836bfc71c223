//! Every step of real runs, proven: each proof is of the pre-state's memory, the last one
//! with the leaf's new bytes leads to the post-state's memory root, and proving a step does
//! not change the run (a second machine stepping without proofs reaches the same hashes).

use alloy_primitives::B256;
use loft_fault_vm::{
    Machine, MapOracle, VmState,
    memory::{MemoryProof, PROOF_BYTES},
};

use crate::qemu::{assemble, tools};

fn decode_proofs(bytes: &[u8], leaves: &[u32]) -> Vec<MemoryProof> {
    assert_eq!(bytes.len(), PROOF_BYTES * leaves.len());
    bytes
        .chunks(PROOF_BYTES)
        .zip(leaves)
        .map(|(p, &leaf_index)| {
            let mut leaf = [0u8; 32];
            leaf.copy_from_slice(&p[..32]);
            let siblings = std::array::from_fn(|i| B256::from_slice(&p[32 + 32 * i..64 + 32 * i]));
            MemoryProof { leaf_index, leaf, siblings }
        })
        .collect()
}

/// Proves every step of `elf`'s run; returns the steps.
fn prove_all(elf: &[u8]) -> u64 {
    let mut proving = Machine::load_elf(elf).expect("load");
    let mut plain = Machine::load_elf(elf).expect("load");
    let mut oracle = MapOracle::new();
    while !proving.exited {
        let w = proving.prove_step(&mut oracle).expect("prove");
        let pre = VmState::decode(&w.state).expect("a state");
        assert_eq!(pre, plain.state(), "step {}: the proving machine's pre-state", pre.step);
        plain.step(&mut oracle).expect("step");
        let post = plain.state();
        assert_eq!(w.post_hash, post.hash(), "step {}", pre.step);
        let proofs = decode_proofs(&w.proof, &w.leaves);
        assert!((1..=3).contains(&proofs.len()), "step {}: {} proofs", pre.step, proofs.len());
        assert_eq!(proofs[0].leaf_index, pre.pc / 32, "step {}: the first proof is the fetch's", pre.step);
        for (k, p) in proofs.iter().enumerate() {
            assert_eq!(p.root(), pre.mem_root, "step {}: proof {k} is of the pre-state", pre.step);
        }
        // the last proof, with its leaf's bytes after the step, leads to the post root
        let last = proofs.last().expect("a proof");
        assert_eq!(last.root_with(&plain.memory.leaf(last.leaf_index)), post.mem_root, "step {}", pre.step);
        // no other leaf changed
        for p in &proofs[..proofs.len() - 1] {
            if p.leaf_index != last.leaf_index {
                assert_eq!(p.leaf, plain.memory.leaf(p.leaf_index), "step {}", pre.step);
            }
        }
    }
    proving.step
}

#[test]
fn every_step_of_the_programs_is_proven() {
    let Some((gcc, _)) = tools() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let programs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/programs");
    for name in ["alu", "memory", "amo", "control", "compressed"] {
        let source = std::fs::read_to_string(programs.join(format!("{name}.S"))).expect("source");
        let steps = prove_all(&assemble(&gcc, &source, dir.path(), name));
        println!("{name}: {steps} steps proven");
    }
    let source = crate::random::program(1000, 100);
    prove_all(&assemble(&gcc, &source, dir.path(), "random-proven"));
}
