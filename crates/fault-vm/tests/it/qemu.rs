//! Assembling a program with GNU as (Debian's `gcc-riscv64-unknown-elf`) and running it
//! under QEMU's user-mode emulator (`qemu-riscv32`) and under the loft VM.

use std::{path::Path, process::Command};

use loft_fault_vm::{Machine, MapOracle, Status};

/// The cross compiler and QEMU, or `None` after the test kit's skip-or-fail.
pub(crate) fn tools() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    Some((loft_testkit::tool("riscv64-unknown-elf-gcc")?, loft_testkit::tool("qemu-riscv32")?))
}

/// Assembles `source` (with `programs/` on the include path) for rv32imac into an ELF.
pub(crate) fn assemble(gcc: &Path, source: &str, dir: &Path, name: &str) -> Vec<u8> {
    let src = dir.join(format!("{name}.S"));
    let elf = dir.join(name);
    std::fs::write(&src, source).expect("write the source");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/programs");
    let out = Command::new(gcc)
        .args(["-march=rv32imac_zifencei", "-mabi=ilp32", "-nostdlib", "-nostartfiles", "-static"])
        .args(["-Wl,-Ttext=0x10000", "-Wl,--no-relax", "-I"])
        .arg(&include)
        .arg("-o")
        .arg(&elf)
        .arg(&src)
        .output()
        .expect("run the assembler");
    assert!(out.status.success(), "{name} does not assemble:\n{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(&elf).expect("the ELF")
}

/// What QEMU prints running the ELF at `path` (it must exit 0).
pub(crate) fn run_qemu(qemu: &Path, path: &Path) -> Vec<u8> {
    let out = Command::new(qemu).arg(path).output().expect("run qemu");
    assert!(out.status.success(), "qemu: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// What the loft VM prints running `elf` (it must exit 0); also the machine, for more checks.
pub(crate) fn run_vm(elf: &[u8]) -> (Vec<u8>, Machine) {
    let mut m = Machine::load_elf(elf).expect("load");
    let status = m.run(&mut MapOracle::new(), 1_000_000).expect("run");
    assert_eq!(status, Status::Valid, "the VM stopped at pc {:#x} with {}", m.pc, m.exit_code);
    (m.output.clone(), m)
}

/// Runs `source` under both and requires the same output; returns the VM's run.
pub(crate) fn same_as_qemu(source: &str, name: &str) -> Option<Machine> {
    let (gcc, qemu) = tools()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let elf = assemble(&gcc, source, dir.path(), name);
    let reference = run_qemu(&qemu, &dir.path().join(name));
    let (ours, machine) = run_vm(&elf);
    assert_eq!(reference.len(), 384, "{name}: QEMU printed {} bytes", reference.len());
    if ours != reference {
        let regs = |b: &[u8]| -> Vec<u32> {
            b.chunks(4).take(32).map(|w| u32::from_le_bytes(w.try_into().unwrap_or([0; 4]))).collect()
        };
        let (q, v) = (regs(&reference), regs(&ours));
        let diff: Vec<String> = (0..32)
            .filter(|&r| q.get(r) != v.get(r))
            .map(|r| {
                format!(
                    "x{r}: qemu {:#x} vm {:#x}",
                    q.get(r).copied().unwrap_or(0),
                    v.get(r).copied().unwrap_or(0)
                )
            })
            .collect();
        panic!(
            "{name}: the VM differs from QEMU: {diff:?}; memory equal: {}",
            reference[128..] == ours[128..]
        );
    }
    Some(machine)
}
