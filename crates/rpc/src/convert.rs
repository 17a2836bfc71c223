//! From the engine's types to the JSON shapes of the Ethereum JSON-RPC spec (alloy's RPC types).

use alloy::{
    consensus::{ReceiptEnvelope, ReceiptWithBloom, Transaction as _, transaction::Recovered},
    eips::eip7840::BlobParams,
    rpc::types::{
        Block, BlockTransactions, Header as RpcHeader, Log as RpcLog, Transaction as RpcTransaction,
        TransactionReceipt,
    },
};
use alloy_primitives::{Address, B256, U256};
use loft_chain::{
    BlockTx, LoftReceipt, LogEntry, MinedTx, ReceiptInfo, RecoveredTx, SealedHeader, StateProof,
};
use loft_primitives::smt::SmtProof;
use serde::Serialize;
use serde_json::{Value, json};

/// An RPC header.
pub fn header(h: &SealedHeader, size: usize) -> RpcHeader {
    RpcHeader {
        hash: h.hash,
        inner: h.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(size)),
    }
}

/// An RPC transaction (mined or pending). A deposit is shown as the OP Stack shows it:
/// type `0x7e` with `sourceHash`, `mint` and `isSystemTx`, no signature, gas price zero.
pub fn transaction(tx: &RecoveredTx, at: Option<(&SealedHeader, u64)>) -> Value {
    let base_fee = at.and_then(|(b, _)| b.header.base_fee_per_gas);
    match &tx.tx {
        BlockTx::Signed(signed) => serde_json::to_value(RpcTransaction {
            inner: Recovered::new_unchecked(signed.clone(), tx.sender),
            block_hash: at.map(|(b, _)| b.hash),
            block_number: at.map(|(b, _)| b.header.number),
            transaction_index: at.map(|(_, i)| i),
            effective_gas_price: at.map(|_| signed.effective_gas_price(base_fee)),
            block_timestamp: at.map(|(b, _)| b.header.timestamp),
        })
        .unwrap_or_default(),
        BlockTx::Deposit(deposit) => {
            let mut v = serde_json::to_value(deposit).unwrap_or_default();
            if let Value::Object(fields) = &mut v {
                fields.insert("type".into(), json!("0x7e"));
                fields.insert("hash".into(), json!(tx.hash));
                fields.insert("mint".into(), json!(U256::from(deposit.mint)));
                fields.insert("gasPrice".into(), json!("0x0"));
                fields.insert("nonce".into(), json!("0x0"));
                fields.insert("to".into(), json!(tx.to()));
                fields.insert("blockHash".into(), json!(at.map(|(b, _)| b.hash)));
                fields.insert("blockNumber".into(), json!(at.map(|(b, _)| U256::from(b.header.number))));
                fields.insert("transactionIndex".into(), json!(at.map(|(_, i)| U256::from(i))));
                fields.insert("v".into(), json!("0x0"));
                fields.insert("r".into(), json!("0x0"));
                fields.insert("s".into(), json!("0x0"));
            }
            v
        }
    }
}

/// An RPC transaction from a mined one.
pub fn mined_transaction(m: &MinedTx) -> Value {
    transaction(&m.tx, Some((&m.block, m.index)))
}

/// An RPC block.
pub fn block(h: &SealedHeader, txs: &[RecoveredTx], full: bool) -> Block<Value> {
    let size = alloy_rlp::Encodable::length(&h.header) + txs.iter().map(|t| t.encoded.len()).sum::<usize>();
    let transactions = if full {
        BlockTransactions::Full(
            txs.iter().enumerate().map(|(i, t)| transaction(t, Some((h, i as u64)))).collect(),
        )
    } else {
        BlockTransactions::Hashes(txs.iter().map(|t| t.hash).collect())
    };
    Block { header: header(h, size), uncles: vec![], transactions, withdrawals: Some(Default::default()) }
}

/// An RPC log.
pub fn log(l: &LogEntry) -> RpcLog {
    RpcLog {
        inner: l.log.clone(),
        block_hash: Some(l.block_hash),
        block_number: Some(l.block_number),
        block_timestamp: Some(l.block_timestamp),
        transaction_hash: Some(l.tx_hash),
        transaction_index: Some(l.tx_index),
        log_index: Some(l.log_index),
        removed: false,
    }
}

/// An RPC receipt (`depositNonce` and `depositReceiptVersion` added for a deposit).
pub fn receipt(r: &ReceiptInfo) -> Value {
    let mut v = serde_json::to_value(eth_receipt(r)).unwrap_or_default();
    if let (Some(nonce), Value::Object(fields)) = (r.receipt.deposit_nonce(), &mut v) {
        fields.insert("type".into(), json!("0x7e"));
        fields.insert("depositNonce".into(), json!(U256::from(nonce)));
        fields.insert("depositReceiptVersion".into(), json!("0x1"));
    }
    // A rollup transaction's L1 data fee, under the OP Stack's field names.
    if let (Some((fee, prices)), Value::Object(fields)) = (r.l1_fee, &mut v) {
        fields.insert("l1Fee".into(), json!(fee));
        fields.insert("l1GasPrice".into(), json!(U256::from(prices.base_fee)));
        fields.insert("l1BlobBaseFee".into(), json!(U256::from(prices.blob_base_fee)));
    }
    v
}

fn eth_receipt(r: &ReceiptInfo) -> TransactionReceipt {
    let logs: Vec<RpcLog> = r
        .receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            log(&LogEntry {
                log: l.clone(),
                block_number: r.block.header.number,
                block_hash: r.block.hash,
                block_timestamp: r.block.header.timestamp,
                tx_hash: r.tx.hash,
                tx_index: r.index,
                log_index: r.first_log_index + i as u64,
            })
        })
        .collect();
    let bloom = *r.receipt.logs_bloom();
    let status = r.receipt.status();
    let cumulative = r.receipt.cumulative_gas_used();
    let inner_receipt = alloy::consensus::Receipt {
        status: alloy::consensus::Eip658Value::Eip658(status),
        cumulative_gas_used: cumulative,
        logs,
    };
    let with_bloom = ReceiptWithBloom { receipt: inner_receipt, logs_bloom: bloom };
    // A deposit's receipt is shaped as a legacy one here, then typed 0x7e with its nonce.
    let inner = match &r.receipt {
        LoftReceipt::Eth(ReceiptEnvelope::Eip2930(_)) => ReceiptEnvelope::Eip2930(with_bloom),
        LoftReceipt::Eth(ReceiptEnvelope::Eip1559(_)) => ReceiptEnvelope::Eip1559(with_bloom),
        LoftReceipt::Eth(ReceiptEnvelope::Eip4844(_)) => ReceiptEnvelope::Eip4844(with_bloom),
        LoftReceipt::Eth(ReceiptEnvelope::Eip7702(_)) => ReceiptEnvelope::Eip7702(with_bloom),
        LoftReceipt::Eth(ReceiptEnvelope::Legacy(_)) | LoftReceipt::Deposit(_) => {
            ReceiptEnvelope::Legacy(with_bloom)
        }
    };
    let blob_count = r.tx.tx.blob_versioned_hashes().map(|h| h.len() as u64);
    let blob_gas_price = r.block.header.excess_blob_gas.map(|e| BlobParams::prague().calc_blob_fee(e));
    TransactionReceipt {
        inner,
        transaction_hash: r.tx.hash,
        transaction_index: Some(r.index),
        block_hash: Some(r.block.hash),
        block_number: Some(r.block.header.number),
        gas_used: r.gas_used,
        effective_gas_price: r.effective_gas_price,
        blob_gas_used: blob_count.map(|n| n * alloy::eips::eip4844::DATA_GAS_PER_BLOB),
        blob_gas_price: blob_count.and(blob_gas_price),
        from: r.tx.sender,
        to: r.tx.to(),
        contract_address: r.contract_address,
    }
}

/// One sparse-Merkle proof in loft's `eth_getProof` format.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmtProofJson {
    /// Siblings from the root's children downwards.
    pub siblings: Vec<B256>,
    /// For an absence proof ending at another leaf: that leaf.
    pub other_leaf: Option<OtherLeafJson>,
    /// The compact binary encoding of the proof (what L1 contracts take).
    pub compact: alloy_primitives::Bytes,
}

/// A leaf met by an absence proof.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtherLeafJson {
    /// The leaf's key.
    pub key: B256,
    /// The leaf's value hash.
    pub value_hash: B256,
}

/// A storage slot's proof.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProofJson {
    /// The slot.
    pub key: B256,
    /// Its value.
    pub value: U256,
    /// Proof against the account's storage root, keyed by `keccak256(slot)`.
    pub proof: SmtProofJson,
}

/// loft's `eth_getProof` response: EIP-1186's fields, with sparse-Merkle proofs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProofJson {
    /// The account.
    pub address: Address,
    /// Balance.
    pub balance: U256,
    /// Nonce.
    #[serde(with = "alloy::serde::quantity")]
    pub nonce: u64,
    /// Code hash.
    pub code_hash: B256,
    /// Storage root.
    pub storage_hash: B256,
    /// The state root the proofs are against.
    pub state_root: B256,
    /// Proof of the account leaf, keyed by `keccak256(address)`.
    pub account_proof: SmtProofJson,
    /// Proofs of the slots asked for.
    pub storage_proof: Vec<StorageProofJson>,
}

fn smt_proof(p: &SmtProof) -> SmtProofJson {
    SmtProofJson {
        siblings: p.siblings.clone(),
        other_leaf: p.other_leaf.map(|(key, value_hash)| OtherLeafJson { key, value_hash }),
        compact: p.encode().into(),
    }
}

/// The `eth_getProof` response.
pub fn account_proof(address: Address, p: &StateProof) -> AccountProofJson {
    AccountProofJson {
        address,
        balance: p.basic.balance,
        nonce: p.basic.nonce,
        code_hash: p.basic.code_hash,
        storage_hash: p.storage_root,
        state_root: p.state_root,
        account_proof: smt_proof(&p.account_proof),
        storage_proof: p
            .storage_proofs
            .iter()
            .map(|(slot, value, proof)| StorageProofJson {
                key: B256::from(slot.to_be_bytes::<32>()),
                value: *value,
                proof: smt_proof(proof),
            })
            .collect(),
    }
}

/// The `loft_getStorageProof` response: an account's storage root and slot proofs at a block.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProofsJson {
    /// The account.
    pub address: Address,
    /// The block.
    pub block_number: alloy::primitives::U64,
    /// The account's storage root at that block.
    pub storage_hash: B256,
    /// One proof per slot asked for.
    pub storage_proof: Vec<StorageProofJson>,
}

/// The `loft_getStorageProof` response from the engine's proofs.
pub fn storage_proofs(
    address: Address,
    block: u64,
    root: B256,
    proofs: &[(U256, U256, SmtProof)],
) -> StorageProofsJson {
    StorageProofsJson {
        address,
        block_number: alloy::primitives::U64::from(block),
        storage_hash: root,
        storage_proof: proofs
            .iter()
            .map(|(slot, value, proof)| StorageProofJson {
                key: B256::from(slot.to_be_bytes::<32>()),
                value: *value,
                proof: smt_proof(proof),
            })
            .collect(),
    }
}
