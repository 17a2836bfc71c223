//! loft's EVM chain engine: one engine for every EVM chain loft runs (the embedded L1
//! devnet and the optimistic rollup's L2; a sidechain is planned, not built).
//!
//! - [`tx`], [`deposit`], [`l1_fee`]: the execution core's (`loft-evm`, `no_std`), which also
//!   runs each block's transactions (`loft_evm::BlockExecutor`);
//! - [`pool`]: per-sender nonce ordering, replacement by a higher fee;
//! - [`config`]: a chain's parameters and genesis accounts;
//! - [`chain`]: block building with the EIP-1559 base fee, revm execution, receipts and logs;
//! - [`state`]: accounts, code and storage in memory under a two-level keccak sparse Merkle
//!   tree, with proofs;
//! - [`store`]: redb persistence; a block is written atomically, a restart resumes at the
//!   same head and state root.

pub mod chain;
pub mod config;
pub mod error;
pub mod journal;
pub mod pool;
pub mod state;
pub mod store;

// The execution core's modules, where the engine's users have always found them.
pub use loft_evm::{deposit, l1_fee, tx};

pub use chain::{
    BlockSpec, BuiltBlock, CallOutcome, CallRequest, Chain, LogEntry, LogQuery, MinedTx, ReceiptInfo,
    SealedHeader, Snapshot,
};
pub use config::{ChainConfig, Finality, GenesisAccount, MAX_HISTORY, unix_now};
pub use deposit::{LoftReceipt, TxDeposit};
pub use error::{ChainError, TxError};
pub use state::{StateProof, WorldState};
pub use store::Store;
pub use tx::{BlockTx, RecoveredTx};
