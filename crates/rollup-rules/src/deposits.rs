//! Deposits: the L1 portal's `TransactionDeposited` events become L2 transactions of type
//! `0x7E`, and every L2 block opens with a system deposit that records its L1 origin in the
//! `L1Block` predeploy. Both are derived from L1 alone, so every node builds the same ones.

use alloc::{
    format,
    string::{String, ToString},
};
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent};
use loft_evm::{TxDeposit, l1_fee::L1Prices};

use crate::config::{L1_BLOCK, L1_INFO_DEPOSIT_GAS, L1_INFO_DEPOSITOR};

alloy_sol_types::sol! {
    /// The portal's deposit event (`contracts/src/rollup/RollupPortal.sol`).
    event TransactionDeposited(address indexed from, address indexed to, uint256 indexed depositNonce, bytes opaqueData);

    /// The `L1Block` predeploy's setter, called by the L1-info deposit.
    function setL1BlockValues(uint64 number_, uint64 timestamp_, uint256 basefee_, bytes32 hash_, uint256 blobBaseFee_, bytes32 batcherHash_);
}

/// Length of the fixed part of `opaqueData`: mint, value, gas limit, is-creation flag.
const OPAQUE_FIXED_LEN: usize = 32 + 32 + 8 + 1;

/// Why a log is not a deposit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DepositError {
    /// The log was not emitted by the portal.
    #[error("log from {0}, not the portal")]
    WrongEmitter(Address),
    /// Another event.
    #[error("not a TransactionDeposited event")]
    NotADeposit,
    /// The event's ABI encoding is malformed.
    #[error("malformed deposit event: {0}")]
    Malformed(String),
}

/// `sourceHash` of a user deposit: unique per deposit (the portal's nonce never repeats) and
/// tied to the L1 block that holds it, so a reorged deposit gets a new hash.
pub fn user_deposit_source_hash(l1_block_hash: B256, deposit_nonce: U256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(l1_block_hash.as_slice());
    preimage[32..].copy_from_slice(&deposit_nonce.to_be_bytes::<32>());
    keccak256(preimage)
}

/// Turns a portal log into the L2 deposit transaction it asks for.
pub fn decode_deposit(log: &Log, portal: Address, l1_block_hash: B256) -> Result<TxDeposit, DepositError> {
    if log.address != portal {
        return Err(DepositError::WrongEmitter(log.address));
    }
    if log.topics().first() != Some(&TransactionDeposited::SIGNATURE_HASH) {
        return Err(DepositError::NotADeposit);
    }
    let event = TransactionDeposited::decode_log_data(&log.data)
        .map_err(|e| DepositError::Malformed(e.to_string()))?;
    let opaque = event.opaqueData.as_ref();
    if opaque.len() < OPAQUE_FIXED_LEN {
        return Err(DepositError::Malformed(format!("opaqueData is {} bytes", opaque.len())));
    }
    let mint = U256::from_be_slice(&opaque[..32]);
    let value = U256::from_be_slice(&opaque[32..64]);
    let mut gas = [0u8; 8];
    gas.copy_from_slice(&opaque[64..72]);
    let is_creation = match opaque[72] {
        0 => false,
        1 => true,
        other => return Err(DepositError::Malformed(format!("isCreation byte {other}"))),
    };
    let mint: u128 = mint.try_into().map_err(|_| DepositError::Malformed("mint above 2^128".into()))?;
    Ok(TxDeposit {
        source_hash: user_deposit_source_hash(l1_block_hash, event.depositNonce),
        from: event.from,
        to: if is_creation { TxKind::Create } else { TxKind::Call(event.to) },
        mint,
        value,
        gas_limit: u64::from_be_bytes(gas),
        is_system_transaction: false,
        input: Bytes::copy_from_slice(&opaque[OPAQUE_FIXED_LEN..]),
    })
}

/// An L2 block's L1 origin, as the L1-info deposit records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1BlockInfo {
    /// The L1 block's number.
    pub number: u64,
    /// Its timestamp.
    pub timestamp: u64,
    /// Its base fee.
    pub base_fee: u128,
    /// Its hash.
    pub hash: B256,
    /// Its blob base fee.
    pub blob_base_fee: u128,
    /// The batcher account, left-padded to 32 bytes.
    pub batcher_hash: B256,
}

impl L1BlockInfo {
    /// The prices the block's transactions pay their L1 data fee at.
    pub fn prices(&self) -> L1Prices {
        L1Prices { base_fee: self.base_fee, blob_base_fee: self.blob_base_fee }
    }

    /// The system deposit opening the `sequence_number`-th L2 block of this epoch: it calls
    /// `L1Block.setL1BlockValues`. Its `sourceHash` is `keccak256(abi.encode(1, l1Hash,
    /// sequenceNumber))`, 96 bytes, so it can not collide with a user deposit's 64-byte preimage.
    pub fn deposit(&self, sequence_number: u64) -> TxDeposit {
        let mut preimage = [0u8; 96];
        preimage[31] = 1;
        preimage[32..64].copy_from_slice(self.hash.as_slice());
        preimage[88..96].copy_from_slice(&sequence_number.to_be_bytes());
        let call = setL1BlockValuesCall {
            number_: self.number,
            timestamp_: self.timestamp,
            basefee_: U256::from(self.base_fee),
            hash_: self.hash,
            blobBaseFee_: U256::from(self.blob_base_fee),
            batcherHash_: self.batcher_hash,
        };
        TxDeposit {
            source_hash: keccak256(preimage),
            from: L1_INFO_DEPOSITOR,
            to: TxKind::Call(L1_BLOCK),
            mint: 0,
            value: U256::ZERO,
            gas_limit: L1_INFO_DEPOSIT_GAS,
            is_system_transaction: false,
            input: call.abi_encode().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{LogData, address};

    const PORTAL: Address = address!("00000000000000000000000000000000000000aa");

    fn deposit_log(from: Address, to: Address, nonce: u64, opaque: Vec<u8>) -> Log {
        let event =
            TransactionDeposited { from, to, depositNonce: U256::from(nonce), opaqueData: opaque.into() };
        Log { address: PORTAL, data: event.encode_log_data() }
    }

    fn opaque(mint: u64, value: u64, gas: u64, creation: u8, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&U256::from(mint).to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
        out.extend_from_slice(&gas.to_be_bytes());
        out.push(creation);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn decodes_the_portal_event() {
        let from = Address::repeat_byte(1);
        let to = Address::repeat_byte(2);
        let l1_hash = B256::repeat_byte(9);
        let log = deposit_log(from, to, 7, opaque(5, 3, 100_000, 0, b"hi"));
        let d = decode_deposit(&log, PORTAL, l1_hash).expect("deposit");
        assert_eq!(d.from, from);
        assert_eq!(d.to, TxKind::Call(to));
        assert_eq!((d.mint, d.value, d.gas_limit), (5, U256::from(3), 100_000));
        assert_eq!(d.input, Bytes::from_static(b"hi"));
        assert_eq!(d.source_hash, user_deposit_source_hash(l1_hash, U256::from(7)));
        // the same event in another L1 block is another deposit
        assert_ne!(
            decode_deposit(&log, PORTAL, B256::repeat_byte(8)).expect("deposit").source_hash,
            d.source_hash
        );
        let create = deposit_log(from, Address::ZERO, 8, opaque(0, 0, 500_000, 1, &[0x60, 0x00]));
        assert_eq!(decode_deposit(&create, PORTAL, l1_hash).expect("deposit").to, TxKind::Create);
    }

    #[test]
    fn refuses_what_is_not_a_portal_deposit() {
        let log = deposit_log(Address::ZERO, Address::ZERO, 0, opaque(0, 0, 21_000, 0, &[]));
        let mut elsewhere = log.clone();
        elsewhere.address = Address::repeat_byte(0xbb);
        assert!(matches!(decode_deposit(&elsewhere, PORTAL, B256::ZERO), Err(DepositError::WrongEmitter(_))));
        let other =
            Log { address: PORTAL, data: LogData::new_unchecked(vec![B256::repeat_byte(1)], Bytes::new()) };
        assert_eq!(decode_deposit(&other, PORTAL, B256::ZERO), Err(DepositError::NotADeposit));
        let short = deposit_log(Address::ZERO, Address::ZERO, 0, vec![0u8; 72]);
        assert!(matches!(decode_deposit(&short, PORTAL, B256::ZERO), Err(DepositError::Malformed(_))));
        let bad_flag = deposit_log(Address::ZERO, Address::ZERO, 0, opaque(0, 0, 21_000, 2, &[]));
        assert!(matches!(decode_deposit(&bad_flag, PORTAL, B256::ZERO), Err(DepositError::Malformed(_))));
    }

    #[test]
    fn l1_info_deposits_are_unique_per_block_and_slot() {
        let info = L1BlockInfo { number: 10, hash: B256::repeat_byte(3), base_fee: 7, ..Default::default() };
        let a = info.deposit(0);
        let b = info.deposit(1);
        assert_ne!(a.source_hash, b.source_hash);
        assert_eq!(a.from, L1_INFO_DEPOSITOR);
        assert_eq!(a.to, TxKind::Call(L1_BLOCK));
        let call = setL1BlockValuesCall::abi_decode(&a.input).expect("abi");
        assert_eq!(call.number_, 10);
        assert_eq!(call.basefee_, U256::from(7));
        assert_eq!(info.prices().base_fee, 7);
    }
}
