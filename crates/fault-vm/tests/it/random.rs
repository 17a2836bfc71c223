//! Random instruction sequences, under QEMU and the VM: every RV32IMA instruction (the
//! assembler compresses those it can, so RV32C is in them too) on random registers and
//! edge values, loads and stores into the scratch memory, AMOs, and forward branches and
//! jumps over random instructions.

use std::fmt::Write as _;

use crate::qemu::same_as_qemu;

/// Programs, and instructions in each. `LOFT_FAULT_VM_RANDOM=N` runs N programs instead.
const PROGRAMS: usize = 24;
const INSTRUCTIONS: usize = 150;

/// xorshift64*: the programs are the same on every run, and a failing seed can be rerun.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const EDGES: [u32; 8] = [0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fffe, 31];

/// A register the program may write: not sp (x2, the scratch memory's base) nor t6 (x31, the
/// dump's); x0 now and then.
fn rd(rng: &mut Rng) -> String {
    loop {
        let r = rng.below(32);
        if r != 2 && r != 31 && (r != 0 || rng.below(8) == 0) {
            return format!("x{r}");
        }
    }
}

fn rs(rng: &mut Rng) -> String {
    format!("x{}", rng.below(32))
}

/// One instruction (or a short group: an AMO after computing its address, a branch over
/// one instruction).
fn instruction(rng: &mut Rng, out: &mut String, label: &mut usize) {
    const R: &[&str] = &[
        "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "mul", "mulh", "mulhsu",
        "mulhu", "div", "divu", "rem", "remu",
    ];
    const I: &[&str] = &["addi", "slti", "sltiu", "xori", "ori", "andi"];
    const SHIFT: &[&str] = &["slli", "srli", "srai"];
    const LOAD: &[(&str, u64)] = &[("lb", 1), ("lbu", 1), ("lh", 2), ("lhu", 2), ("lw", 4)];
    const STORE: &[(&str, u64)] = &[("sb", 1), ("sh", 2), ("sw", 4)];
    const AMO: &[&str] = &[
        "amoswap.w",
        "amoadd.w",
        "amoxor.w",
        "amoand.w",
        "amoor.w",
        "amomin.w",
        "amomax.w",
        "amominu.w",
        "amomaxu.w",
    ];
    const BRANCH: &[&str] = &["beq", "bne", "blt", "bge", "bltu", "bgeu"];
    let imm12 = |rng: &mut Rng| rng.below(4096) as i64 - 2048;
    match rng.below(100) {
        0..=34 => {
            let _ = writeln!(out, "    {} {}, {}, {}", rng.pick(R), rd(rng), rs(rng), rs(rng));
        }
        35..=49 => {
            let _ = writeln!(out, "    {} {}, {}, {}", rng.pick(I), rd(rng), rs(rng), imm12(rng));
        }
        50..=57 => {
            let _ = writeln!(out, "    {} {}, {}, {}", rng.pick(SHIFT), rd(rng), rs(rng), rng.below(32));
        }
        58..=61 => {
            let op = if rng.below(2) == 0 { "lui" } else { "auipc" };
            let _ = writeln!(out, "    {op} {}, {}", rd(rng), rng.below(1 << 20));
        }
        62..=71 => {
            let (op, size) = LOAD[rng.below(LOAD.len() as u64) as usize];
            let _ = writeln!(out, "    {op} {}, {}(sp)", rd(rng), rng.below(256 / size) * size);
        }
        72..=81 => {
            let (op, size) = STORE[rng.below(STORE.len() as u64) as usize];
            let _ = writeln!(out, "    {op} {}, {}(sp)", rs(rng), rng.below(256 / size) * size);
        }
        82..=87 => {
            let _ = writeln!(out, "    addi gp, sp, {}", rng.below(64) * 4);
            if rng.below(4) == 0 {
                let _ = writeln!(out, "    lr.w {}, (gp)", rd(rng));
                let _ = writeln!(out, "    sc.w {}, {}, (gp)", rd(rng), rs(rng));
            } else {
                let _ = writeln!(out, "    {} {}, {}, (gp)", rng.pick(AMO), rd(rng), rs(rng));
            }
        }
        88..=95 => {
            *label += 1;
            let _ = writeln!(out, "    {} {}, {}, L{label}", rng.pick(BRANCH), rs(rng), rs(rng));
            let _ = writeln!(out, "    {} {}, {}, {}", rng.pick(R), rd(rng), rs(rng), rs(rng));
            let _ = writeln!(out, "L{label}:");
        }
        _ => {
            *label += 1;
            if rng.below(2) == 0 {
                let _ = writeln!(out, "    jal {}, L{label}", rd(rng));
            } else {
                let _ = writeln!(out, "    la gp, L{label}");
                let _ = writeln!(out, "    jalr {}, 0(gp)", rd(rng));
            }
            let _ = writeln!(out, "    {} {}, {}, {}", rng.pick(I), rd(rng), rs(rng), imm12(rng));
            let _ = writeln!(out, "L{label}:");
        }
    }
}

/// A random program of `n` instructions, seeded by `seed`.
pub(crate) fn program(seed: u64, n: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::from("    .include \"prologue.inc\"\n");
    for r in (1..31).filter(|&r| r != 2) {
        let v = if rng.below(3) == 0 { EDGES[rng.below(8) as usize] } else { rng.next() as u32 };
        let _ = writeln!(out, "    li x{r}, {v:#x}");
    }
    for _ in 0..8 {
        let _ = writeln!(out, "    sw x{}, {}(sp)", rng.below(31), rng.below(64) * 4);
    }
    let mut label = 0;
    for _ in 0..n {
        instruction(&mut rng, &mut out, &mut label);
    }
    out.push_str("    j dump\n    .include \"epilogue.inc\"\n");
    out
}

#[test]
fn random_programs_run_as_under_qemu() {
    let programs =
        std::env::var("LOFT_FAULT_VM_RANDOM").ok().and_then(|n| n.parse().ok()).unwrap_or(PROGRAMS);
    for seed in 0..programs as u64 {
        if same_as_qemu(&program(seed, INSTRUCTIONS), &format!("random-{seed}")).is_none() {
            return;
        }
    }
}
