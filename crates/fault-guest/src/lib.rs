//! The guest side of the fault-proof VM (docs/fault-proofs.md): what a `no_std` program
//! built for `riscv32imac-unknown-none-elf` needs to run on `loft-fault-vm`: the entry point
//! (`_start` sets the stack and calls the program's `main` through [`entry!`]), a heap, a
//! panic handler that prints the message and exits with code 2 (the "panic" status), the
//! syscalls ([`io`]) and the preimage oracle's client ([`oracle`]), which checks every
//! keccak preimage against its key: the program trusts nothing its host hands it.
//!
//! On any other target the crate is empty but for the key helpers, so that the workspace
//! builds everywhere.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

#[cfg(all(target_arch = "riscv32", target_os = "none"))]
pub mod io;
#[cfg(all(target_arch = "riscv32", target_os = "none"))]
pub mod oracle;
#[cfg(all(target_arch = "riscv32", target_os = "none"))]
mod rt;

pub mod keys;

/// Declares the program's `main` (a `fn() -> u8`, the exit code: 0 the claim holds, 1 it
/// does not).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The program's entry, called by the guest runtime's `_start`.
        #[unsafe(no_mangle)]
        pub extern "Rust" fn __loft_main() -> u8 {
            $main()
        }
    };
}
