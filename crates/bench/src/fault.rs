//! `loft bench fault`: the fault-proof VM's speed on a real guest program, without and with
//! a memory root after every instruction, and the time to prove the last instruction of its
//! run (the step a dispute most often ends on, and the one farthest from the start).
//!
//! The program is `loft-fault-guest`'s example `preimage-sum` (built by
//! `scripts/build-guests.sh`), fed a list of 256 bytes through the preimage oracle. The
//! figures that need the rollup's own fault-proof program (instructions per L2 block) and the
//! one-step contract (gas per step) come with them (issue 27).

use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use clap::Args;
use loft_fault_vm::{Machine, MapOracle, Status, oracle::local_key};

use crate::report::{Better, Report, median};

/// Options of `loft bench fault`.
#[derive(Args, Debug, Clone)]
pub struct FaultArgs {
    /// Runs of the program to take the median of.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// The example program's ELF.
fn program() -> anyhow::Result<Vec<u8>> {
    let path = PathBuf::from("target/riscv32imac-unknown-none-elf/bare/examples/preimage-sum");
    std::fs::read(&path)
        .with_context(|| format!("reading {} (build it with scripts/build-guests.sh)", path.display()))
}

/// The boot data and preimages of a `preimage-sum` run whose claim holds.
fn oracle() -> anyhow::Result<MapOracle> {
    let list: Vec<u8> = (0..=255u8).collect();
    let sum: u64 = list.iter().map(|&b| b as u64).sum();
    let mut oracle = MapOracle::new();
    let key = oracle.insert_keccak(list);
    oracle.insert(local_key(1), key.to_vec())?;
    oracle.insert(local_key(2), sum.to_be_bytes().to_vec())?;
    Ok(oracle)
}

/// Runs the program to its end; `roots` computes the memory root after every instruction.
fn run_once(elf: &[u8], roots: bool) -> anyhow::Result<(u64, f64)> {
    let mut oracle = oracle()?;
    let mut m = Machine::load_elf(elf)?;
    let start = Instant::now();
    if roots {
        while !m.exited {
            m.step(&mut oracle)?;
            m.memory.root();
        }
    } else {
        m.run(&mut oracle, u64::MAX)?;
    }
    let took = start.elapsed().as_secs_f64();
    anyhow::ensure!(m.status() == Status::Valid, "the program ended {:?}", m.status());
    Ok((m.step, took))
}

/// Runs `loft bench fault`.
pub async fn run(args: FaultArgs) -> anyhow::Result<Report> {
    let elf = program()?;
    let mut report = Report::new("fault");
    let runs = args.runs.max(1);
    let (mut fast, mut with_roots, mut proofs, mut to_proof) = (vec![], vec![], vec![], vec![]);
    let mut steps = 0;
    for _ in 0..runs {
        let (n, took) = run_once(&elf, false)?;
        steps = n;
        fast.push(n as f64 / took);
        let (_, took) = run_once(&elf, true)?;
        with_roots.push(n as f64 / took);
        // the proof of the last instruction: run to it, then prove it
        let mut oracle = oracle()?;
        let mut m = Machine::load_elf(&elf)?;
        let start = Instant::now();
        m.run(&mut oracle, n - 1)?;
        let at = Instant::now();
        let w = m.prove_step(&mut oracle)?;
        proofs.push(at.elapsed().as_secs_f64());
        to_proof.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(w.post_hash[0] == Status::Valid as u8, "the last step does not end the run");
    }
    println!("preimage-sum: {steps} instructions per run, {runs} runs");
    let n = steps * runs as u64;
    report.push("fault.vm.steps_per_s", median(&mut fast), "steps/s", Better::Higher, n);
    report.push("fault.vm.steps_per_s.with_roots", median(&mut with_roots), "steps/s", Better::Higher, n);
    report.push("fault.step_proof_s.last", median(&mut to_proof), "s", Better::Lower, runs as u64);
    report.push("fault.step_proof_s.last.proof_only", median(&mut proofs), "s", Better::Lower, runs as u64);
    report.finish()?;
    Ok(report)
}
