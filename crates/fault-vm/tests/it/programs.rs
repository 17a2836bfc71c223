//! One program per instruction class (`programs/*.S`), under QEMU and the VM.

use crate::qemu::same_as_qemu;

fn program(name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/it/programs/{name}.S"));
    let source = std::fs::read_to_string(path).expect("the program");
    if let Some(m) = same_as_qemu(&source, name) {
        println!("{name}: {} instructions", m.step);
    }
}

#[test]
fn alu() {
    program("alu");
}

#[test]
fn mul_div() {
    program("muldiv");
}

#[test]
fn loads_and_stores() {
    program("memory");
}

#[test]
fn atomics() {
    program("amo");
}

#[test]
fn branches_jumps_and_syscalls() {
    program("control");
}

#[test]
fn compressed() {
    program("compressed");
}
