//! Decoding, signature recovery and static checks of signed transactions, and their
//! translation into revm's transaction environment.

use alloc::{string::ToString, vec, vec::Vec};

#[cfg(feature = "kzg")]
use alloy_consensus::{EthereumTxEnvelope, Signed, TxEip4844Variant, transaction::SignerRecoverable};
use alloy_consensus::{Transaction, TxEnvelope, TxType, Typed2718};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use revm::{
    context::TxEnv,
    context_interface::cfg::gas::calculate_initial_tx_gas,
    primitives::{eip4844::GAS_PER_BLOB, hardfork::SpecId},
};

use crate::{
    deposit::{DEPOSIT_TX_TYPE, TxDeposit},
    error::TxError,
};

/// Largest encoded transaction the pool accepts, blobs excluded (geth's `txMaxSize`).
pub const MAX_TX_SIZE: usize = 128 * 1024;
/// EIP-3860 limit on init code.
pub const MAX_INITCODE_SIZE: usize = 2 * 24_576;
/// Most blobs one transaction may carry (Prague).
pub const MAX_BLOBS_PER_TX: usize = 9;

/// A blob carried by a type-3 transaction's sidecar, kept by the chain for data availability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRecord {
    /// The EIP-4844 versioned hash of the blob's commitment.
    pub versioned_hash: B256,
    /// The 131,072-byte blob.
    pub blob: Bytes,
}

/// A transaction as a block holds it: a signed Ethereum transaction, or a rollup deposit
/// derived from L1 (no signature; its sender is the `from` the L1 portal recorded).
// Signed transactions are nearly all of them: boxing them to shrink the rare deposit
// variant would cost an allocation per transaction.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockTx {
    /// A signed transaction (a blob transaction without its sidecar).
    Signed(TxEnvelope),
    /// A deposit (type `0x7E`).
    Deposit(TxDeposit),
}

/// Delegates a [`Transaction`] method to the variant.
macro_rules! delegate {
    ($self:ident, $tx:ident => $e:expr) => {
        match $self {
            BlockTx::Signed($tx) => $e,
            BlockTx::Deposit($tx) => $e,
        }
    };
}

impl Transaction for BlockTx {
    fn chain_id(&self) -> Option<u64> {
        delegate!(self, t => t.chain_id())
    }
    fn nonce(&self) -> u64 {
        delegate!(self, t => t.nonce())
    }
    fn gas_limit(&self) -> u64 {
        delegate!(self, t => t.gas_limit())
    }
    fn gas_price(&self) -> Option<u128> {
        delegate!(self, t => t.gas_price())
    }
    fn max_fee_per_gas(&self) -> u128 {
        delegate!(self, t => t.max_fee_per_gas())
    }
    fn max_priority_fee_per_gas(&self) -> Option<u128> {
        delegate!(self, t => t.max_priority_fee_per_gas())
    }
    fn max_fee_per_blob_gas(&self) -> Option<u128> {
        delegate!(self, t => t.max_fee_per_blob_gas())
    }
    fn priority_fee_or_price(&self) -> u128 {
        delegate!(self, t => t.priority_fee_or_price())
    }
    fn effective_gas_price(&self, base_fee: Option<u64>) -> u128 {
        delegate!(self, t => t.effective_gas_price(base_fee))
    }
    fn is_dynamic_fee(&self) -> bool {
        delegate!(self, t => t.is_dynamic_fee())
    }
    fn kind(&self) -> TxKind {
        delegate!(self, t => t.kind())
    }
    fn is_create(&self) -> bool {
        delegate!(self, t => t.is_create())
    }
    fn value(&self) -> U256 {
        delegate!(self, t => t.value())
    }
    fn input(&self) -> &Bytes {
        delegate!(self, t => t.input())
    }
    fn access_list(&self) -> Option<&alloy_eips::eip2930::AccessList> {
        delegate!(self, t => t.access_list())
    }
    fn blob_versioned_hashes(&self) -> Option<&[B256]> {
        delegate!(self, t => t.blob_versioned_hashes())
    }
    fn authorization_list(&self) -> Option<&[alloy_eips::eip7702::SignedAuthorization]> {
        delegate!(self, t => t.authorization_list())
    }
}

impl alloy_eips::Typed2718 for BlockTx {
    fn ty(&self) -> u8 {
        match self {
            BlockTx::Signed(t) => t.ty(),
            BlockTx::Deposit(_) => DEPOSIT_TX_TYPE,
        }
    }
}

impl Encodable2718 for BlockTx {
    fn type_flag(&self) -> Option<u8> {
        delegate!(self, t => t.type_flag())
    }
    fn encode_2718_len(&self) -> usize {
        delegate!(self, t => t.encode_2718_len())
    }
    fn encode_2718(&self, out: &mut dyn alloy_rlp::BufMut) {
        delegate!(self, t => t.encode_2718(out))
    }
}

impl BlockTx {
    /// The signed transaction, if this is one.
    pub fn as_signed(&self) -> Option<&TxEnvelope> {
        match self {
            BlockTx::Signed(t) => Some(t),
            BlockTx::Deposit(_) => None,
        }
    }

    /// The deposit, if this is one.
    pub fn as_deposit(&self) -> Option<&TxDeposit> {
        match self {
            BlockTx::Signed(_) => None,
            BlockTx::Deposit(d) => Some(d),
        }
    }
}

/// A decoded, signature-checked transaction ready for the pool (or a deposit, for a block).
#[derive(Clone, Debug)]
pub struct RecoveredTx {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// The transaction as it goes into a block (a blob transaction without its sidecar).
    pub tx: BlockTx,
    /// Canonical EIP-2718 encoding of `tx`.
    pub encoded: Bytes,
    /// Blobs from the sidecar, if any.
    pub blobs: Vec<BlobRecord>,
}

impl RecoveredTx {
    /// Decodes raw bytes as sent to `eth_sendRawTransaction`, checks the signature, the chain
    /// id, the size and, for blob transactions, the sidecar's KZG proofs (feature `kzg`).
    #[cfg(feature = "kzg")]
    pub fn decode(raw: &[u8], chain_id: u64) -> Result<Self, TxError> {
        // Deposits only ever come from L1 (derivation), never as signed bytes.
        if raw.first() == Some(&crate::deposit::DEPOSIT_TX_TYPE) {
            return Err(TxError::TypeNotSupported);
        }
        let envelope = TxEnvelope::decode_2718_exact(raw).map_err(|e| TxError::Decode(e.to_string()))?;
        let (tx, blobs) = strip_sidecar(envelope)?;
        let encoded = Bytes::from(tx.encoded_2718());
        if encoded.len() > MAX_TX_SIZE {
            return Err(TxError::Oversized { size: encoded.len(), limit: MAX_TX_SIZE });
        }
        match tx.chain_id() {
            None => return Err(TxError::NotReplayProtected),
            Some(have) if have != chain_id => {
                return Err(TxError::WrongChainId { have, want: chain_id });
            }
            Some(_) => {}
        }
        let sender = tx.recover_signer().map_err(|_| TxError::InvalidSender)?;
        let hash = *tx.tx_hash();
        Ok(Self { hash, sender, tx: BlockTx::Signed(tx), encoded, blobs })
    }

    /// A deposit as a block holds it.
    pub fn deposit(deposit: TxDeposit) -> Self {
        let encoded = Bytes::from(deposit.encoded_2718());
        Self {
            hash: deposit.tx_hash(),
            sender: deposit.from,
            tx: BlockTx::Deposit(deposit),
            encoded,
            blobs: vec![],
        }
    }

    /// Whether this is a deposit.
    pub fn is_deposit(&self) -> bool {
        matches!(self.tx, BlockTx::Deposit(_))
    }

    /// Decodes a transaction from a block (canonical encoding, already validated once).
    pub fn from_block(raw: &[u8], sender: Address) -> Result<Self, TxError> {
        if raw.first() == Some(&DEPOSIT_TX_TYPE) {
            let deposit = TxDeposit::decode_2718_exact(raw).map_err(|e| TxError::Decode(e.to_string()))?;
            return Ok(Self::deposit(deposit));
        }
        let tx = TxEnvelope::decode_2718_exact(raw).map_err(|e| TxError::Decode(e.to_string()))?;
        let hash = *tx.tx_hash();
        Ok(Self {
            hash,
            sender,
            tx: BlockTx::Signed(tx),
            encoded: Bytes::copy_from_slice(raw),
            blobs: vec![],
        })
    }

    /// The transaction's nonce.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// The gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }

    /// Max fee per gas (the gas price of a legacy transaction).
    pub fn max_fee(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }

    /// Max priority fee per gas (the gas price of a legacy transaction).
    pub fn max_tip(&self) -> u128 {
        self.tx.max_priority_fee_per_gas().unwrap_or_else(|| self.tx.max_fee_per_gas())
    }

    /// Tip per gas the block producer receives at a base fee, if the transaction can pay it.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }

    /// The most the transaction can cost its sender: `gas * max_fee + value + blob gas`.
    pub fn max_cost(&self) -> U256 {
        let blob_gas =
            self.tx.blob_versioned_hashes().map(|h| h.len() as u64 * GAS_PER_BLOB).unwrap_or_default();
        U256::from(self.gas_limit()) * U256::from(self.max_fee())
            + self.tx.value()
            + U256::from(blob_gas) * U256::from(self.tx.max_fee_per_blob_gas().unwrap_or_default())
    }

    /// The transaction's intrinsic gas (with the EIP-7623 calldata floor) under `spec`.
    pub fn intrinsic_gas(&self, spec: SpecId) -> u64 {
        let (accounts, slots) = self
            .tx
            .access_list()
            .map(|l| (l.len() as u64, l.iter().map(|i| i.storage_keys.len() as u64).sum()))
            .unwrap_or_default();
        let auths = self.tx.authorization_list().map(|a| a.len() as u64).unwrap_or_default();
        let gas = calculate_initial_tx_gas(
            spec,
            self.tx.input(),
            self.tx.kind().is_create(),
            accounts,
            slots,
            auths,
            None,
        );
        gas.initial_total_gas().max(gas.floor_gas())
    }

    /// Checks that do not depend on state: intrinsic gas, fee fields, init code size, blobs.
    pub fn check_static(&self, spec: SpecId, block_gas_limit: u64) -> Result<(), TxError> {
        let needed = self.intrinsic_gas(spec);
        if self.gas_limit() < needed {
            return Err(TxError::IntrinsicGasTooLow { gas: self.gas_limit(), needed });
        }
        if self.gas_limit() > block_gas_limit {
            return Err(TxError::GasLimitTooHigh);
        }
        if let Some(tip) = self.tx.max_priority_fee_per_gas()
            && tip > self.tx.max_fee_per_gas()
        {
            return Err(TxError::TipAboveFeeCap);
        }
        if self.tx.kind().is_create() && self.tx.input().len() > MAX_INITCODE_SIZE {
            return Err(TxError::InitCodeTooLarge { size: self.tx.input().len(), limit: MAX_INITCODE_SIZE });
        }
        if let Some(hashes) = self.tx.blob_versioned_hashes()
            && (hashes.is_empty() || hashes.len() > MAX_BLOBS_PER_TX)
        {
            return Err(TxError::BlobCount { count: hashes.len(), max: MAX_BLOBS_PER_TX });
        }
        if self.tx.ty() == TxType::Eip7702 as u8 && self.tx.authorization_list().is_none_or(|a| a.is_empty())
        {
            return Err(TxError::Decode("EIP-7702 transaction with an empty authorization list".into()));
        }
        Ok(())
    }

    /// The revm transaction environment for this transaction. A deposit runs as a legacy
    /// transaction at gas price zero from its sender's current nonce (`nonce`).
    pub fn tx_env(&self, deposit_nonce: u64) -> TxEnv {
        let tx = &self.tx;
        if self.is_deposit() {
            return TxEnv {
                tx_type: 0,
                caller: self.sender,
                gas_limit: tx.gas_limit(),
                gas_price: 0,
                kind: tx.kind(),
                value: tx.value(),
                data: tx.input().clone(),
                nonce: deposit_nonce,
                chain_id: None,
                ..Default::default()
            };
        }
        TxEnv {
            tx_type: tx.ty(),
            caller: self.sender,
            gas_limit: tx.gas_limit(),
            gas_price: tx.max_fee_per_gas(),
            kind: tx.kind(),
            value: tx.value(),
            data: tx.input().clone(),
            nonce: tx.nonce(),
            chain_id: tx.chain_id(),
            access_list: tx.access_list().cloned().unwrap_or_default(),
            gas_priority_fee: tx.max_priority_fee_per_gas(),
            blob_hashes: tx.blob_versioned_hashes().map(|h| h.to_vec()).unwrap_or_default(),
            max_fee_per_blob_gas: tx.max_fee_per_blob_gas().unwrap_or_default(),
            authorization_list: tx
                .authorization_list()
                .map(|l| l.iter().cloned().map(revm::context::either::Either::Left).collect())
                .unwrap_or_default(),
        }
    }

    /// Recipient (`None` for contract creation).
    pub fn to(&self) -> Option<Address> {
        match self.tx.kind() {
            TxKind::Call(to) => Some(to),
            TxKind::Create => None,
        }
    }
}

/// Splits a network-form blob transaction into the canonical transaction and its blobs,
/// checking the sidecar's KZG proofs against the transaction's versioned hashes.
#[cfg(feature = "kzg")]
fn strip_sidecar(envelope: TxEnvelope) -> Result<(TxEnvelope, Vec<BlobRecord>), TxError> {
    let EthereumTxEnvelope::Eip4844(signed) = envelope else {
        return Ok((envelope, vec![]));
    };
    let (variant, signature, hash) = signed.into_parts();
    match variant {
        TxEip4844Variant::TxEip4844(_) => {
            Err(TxError::InvalidBlobs("blob transaction sent without its sidecar".into()))
        }
        TxEip4844Variant::TxEip4844WithSidecar(with_sidecar) => {
            with_sidecar
                .validate_blob(alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get())
                .map_err(|e| TxError::InvalidBlobs(e.to_string()))?;
            // the check above matched the sidecar's commitments to these hashes, in order
            let blobs: Vec<BlobRecord> = (with_sidecar.tx.blob_versioned_hashes.iter())
                .zip(with_sidecar.sidecar.blobs())
                .map(|(versioned_hash, blob)| BlobRecord {
                    versioned_hash: *versioned_hash,
                    blob: Bytes::copy_from_slice(blob.as_slice()),
                })
                .collect();
            let tx = Signed::new_unchecked(TxEip4844Variant::TxEip4844(with_sidecar.tx), signature, hash);
            Ok((EthereumTxEnvelope::Eip4844(tx), blobs))
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        eips::eip2718::Encodable2718,
        network::TxSignerSync,
        signers::local::PrivateKeySigner,
    };
    use alloy_primitives::{TxKind, U256};
    use proptest::prelude::*;

    use super::*;

    fn signed_transfer() -> Vec<u8> {
        let signer = PrivateKeySigner::from_bytes(&[7; 32].into()).expect("key");
        let mut tx = TxEip1559 {
            chain_id: 1,
            nonce: 3,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(0xb0)),
            value: U256::from(5),
            ..Default::default()
        };
        let signature = signer.sign_transaction_sync(&mut tx).expect("sign");
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Bytes from outside (eth_sendRawTransaction, a batch from L1): any type byte, any
        /// body; decoding refuses or accepts, it never panics.
        #[test]
        fn random_bytes_are_answered(
            ty in prop_oneof![0u8..=5, Just(0x7e), 0xc0u8..=0xff, any::<u8>()],
            body in prop::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut raw = vec![ty];
            raw.extend(body);
            let _ = RecoveredTx::decode(&raw, 1);
        }

        /// A signed transaction with some bytes changed, cut short or extended.
        #[test]
        fn mangled_transactions_are_answered(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            cut in any::<prop::sample::Index>(),
            tail in prop::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut raw = signed_transfer();
            prop_assert!(RecoveredTx::decode(&raw, 1).is_ok());
            for (at, byte) in edits {
                let i = at.index(raw.len());
                raw[i] = byte;
            }
            let _ = RecoveredTx::decode(&raw, 1);
            let _ = RecoveredTx::decode(&raw[..cut.index(raw.len())], 1);
            raw.extend(tail);
            let _ = RecoveredTx::decode(&raw, 1);
        }
    }
}
