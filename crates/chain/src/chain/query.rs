//! What the chain answers about its blocks: headers, transactions, receipts, logs, proofs and
//! blobs.

use std::collections::HashMap;

use alloy::consensus::{Header, Transaction};
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256};
use alloy_rlp::Decodable;
use loft_primitives::smt::{SmtProof, SparseMerkleTree};

use super::{Chain, SealedHeader, seal};
use crate::{
    config::MAX_HISTORY,
    deposit::LoftReceipt,
    error::ChainError,
    l1_fee::{L1Prices, l1_fee},
    state::StateProof,
    tx::RecoveredTx,
};

/// A mined transaction with where it is.
#[derive(Clone, Debug)]
pub struct MinedTx {
    /// The transaction.
    pub tx: RecoveredTx,
    /// Its block.
    pub block: SealedHeader,
    /// Its index in the block.
    pub index: u64,
}

/// A transaction's receipt with everything `eth_getTransactionReceipt` reports.
#[derive(Clone, Debug)]
pub struct ReceiptInfo {
    /// The transaction.
    pub tx: RecoveredTx,
    /// Its block.
    pub block: SealedHeader,
    /// Its index in the block.
    pub index: u64,
    /// The consensus receipt.
    pub receipt: LoftReceipt,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Price per gas paid.
    pub effective_gas_price: u128,
    /// Index within the block of this receipt's first log.
    pub first_log_index: u64,
    /// Address of the contract created, if any.
    pub contract_address: Option<Address>,
    /// On a rollup, the L1 data fee the transaction paid and the L1 prices it paid at
    /// (`None` for deposits and on an L1).
    pub l1_fee: Option<(U256, L1Prices)>,
}

/// A log with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The log.
    pub log: Log,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Block timestamp.
    pub block_timestamp: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Transaction index.
    pub tx_index: u64,
    /// Index in the block.
    pub log_index: u64,
}

/// A log query: a block range, addresses and topic positions (each an any-of set; empty
/// matches everything).
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
    /// Emitting contracts (empty: any).
    pub addresses: Vec<Address>,
    /// Topic sets by position.
    pub topics: Vec<Vec<B256>>,
}

impl LogQuery {
    fn matches(&self, log: &Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        for (i, set) in self.topics.iter().enumerate() {
            if set.is_empty() {
                continue;
            }
            match log.topics().get(i) {
                Some(t) if set.contains(t) => {}
                _ => return false,
            }
        }
        true
    }

    fn may_match(&self, bloom: &Bloom) -> bool {
        let addr_ok = self.addresses.is_empty()
            || self
                .addresses
                .iter()
                .any(|a| bloom.contains_input(alloy_primitives::BloomInput::Raw(a.as_slice())));
        addr_ok
            && self.topics.iter().all(|set| {
                set.is_empty()
                    || set
                        .iter()
                        .any(|t| bloom.contains_input(alloy_primitives::BloomInput::Raw(t.as_slice())))
            })
    }
}

impl Chain {
    /// Header by number.
    pub fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, ChainError> {
        if number == self.head.header.number {
            return Ok(Some(self.head.clone()));
        }
        match self.store.header_rlp(number)? {
            Some(rlp) => Ok(Some(seal(Header::decode(&mut rlp.as_slice())?))),
            None => Ok(None),
        }
    }

    /// Header by hash.
    pub fn header_by_hash(&self, hash: &B256) -> Result<Option<SealedHeader>, ChainError> {
        match self.store.number_of(hash)? {
            Some(n) => self.header_by_number(n),
            None => Ok(None),
        }
    }

    /// Transactions of a block.
    pub fn block_txs(&self, number: u64) -> Result<Vec<RecoveredTx>, ChainError> {
        let body = self.store.body(number)?.unwrap_or_default();
        body.iter()
            .map(|s| {
                RecoveredTx::from_block(&s.raw, s.sender).map_err(|e| ChainError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// A mined transaction.
    pub fn mined_tx(&self, hash: &B256) -> Result<Option<MinedTx>, ChainError> {
        let Some((number, index)) = self.store.tx_location(hash)? else {
            return Ok(None);
        };
        let block =
            self.header_by_number(number)?.ok_or_else(|| ChainError::Corrupt(format!("block {number}")))?;
        let body = self.store.body(number)?.unwrap_or_default();
        let stored = body.get(index as usize).ok_or_else(|| ChainError::Corrupt(format!("tx {hash}")))?;
        let tx = RecoveredTx::from_block(&stored.raw, stored.sender)
            .map_err(|e| ChainError::Corrupt(e.to_string()))?;
        Ok(Some(MinedTx { tx, block, index: index as u64 }))
    }

    /// Receipts of a block with everything the RPC reports.
    pub fn block_receipts(&self, number: u64) -> Result<Option<Vec<ReceiptInfo>>, ChainError> {
        let Some(block) = self.header_by_number(number)? else {
            return Ok(None);
        };
        let txs = self.block_txs(number)?;
        let receipts = self.store.receipts(number)?.unwrap_or_default();
        let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
        let mut out = Vec::with_capacity(txs.len());
        let mut prev_cumulative = 0u64;
        let mut log_index = 0u64;
        let l1_pricing = match (self.config.l1_fee, self.config.l1_prices_reader, txs.first()) {
            (Some(rule), Some(read), Some(first)) => {
                first.tx.as_deposit().and_then(|d| read(&d.input)).map(|prices| (rule, prices))
            }
            _ => None,
        };
        for (i, (tx, raw)) in txs.into_iter().zip(receipts).enumerate() {
            let l1_fee = match &l1_pricing {
                Some((rule, prices)) if !tx.is_deposit() => {
                    Some((l1_fee(rule, prices, &tx.encoded), *prices))
                }
                _ => None,
            };
            let receipt =
                LoftReceipt::decode_2718(raw.as_ref()).map_err(|e| ChainError::Corrupt(e.to_string()))?;
            let cumulative = receipt.cumulative_gas_used();
            let logs = receipt.logs().len() as u64;
            let creator_nonce = receipt.deposit_nonce().unwrap_or_else(|| tx.nonce());
            let contract_address = tx.tx.kind().is_create().then(|| tx.sender.create(creator_nonce));
            out.push(ReceiptInfo {
                effective_gas_price: tx.tx.effective_gas_price(Some(base_fee)),
                gas_used: cumulative - prev_cumulative,
                first_log_index: log_index,
                contract_address,
                l1_fee,
                index: i as u64,
                block: block.clone(),
                receipt,
                tx,
            });
            prev_cumulative = cumulative;
            log_index += logs;
        }
        Ok(Some(out))
    }

    /// Receipt of one transaction.
    pub fn receipt(&self, hash: &B256) -> Result<Option<ReceiptInfo>, ChainError> {
        let Some((number, index)) = self.store.tx_location(hash)? else {
            return Ok(None);
        };
        Ok(self.block_receipts(number)?.and_then(|r| r.into_iter().nth(index as usize)))
    }

    /// Logs matching a query, in chain order.
    pub fn logs(&self, query: &LogQuery) -> Result<Vec<LogEntry>, ChainError> {
        let mut out = Vec::new();
        let to = query.to.min(self.head.header.number);
        for number in query.from..=to {
            let Some(block) = self.header_by_number(number)? else {
                continue;
            };
            if !query.may_match(&block.header.logs_bloom) {
                continue;
            }
            self.block_logs(&block, query, &mut out)?;
        }
        Ok(out)
    }

    /// Logs of one block matching a query.
    pub fn block_logs(
        &self,
        block: &SealedHeader,
        query: &LogQuery,
        out: &mut Vec<LogEntry>,
    ) -> Result<(), ChainError> {
        let Some(receipts) = self.block_receipts(block.header.number)? else {
            return Ok(());
        };
        for r in receipts {
            for (i, log) in r.receipt.logs().iter().enumerate() {
                if query.matches(log) {
                    out.push(LogEntry {
                        log: log.clone(),
                        block_number: block.header.number,
                        block_hash: block.hash,
                        block_timestamp: block.header.timestamp,
                        tx_hash: r.tx.hash,
                        tx_index: r.index,
                        log_index: r.first_log_index + i as u64,
                    });
                }
            }
        }
        Ok(())
    }

    /// Proof of an account and storage slots against the current state root.
    pub fn prove(&mut self, address: &Address, slots: &[U256]) -> StateProof {
        self.state.prove(address, slots)
    }

    /// An account's storage root and proofs of some of its slots as of block `number`: its
    /// storage tree rebuilt from the current slots with the change sets of every later block
    /// undone (a rollup proves withdrawals against the message passer's storage at the block
    /// of an output root, not at the head). Returns (storage root, [(slot, value, proof)]).
    #[allow(clippy::type_complexity)]
    pub fn storage_proofs_at(
        &self,
        address: &Address,
        slots: &[U256],
        number: u64,
    ) -> Result<(B256, Vec<(U256, U256, SmtProof)>), ChainError> {
        let head = self.head.header.number;
        if number > head || head - number > MAX_HISTORY {
            return Err(ChainError::HistoricalState { requested: number, head });
        }
        let mut storage: HashMap<U256, U256> = self.state.storage_of(address).cloned().unwrap_or_default();
        let mut restore = |slot: U256, before: U256| {
            if before.is_zero() {
                storage.remove(&slot);
            } else {
                storage.insert(slot, before);
            }
        };
        for ((a, slot), before) in self.state.pending_slots() {
            if a == address {
                restore(*slot, *before);
            }
        }
        for n in (number + 1..=head).rev() {
            let changes =
                self.store.changes(n)?.ok_or_else(|| ChainError::Corrupt(format!("change set {n}")))?;
            for c in changes.storage.iter().filter(|c| &c.address == address) {
                restore(c.slot, c.before);
            }
        }
        let mut tree = SparseMerkleTree::new();
        for (slot, value) in &storage {
            tree.insert(crate::state::storage_key(slot), B256::from(*value));
        }
        let root = tree.root();
        let proofs = slots
            .iter()
            .map(|slot| {
                (
                    *slot,
                    storage.get(slot).copied().unwrap_or_default(),
                    tree.prove(&crate::state::storage_key(slot)),
                )
            })
            .collect();
        Ok((root, proofs))
    }

    /// A blob by versioned hash.
    pub fn blob(&self, versioned_hash: &B256) -> Result<Option<Bytes>, ChainError> {
        self.store.blob(versioned_hash)
    }
}
