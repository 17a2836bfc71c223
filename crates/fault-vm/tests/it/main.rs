//! The fault-proof VM against a reference no one here wrote (QEMU's RISC-V user-mode
//! emulator) on assembled programs, and its step proofs against its own runs.

mod guest;
mod onchain;
mod preimage;
mod programs;
mod qemu;
mod random;
mod steps;
