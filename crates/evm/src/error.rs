//! Typed errors of the execution core.
//!
//! [`TxError`]'s messages are the ones geth returns, word for word where geth has one, so
//! that wallets and libraries that match on them (ethers, viem, web3.py, cast) behave as
//! they do against geth.

use alloc::string::String;

use alloy_primitives::{Address, U256};

/// Why a transaction was refused before it entered the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a valid EIP-2718 transaction.
    #[error("rlp: {0}")]
    Decode(String),
    /// The signature does not recover to an address.
    #[error("invalid sender")]
    InvalidSender,
    /// The transaction is signed for another chain.
    #[error("invalid chain id for signer: have {have} want {want}")]
    WrongChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// A legacy transaction without EIP-155 replay protection.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    NotReplayProtected,
    /// The transaction's nonce was already used.
    #[error("nonce too low: address {address}, tx: {tx} state: {state}")]
    NonceTooLow {
        /// The sender.
        address: Address,
        /// The transaction's nonce.
        tx: u64,
        /// The sender's next nonce.
        state: u64,
    },
    /// The nonce is further ahead of the account's than the pool keeps.
    #[error("nonce too high: address {address}, tx: {tx} state: {state}")]
    NonceTooHigh {
        /// The sender.
        address: Address,
        /// The transaction's nonce.
        tx: u64,
        /// The sender's next nonce.
        state: u64,
    },
    /// The sender cannot pay `gas * price + value`.
    #[error("insufficient funds for gas * price + value: address {address} have {have} want {want}")]
    InsufficientFunds {
        /// The sender.
        address: Address,
        /// Its balance.
        have: U256,
        /// What the transaction may cost.
        want: U256,
    },
    /// The gas limit is below the transaction's intrinsic gas.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// Its intrinsic gas.
        needed: u64,
    },
    /// The gas limit is above the block gas limit.
    #[error("exceeds block gas limit")]
    GasLimitTooHigh,
    /// The priority fee is above the max fee.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The max fee is below the pool's minimum.
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    Underpriced {
        /// The offered tip.
        tip: u128,
        /// The pool's minimum tip.
        min: u128,
    },
    /// The max fee per gas is below the current base fee.
    #[error(
        "max fee per gas less than block base fee: address {address}, maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// The sender.
        address: Address,
        /// The transaction's max fee per gas.
        max_fee: u128,
        /// The pending block's base fee.
        base_fee: u64,
    },
    /// A transaction with the same sender and nonce is pooled and this one does not pay enough more.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The same transaction is already pooled or mined.
    #[error("already known")]
    AlreadyKnown,
    /// The encoded transaction is larger than the pool accepts.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// The transaction's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Contract creation code larger than EIP-3860 allows.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitCodeTooLarge {
        /// The init code's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A blob transaction's sidecar is missing or does not match its commitments.
    #[error("invalid blob sidecar: {0}")]
    InvalidBlobs(String),
    /// A blob transaction without blobs, or with too many.
    #[error("blob transaction has {count} blobs, allowed 1..={max}")]
    BlobCount {
        /// Blobs carried.
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// The pool is full.
    #[error("txpool is full")]
    PoolFull,
    /// A transaction type this chain does not accept.
    #[error("transaction type not supported")]
    TypeNotSupported,
}

/// Why a block could not be executed: a failure of the EVM or of the state under it that is
/// not a transaction's fault (a transaction that can not run is left out, not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The EVM or its database failed.
    #[error("evm: {0}")]
    Evm(String),
}
