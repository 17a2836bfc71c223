//! loft's execution core, `no_std` + `alloc`: what the chain engine runs for every block and
//! what a fault proof re-executes, the same code on a node and in a RISC-V guest.
//!
//! - [`tx`]: signed transactions (legacy, EIP-2930, EIP-1559, EIP-4844, EIP-7702) decoded and
//!   recovered, their static checks, and revm's transaction environment;
//! - [`deposit`]: rollup deposit transactions (type `0x7E`) and loft's receipts;
//! - [`l1_fee`]: the L1 data fee a rollup charges on top of L2 gas;
//! - [`block`]: one block's environment from its parent, its deposits and transactions run
//!   over any revm database, and its sealed header;
//! - [`error`]: typed errors, a transaction's with geth's words.
//!
//! No I/O, no threads, no clock: the caller supplies the state (any revm `Database`), the
//! parent header and the block's inputs. `cargo build -p loft-evm --target
//! riscv32imac-unknown-none-elf` builds it bare (CI does); feature `std` brings the standard
//! library, `kzg` the KZG check of network-form blob transactions.

#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod block;
pub mod deposit;
pub mod error;
pub mod l1_fee;
pub mod tx;

pub use block::{BlockExecutor, BlockRules, Executed, NextBlock, SealedHeader, TxSource};
pub use deposit::{LoftReceipt, TxDeposit};
pub use error::{ExecError, TxError};
pub use tx::{BlockTx, RecoveredTx};
