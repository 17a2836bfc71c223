//! The fault-proof VM: the small machine whose single step L1 executes when an output root
//! is disputed (docs/fault-proofs.md).
//!
//! One RV32IMAC hart (what `riscv32imac-unknown-none-elf` emits) with memory committed to by
//! a binary keccak Merkle tree of 32-byte leaves, a 210-byte state whose hash carries the
//! program's verdict, Linux-numbered syscalls for exit, output, hints and the preimage oracle,
//! and, at any instruction of a run, the proof that lets the one-step contract on L1
//! (`contracts/src/fault/`) execute that instruction. The VM itself does no I/O: preimages
//! come from a [`PreimageSource`].

mod compressed;
mod exec;
mod machine;
pub mod memory;
pub mod oracle;
mod state;

pub use compressed::expand as expand_compressed;
pub use machine::{Machine, OUTPUT_CAP, PANIC_EXIT, PreimageRead, StepWitness, VmError};
pub use memory::{Memory, MemoryProof};
pub use oracle::{MapOracle, OracleError, PreimageSource};
pub use state::{STATE_BYTES, Status, VmState};
