//! Rollup deposit transactions (EIP-2718 type `0x7E`, the OP Stack's format) and the
//! receipts of every transaction kind a loft block holds.
//!
//! A deposit is derived from an L1 event, not signed: it mints ETH to its sender, runs with
//! the gas bought on L1 (it pays no L2 fee), and counts as included even when its execution
//! fails, so that an L1 user's deposit can never be refused by the L2. The type itself is
//! op-alloy's [`TxDeposit`].

use alloc::vec::Vec;

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Bloom, Log};
use op_alloy_consensus::OpDepositReceipt;
pub use op_alloy_consensus::TxDeposit;

/// The EIP-2718 type byte of a deposit.
pub const DEPOSIT_TX_TYPE: u8 = 0x7E;

/// A receipt as a loft block stores it: Ethereum's, or a deposit's, which also records the
/// nonce its sender had (so that a deposit creating a contract has a known address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoftReceipt {
    /// A signed transaction's receipt.
    Eth(ReceiptEnvelope),
    /// A deposit's receipt.
    Deposit(ReceiptWithBloom<OpDepositReceipt>),
}

impl LoftReceipt {
    /// A receipt for a transaction of type `ty` (`deposit_nonce` only for deposits).
    pub fn new(ty: u8, success: bool, cumulative_gas_used: u64, logs: Vec<Log>, deposit_nonce: u64) -> Self {
        let receipt = Receipt { status: Eip658Value::Eip658(success), cumulative_gas_used, logs };
        let logs_bloom = receipt.bloom_slow();
        if ty == DEPOSIT_TX_TYPE {
            let deposit = OpDepositReceipt {
                inner: receipt,
                deposit_nonce: Some(deposit_nonce),
                deposit_receipt_version: Some(1),
            };
            return Self::Deposit(ReceiptWithBloom { receipt: deposit, logs_bloom });
        }
        let with_bloom = ReceiptWithBloom { receipt, logs_bloom };
        Self::Eth(match ty {
            1 => ReceiptEnvelope::Eip2930(with_bloom),
            2 => ReceiptEnvelope::Eip1559(with_bloom),
            3 => ReceiptEnvelope::Eip4844(with_bloom),
            4 => ReceiptEnvelope::Eip7702(with_bloom),
            _ => ReceiptEnvelope::Legacy(with_bloom),
        })
    }

    /// The transaction type it belongs to.
    pub fn ty(&self) -> u8 {
        match self {
            Self::Eth(r) => r.tx_type() as u8,
            Self::Deposit(_) => DEPOSIT_TX_TYPE,
        }
    }

    /// Whether the transaction succeeded.
    pub fn status(&self) -> bool {
        match self {
            Self::Eth(r) => r.status(),
            Self::Deposit(r) => r.receipt.inner.status.coerce_status(),
        }
    }

    /// Gas used by the block up to and including this transaction.
    pub fn cumulative_gas_used(&self) -> u64 {
        match self {
            Self::Eth(r) => r.cumulative_gas_used(),
            Self::Deposit(r) => r.receipt.inner.cumulative_gas_used,
        }
    }

    /// The logs.
    pub fn logs(&self) -> &[Log] {
        match self {
            Self::Eth(r) => r.logs(),
            Self::Deposit(r) => &r.receipt.inner.logs,
        }
    }

    /// The logs' bloom filter.
    pub fn logs_bloom(&self) -> &Bloom {
        match self {
            Self::Eth(r) => r.logs_bloom(),
            Self::Deposit(r) => &r.logs_bloom,
        }
    }

    /// For a deposit, the nonce its sender had when it ran.
    pub fn deposit_nonce(&self) -> Option<u64> {
        match self {
            Self::Eth(_) => None,
            Self::Deposit(r) => r.receipt.deposit_nonce,
        }
    }

    /// The EIP-2718 encoding (the receipts root commits to it).
    pub fn encoded_2718(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_2718(&mut out);
        out
    }

    /// Writes the EIP-2718 encoding.
    pub fn encode_2718(&self, out: &mut dyn alloy_rlp::BufMut) {
        match self {
            Self::Eth(r) => r.encode_2718(out),
            Self::Deposit(r) => {
                out.put_u8(DEPOSIT_TX_TYPE);
                alloy_rlp::Encodable::encode(r, out);
            }
        }
    }

    /// Decodes [`Self::encode_2718`]'s output.
    pub fn decode_2718(bytes: &[u8]) -> Result<Self, alloy_rlp::Error> {
        match bytes.split_first() {
            Some((&DEPOSIT_TX_TYPE, mut rest)) => {
                let r: ReceiptWithBloom<OpDepositReceipt> = alloy_rlp::Decodable::decode(&mut rest)?;
                if !rest.is_empty() {
                    return Err(alloy_rlp::Error::UnexpectedLength);
                }
                Ok(Self::Deposit(r))
            }
            _ => {
                let mut buf = bytes;
                ReceiptEnvelope::decode_2718(&mut buf)
                    .map(Self::Eth)
                    .map_err(|_| alloy_rlp::Error::Custom("malformed receipt"))
            }
        }
    }
}
