//! The preimage oracle from inside a program: it writes a key (fd 6), reads the stream back
//! (fd 5: the length, then the preimage, a leaf at most per read), prints the preimage and
//! exits; proven steps carry what the L1 oracle must hold. A host that hands over bytes that
//! do not hash to the key is refused.

use std::fmt::Write as _;

use alloy_primitives::B256;
use loft_fault_vm::{
    Machine, MapOracle, OracleError, PreimageSource, Status, VmError,
    oracle::{keccak_key, local_key},
};

use crate::qemu::{assemble, tools};

/// A program that reads the preimage of `key` and prints it.
pub(crate) fn reader(key: B256) -> String {
    let mut s = String::from(
        "    .section .text\n    .globl _start\n_start:\n\
         la s0, key\n\
         li a7, 64\n li a0, 6\n mv a1, s0\n li a2, 32\n ecall\n\
         la s1, buf\n mv s2, s1\n\
         1: li a7, 63\n li a0, 5\n mv a1, s2\n li a2, 64\n ecall\n\
         add s2, s2, a0\n bnez a0, 1b\n\
         addi a1, s1, 8\n sub a2, s2, a1\n li a7, 64\n li a0, 1\n ecall\n\
         li a7, 93\n li a0, 0\n ecall\n\
         .section .data\n .balign 32\nkey:\n",
    );
    for b in key {
        let _ = writeln!(s, "    .byte {b}");
    }
    // 13 bytes in, so that reads straddle leaves
    s.push_str("    .balign 32\n    .space 13\nbuf:\n    .space 512\n");
    s
}

#[test]
fn a_program_reads_preimages_and_proofs_carry_them() {
    let Some((gcc, _)) = tools() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let preimage: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
    let mut oracle = MapOracle::new();
    let key = oracle.insert_keccak(preimage.clone());
    let elf = assemble(&gcc, &reader(key), dir.path(), "preimage");

    let mut m = Machine::load_elf(&elf).expect("load");
    assert_eq!(m.run(&mut oracle, 100_000).expect("run"), Status::Valid);
    assert_eq!(m.output, preimage);
    assert_eq!(m.preimage_key, key);

    // proven step by step: every read names the key and the offset it reads at
    let mut m = Machine::load_elf(&elf).expect("load");
    let mut offsets = Vec::new();
    while !m.exited {
        let w = m.prove_step(&mut oracle).expect("prove");
        if let Some(read) = w.preimage {
            assert_eq!((read.key, &read.preimage), (key, &preimage));
            offsets.push(read.offset);
        }
    }
    assert_eq!(offsets.first(), Some(&0));
    assert_eq!(offsets.last(), Some(&(8 + 200)), "the last read finds the end");
    assert!(offsets.windows(2).all(|w| w[1] > w[0]), "{offsets:?}");

    // a local key holds whatever the dispute's boot data says
    let mut local = MapOracle::new();
    local.insert(local_key(3), b"boot".to_vec()).expect("local");
    let elf = assemble(&gcc, &reader(local_key(3)), dir.path(), "local");
    let mut m = Machine::load_elf(&elf).expect("load");
    assert_eq!(m.run(&mut local, 100_000).expect("run"), Status::Valid);
    assert_eq!(m.output, b"boot");
}

/// A host that answers every key with the same bytes.
struct Liar(Vec<u8>);

impl PreimageSource for Liar {
    fn get(&mut self, _key: B256) -> Result<Vec<u8>, OracleError> {
        Ok(self.0.clone())
    }
}

#[test]
fn a_preimage_that_does_not_hash_to_its_key_is_refused() {
    let Some((gcc, _)) = tools() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let key = keccak_key(b"the real preimage");
    let elf = assemble(&gcc, &reader(key), dir.path(), "liar");
    let mut m = Machine::load_elf(&elf).expect("load");
    let err = m.run(&mut Liar(b"something else".to_vec()), 100_000).expect_err("refused");
    assert!(matches!(err, VmError::Oracle(OracleError::WrongPreimage { .. })), "{err}");
    let mut m = Machine::load_elf(&elf).expect("load");
    assert_eq!(m.run(&mut Liar(b"the real preimage".to_vec()), 100_000).expect("run"), Status::Valid);
    assert_eq!(m.output, b"the real preimage");
}
