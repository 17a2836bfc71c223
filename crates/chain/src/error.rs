//! Typed errors of the chain engine. A transaction's ([`TxError`]) are the execution core's.

pub use loft_evm::{ExecError, TxError};

/// Errors of the chain engine.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A transaction was refused.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The store failed.
    #[error("storage: {0}")]
    Storage(String),
    /// Stored data could not be decoded (a corrupted store).
    #[error("corrupted store: {0}")]
    Corrupt(String),
    /// A block could not be built as asked (a timestamp not after its parent's).
    #[error("invalid block: {0}")]
    InvalidBlock(String),
    /// The EVM failed in a way that is not the transaction's fault.
    #[error("evm: {0}")]
    Evm(String),
    /// A block, transaction or state that is not known.
    #[error("{0} not found")]
    NotFound(String),
    /// State of a block other than the head was asked for.
    #[error("historical state is not available: block {requested}, head {head}")]
    HistoricalState {
        /// The block asked for.
        requested: u64,
        /// The current head.
        head: u64,
    },
    /// The store belongs to another chain.
    #[error("data directory holds chain {found}, not {expected}")]
    ChainMismatch {
        /// Chain id in the store.
        found: u64,
        /// Chain id configured.
        expected: u64,
    },
    /// A safe or finalized block past the head, or finalized past safe.
    #[error("invalid forkchoice: safe {safe}, finalized {finalized}, head {head}")]
    InvalidForkchoice {
        /// The safe block asked for.
        safe: u64,
        /// The finalized block asked for.
        finalized: u64,
        /// The head.
        head: u64,
    },
    /// A request that cannot be served as asked.
    #[error("{0}")]
    Invalid(String),
}

impl From<ExecError> for ChainError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Evm(message) => ChainError::Evm(message),
        }
    }
}

impl From<redb::Error> for ChainError {
    fn from(e: redb::Error) -> Self {
        ChainError::Storage(e.to_string())
    }
}

macro_rules! storage_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ChainError {
            fn from(e: $t) -> Self {
                ChainError::Storage(e.to_string())
            }
        }
    )*};
}
storage_error_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<alloy_rlp::Error> for ChainError {
    fn from(e: alloy_rlp::Error) -> Self {
        ChainError::Corrupt(e.to_string())
    }
}
