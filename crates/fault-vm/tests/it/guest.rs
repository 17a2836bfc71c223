//! A real Rust program on the VM: `loft-fault-guest`'s runtime and its `preimage-sum`
//! example, built by rustc for `riscv32imac-unknown-none-elf` (CI's bare step, or
//! scripts/test.sh), read their boot data and a list through the preimage oracle and exit with
//! a verdict, natively in the VM and step by step as L1 would check them.

use alloy_primitives::B256;
use loft_fault_vm::{Machine, MapOracle, Status, oracle::local_key};

/// The example's ELF, or `None` after the test kit's skip-or-fail.
pub(crate) fn guest_elf(name: &str) -> Option<Vec<u8>> {
    let path = loft_testkit::workspace_root()
        .join(format!("target/riscv32imac-unknown-none-elf/bare/examples/{name}"));
    match std::fs::read(&path) {
        Ok(elf) => Some(elf),
        Err(_) => {
            loft_testkit::skip_or_fail(&format!(
                "{} is not built (cargo build --profile bare --target riscv32imac-unknown-none-elf -p loft-fault-guest --features examples --examples)",
                path.display()
            ));
            None
        }
    }
}

/// The boot data and preimages of a `preimage-sum` run over `list` claiming `claim`.
pub(crate) fn sum_oracle(list: &[u8], claim: u64) -> MapOracle {
    let mut oracle = MapOracle::new();
    let key = oracle.insert_keccak(list.to_vec());
    oracle.insert(local_key(1), key.to_vec()).expect("local 1");
    oracle.insert(local_key(2), claim.to_be_bytes().to_vec()).expect("local 2");
    oracle
}

#[test]
fn a_rust_program_runs_and_gives_its_verdict() {
    let Some(elf) = guest_elf("preimage-sum") else { return };
    let list: Vec<u8> = (0..=255u8).collect();
    let sum: u64 = list.iter().map(|&b| b as u64).sum();

    let mut m = Machine::load_elf(&elf).expect("load");
    assert_eq!(m.run(&mut sum_oracle(&list, sum), 10_000_000).expect("run"), Status::Valid);
    assert_eq!(String::from_utf8_lossy(&m.output), format!("sum {sum} of 256 bytes\n"));
    println!("preimage-sum: {} instructions, {} pages of memory", m.step, m.memory.pages());
    let state = m.state();
    assert_eq!(state.hash()[0], Status::Valid as u8);

    let mut wrong = Machine::load_elf(&elf).expect("load");
    assert_eq!(wrong.run(&mut sum_oracle(&list, sum + 1), 10_000_000).expect("run"), Status::Invalid);
    assert_eq!(wrong.state().hash()[0], Status::Invalid as u8);
    assert_eq!(wrong.step, m.step, "the same work, another verdict");
}

#[test]
fn a_missing_preimage_stops_the_run_not_the_verdict() {
    let Some(elf) = guest_elf("preimage-sum") else { return };
    let mut oracle = MapOracle::new();
    oracle.insert(local_key(1), B256::repeat_byte(2).to_vec()).expect("local 1");
    let mut m = Machine::load_elf(&elf).expect("load");
    let err = m.run(&mut oracle, 10_000_000).expect_err("no list");
    assert!(err.to_string().contains("no preimage"), "{err}");
    assert_eq!(m.status(), Status::Unfinished);
}
