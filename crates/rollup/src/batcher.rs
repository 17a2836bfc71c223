//! The batcher: turns L2 blocks not yet on L1 into a compressed channel, splits it into
//! frames and posts them to the batch inbox as calldata (or blobs).
//!
//! Every L2 block is posted exactly once, across crashes, fee spikes and L1 reorgs:
//! - each frame transaction is signed with an explicit nonce and recorded on disk
//!   ([`BatcherStore`]) *before* it is broadcast; after a crash the same bytes are broadcast
//!   again, and one nonce can be mined only once;
//! - a transaction that waits too long is replaced at the same nonce with higher fees (every
//!   signed version is remembered, so whichever one is mined is recognised);
//! - a channel counts as posted only once all its transactions are `confirmations` blocks
//!   deep; a transaction that an L1 reorg took away is broadcast again;
//! - new channels start after the last block already in flight, never at a guess;
//! - when the sequencer replaces blocks in flight (it rewinds after an L1 reorg took its L1
//!   origin), their channels are abandoned and the new blocks posted; a new transaction at an
//!   abandoned one's nonce outbids it, and if the old one is mined first (harmless: derivation
//!   drops batches of a chain it does not build) the channel is made again at fresh nonces.
//!
//! The batcher's key must be its own (its nonces are the batcher's to assign).

use std::{path::Path, sync::Arc};

use crate::batch::{ChannelEncoder, Compression};
use alloy::{
    consensus::{SidecarBuilder, SimpleCoder},
    network::{TransactionBuilder, TransactionBuilder4844},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use alloy_primitives::{B128, B256, Bytes, keccak256};
use loft_l1::{Fees, L1Client, L1Error};
use loft_node::Node;
use redb::{Database, ReadableDatabase, TableDefinition, backends::InMemoryBackend};
use serde::{Deserialize, Serialize};

use crate::{
    block::batch_for_block,
    channel_policy::{ChannelPolicy, DataChoice, L1Prices},
    config::RollupConfig,
    sequencer::{NodeError, block_epoch},
};

/// Largest calldata payload per L1 transaction.
pub const MAX_CALLDATA_PAYLOAD: usize = 120_000;

/// Largest blob payload per L1 transaction: 6 blobs of 4096 field elements carrying 31 bytes
/// each, less the coder's framing.
pub const MAX_BLOB_PAYLOAD: usize = 6 * 126_000;

/// Channels in flight (signed, not yet confirmed) at most.
pub const MAX_IN_FLIGHT: usize = 8;

/// L1 blocks a transaction may wait before it is replaced with higher fees.
pub const BUMP_AFTER_BLOCKS: u64 = 3;

/// How the batcher posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataMode {
    /// Calldata of a transaction to the inbox.
    Calldata,
    /// EIP-4844 blobs of a transaction to the inbox.
    Blobs,
}

/// Errors of the batcher.
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// Its record could not be read or written.
    #[error("batcher store: {0}")]
    Store(String),
    /// A nonce the batcher signed for was used by a transaction it did not sign.
    #[error(
        "nonce {0} of the batcher's account was used by another transaction (the key must be the batcher's alone)"
    )]
    NonceTaken(u64),
}

/// What one call to [`Batcher::post`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostReport {
    /// L2 blocks of the new channel, first and last (`None`: no new channel).
    pub blocks: Option<(u64, u64)>,
    /// Sequenced transactions in them.
    pub transactions: usize,
    /// Batch bytes before compression.
    pub raw_bytes: usize,
    /// Compressed channel bytes.
    pub compressed_bytes: usize,
    /// L1 transactions sent for the new channel.
    pub l1_transactions: usize,
    /// L1 gas they used (those mined by the time `post` returned).
    pub l1_gas: u64,
    /// Blob gas they used.
    pub l1_blob_gas: u64,
    /// Earlier transactions broadcast again because an L1 reorg took them out.
    pub reorged: usize,
    /// Earlier transactions replaced with higher fees.
    pub bumped: usize,
    /// Channels abandoned because the sequencer replaced their blocks (their blocks are
    /// posted again as new channels).
    pub abandoned: usize,
    /// The last L2 block confirmed on L1 after this call.
    pub confirmed: u64,
}

/// One signed version of a frame transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SignedVersion {
    hash: B256,
    raw: Bytes,
    fees: Fees,
}

/// Where a frame transaction was mined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Inclusion {
    block: u64,
    block_hash: B256,
    gas: u64,
    blob_gas: u64,
}

/// A frame transaction at a fixed nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FrameTx {
    nonce: u64,
    payload: Bytes,
    mode: DataMode,
    /// Every version signed so far; the last is the one broadcast.
    versions: Vec<SignedVersion>,
    /// The L1 head when the last version was signed.
    signed_at: u64,
    included: Option<Inclusion>,
}

/// A channel's blocks and the transactions that carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct InFlight {
    first: u64,
    last: u64,
    /// The hash of L2 block `last` when the channel was made: if the sequencer replaces that
    /// block (it rewinds after an L1 reorg of its origin), the channel is abandoned.
    #[serde(default)]
    last_hash: B256,
    txs: Vec<FrameTx>,
}

/// Everything the batcher must not forget.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct BatcherState {
    /// The last L2 block whose channel is confirmed on L1.
    confirmed: u64,
    /// Channels signed and not yet confirmed, oldest first.
    in_flight: Vec<InFlight>,
    /// Whether the L1 wants EIP-7594 cell proofs in blob sidecars.
    cell_proofs: bool,
    /// Nonces of abandoned transactions that may still be in L1's pool, with their last fees:
    /// a new transaction at one of them must outbid it.
    #[serde(default)]
    superseded: std::collections::BTreeMap<u64, Fees>,
}

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("batcher");
const STATE_KEY: &str = "state";

/// The batcher's durable record: a redb file (or memory, for tests), written atomically and
/// synced before every broadcast.
pub struct BatcherStore {
    db: Database,
}

fn store_err(e: impl std::fmt::Display) -> BatcherError {
    BatcherError::Store(e.to_string())
}

impl BatcherStore {
    /// Opens (or creates) the record at `path`.
    pub fn open(path: &Path) -> Result<Self, BatcherError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(store_err)?;
        }
        Ok(Self { db: Database::create(path).map_err(store_err)? })
    }

    /// A record in memory, lost with the process.
    pub fn in_memory() -> Result<Self, BatcherError> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new()).map_err(store_err)?;
        Ok(Self { db })
    }

    fn load(&self) -> Result<Option<BatcherState>, BatcherError> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let table = match txn.open_table(STATE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(store_err(e)),
        };
        let Some(bytes) = table.get(STATE_KEY).map_err(store_err)? else {
            return Ok(None);
        };
        serde_json::from_slice(bytes.value()).map(Some).map_err(store_err)
    }

    fn save(&self, state: &BatcherState) -> Result<(), BatcherError> {
        let bytes = serde_json::to_vec(state).map_err(store_err)?;
        let txn = self.db.begin_write().map_err(store_err)?;
        txn.open_table(STATE).map_err(store_err)?.insert(STATE_KEY, bytes.as_slice()).map_err(store_err)?;
        txn.commit().map_err(store_err)
    }
}

/// The batcher's state.
pub struct Batcher {
    config: RollupConfig,
    l2: Arc<Node>,
    l1: L1Client,
    store: BatcherStore,
    state: BatcherState,
    policy: ChannelPolicy,
    compression: Compression,
    confirmations: u64,
    receipt_timeout: std::time::Duration,
}

impl Batcher {
    /// A batcher for `l2`'s blocks, signing with `l1`'s account (the configured batcher). It
    /// resumes from `store`'s record; a new record starts after L2 block `posted`. It posts
    /// every block at once in `mode` until [`Batcher::with_policy`] says otherwise.
    pub fn new(
        config: RollupConfig,
        l2: Arc<Node>,
        l1: L1Client,
        store: BatcherStore,
        posted: u64,
        mode: DataMode,
    ) -> Result<Self, BatcherError> {
        let state = match store.load()? {
            Some(state) => state,
            None => BatcherState { confirmed: posted, ..Default::default() },
        };
        Ok(Self {
            config,
            l2,
            l1,
            store,
            state,
            policy: ChannelPolicy::immediate(match mode {
                DataMode::Calldata => DataChoice::Calldata,
                DataMode::Blobs => DataChoice::Blobs,
            }),
            compression: Compression::default(),
            confirmations: 0,
            receipt_timeout: std::time::Duration::from_secs(30),
        })
    }

    /// Blocks a frame transaction must be buried under before its channel counts as posted
    /// (0: as soon as it is mined).
    pub fn with_confirmations(mut self, confirmations: u64) -> Self {
        self.confirmations = confirmations;
        self
    }

    /// How long [`Batcher::post`] waits for the receipts of a new channel (30 s by default);
    /// what is not mined by then is looked after by the next call.
    pub fn with_receipt_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// When channels are closed, and how they are posted ([`ChannelPolicy`]).
    pub fn with_policy(mut self, policy: ChannelPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Posts the next channels as calldata or as blobs, each as soon as it has blocks.
    pub fn set_mode(&mut self, mode: DataMode) {
        self.policy = ChannelPolicy::immediate(match mode {
            DataMode::Calldata => DataChoice::Calldata,
            DataMode::Blobs => DataChoice::Blobs,
        });
    }

    /// The last L2 block confirmed on L1.
    pub fn confirmed(&self) -> u64 {
        self.state.confirmed
    }

    /// The last L2 block signed and sent (confirmed or not).
    pub fn submitted(&self) -> u64 {
        self.state.in_flight.last().map(|c| c.last).unwrap_or(self.state.confirmed)
    }

    /// Channels in flight.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.len()
    }

    /// Looks after the transactions in flight (receipts, reorgs, fee bumps), then, when the
    /// policy says the channel of L2 blocks after the last one submitted is due (or it holds
    /// `max_blocks`), posts it and waits briefly for its receipts.
    pub async fn post(&mut self, max_blocks: u64) -> Result<PostReport, NodeError> {
        let mut report = PostReport::default();
        self.settle(&mut report).await?;
        let new_channel = if self.state.in_flight.len() < MAX_IN_FLIGHT {
            self.submit_channel(max_blocks, &mut report).await?
        } else {
            None
        };
        self.await_receipts(new_channel, &mut report).await?;
        report.confirmed = self.state.confirmed;
        Ok(report)
    }

    /// Checks every transaction in flight against L1: records inclusions, broadcasts again
    /// what a reorg removed or a node lost, replaces what waits too long, and retires the
    /// channels that are confirmed.
    async fn settle(&mut self, report: &mut PostReport) -> Result<(), NodeError> {
        if self.state.in_flight.is_empty() {
            return Ok(());
        }
        let head = self.l1.block_number().await?;
        let mined_nonce = self.l1.mined_nonce().await?;
        self.state.superseded.retain(|nonce, _| *nonce >= mined_nonce);
        let mut changed = false;
        // Channels whose blocks the sequencer replaced carry a chain nobody derives any more.
        let stale = (0..self.state.in_flight.len()).find(|&ci| {
            let channel = &self.state.in_flight[ci];
            let now = self.l2.with_chain(|ch| ch.header_by_number(channel.last)).ok().flatten();
            now.map(|h| h.hash) != Some(channel.last_hash)
        });
        if let Some(ci) = stale {
            self.abandon_from(ci, report).await?;
            changed = true;
        }
        let mut ci = 0;
        while ci < self.state.in_flight.len() {
            let mut lost = false;
            for ti in 0..self.state.in_flight[ci].txs.len() {
                let tx = self.state.in_flight[ci].txs[ti].clone();
                let inclusion = self.find_inclusion(&tx).await?;
                // An abandoned transaction took this nonce first: make the channel again.
                if inclusion.is_none() && mined_nonce > tx.nonce && tx.included.is_none() {
                    lost = true;
                    break;
                }
                let updated = self.look_after(tx, inclusion, head, report).await?;
                let slot = &mut self.state.in_flight[ci].txs[ti];
                if *slot != updated {
                    *slot = updated;
                    changed = true;
                }
            }
            if lost {
                self.abandon_from(ci, report).await?;
                changed = true;
                break;
            }
            ci += 1;
        }
        while let Some(channel) = self.state.in_flight.first()
            && channel.txs.iter().all(|t| t.included.is_some_and(|i| i.block + self.confirmations <= head))
        {
            self.state.confirmed = channel.last;
            self.state.in_flight.remove(0);
            changed = true;
        }
        if changed {
            self.store.save(&self.state)?;
        }
        Ok(())
    }

    /// Abandons channel `ci` and every later one: their unmined transactions' nonces are
    /// remembered (a new transaction there must outbid them) and their blocks are posted
    /// again from the last block still the sequencer's.
    async fn abandon_from(&mut self, ci: usize, report: &mut PostReport) -> Result<(), NodeError> {
        let abandoned = self.state.in_flight.split_off(ci);
        for channel in &abandoned {
            for tx in &channel.txs {
                if tx.included.is_none()
                    && self.find_inclusion(tx).await?.is_none()
                    && let Some(v) = tx.versions.last()
                {
                    self.state.superseded.insert(tx.nonce, v.fees);
                }
            }
        }
        let head = self.l2.with_chain(|ch| ch.head().header.number);
        self.state.confirmed = self.state.confirmed.min(head);
        report.abandoned += abandoned.len();
        tracing::warn!(
            channels = abandoned.len(),
            "the sequencer replaced blocks in flight; posting them again"
        );
        Ok(())
    }

    /// The receipt of whichever signed version of `tx` L1 has mined.
    async fn find_inclusion(&self, tx: &FrameTx) -> Result<Option<Inclusion>, NodeError> {
        for version in tx.versions.iter().rev() {
            if let Some(r) = self.l1.receipt(version.hash).await? {
                return Ok(Some(Inclusion {
                    block: r.block_number.unwrap_or_default(),
                    block_hash: r.block_hash.unwrap_or_default(),
                    gas: r.gas_used,
                    blob_gas: r.blob_gas_used.unwrap_or_default(),
                }));
            }
        }
        Ok(None)
    }

    /// The new record of one transaction in flight.
    async fn look_after(
        &mut self,
        mut tx: FrameTx,
        inclusion: Option<Inclusion>,
        head: u64,
        report: &mut PostReport,
    ) -> Result<FrameTx, NodeError> {
        if inclusion.is_some() {
            tx.included = inclusion;
            return Ok(tx);
        }
        if tx.included.take().is_some() {
            tracing::warn!(
                nonce = tx.nonce,
                "an L1 reorg removed a batch transaction; broadcasting it again"
            );
            report.reorged += 1;
        } else if head >= tx.signed_at + BUMP_AFTER_BLOCKS {
            let last_fees = tx.versions.last().map(|v| v.fees);
            let fees = match last_fees {
                Some(prev) => self.l1.fees().await?.bumped(prev),
                None => self.l1.fees().await?,
            };
            let version = self.sign_frame(tx.nonce, &tx.payload, tx.mode, fees).await?;
            tracing::info!(
                nonce = tx.nonce,
                max_fee = fees.max_fee_per_gas,
                "replacing a batch transaction with higher fees"
            );
            tx.versions.push(version);
            tx.signed_at = head;
            report.bumped += 1;
            // recorded before it is broadcast
            self.store.save(&self.state_with(&tx))?;
        }
        if let Some(latest) = tx.versions.last() {
            match self.l1.broadcast(&latest.raw).await {
                Ok(()) => {}
                // mined meanwhile (the next settle finds the receipt), or the node's pool
                // holds a version it prefers
                Err(L1Error::Rpc(msg))
                    if msg.contains("nonce too low")
                        || msg.contains("underpriced")
                        || msg.contains("replacement") =>
                {
                    tracing::debug!(nonce = tx.nonce, %msg, "batch transaction not re-broadcast");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(tx)
    }

    /// The state with `tx` replacing the record of the same nonce.
    fn state_with(&self, tx: &FrameTx) -> BatcherState {
        let mut state = self.state.clone();
        for channel in &mut state.in_flight {
            for t in &mut channel.txs {
                if t.nonce == tx.nonce {
                    *t = tx.clone();
                }
            }
        }
        state
    }

    async fn sign_frame(
        &mut self,
        nonce: u64,
        payload: &[u8],
        mode: DataMode,
        fees: Fees,
    ) -> Result<SignedVersion, NodeError> {
        let chain_id = self.config.l1_chain_id;
        let base = TransactionRequest::default()
            .with_to(self.config.batch_inbox)
            .with_nonce(nonce)
            .with_chain_id(chain_id)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let request = match mode {
            DataMode::Calldata => {
                let request = base.with_input(payload.to_vec());
                let gas = self
                    .l1
                    .provider()
                    .estimate_gas(request.clone().with_from(self.l1.address()))
                    .await
                    .map_err(L1Error::from)?;
                request.with_gas_limit(gas)
            }
            DataMode::Blobs => {
                let builder = SidecarBuilder::<SimpleCoder>::from_slice(payload);
                let blob_error =
                    |e: alloy::eips::eip4844::c_kzg::Error| L1Error::Rpc(format!("building blobs: {e}"));
                let request =
                    base.with_gas_limit(21_000).with_max_fee_per_blob_gas(fees.max_fee_per_blob_gas);
                if self.state.cell_proofs {
                    request.with_blob_sidecar_7594(builder.build_7594().map_err(blob_error)?)
                } else {
                    request.with_blob_sidecar_4844(builder.build_4844().map_err(blob_error)?)
                }
            }
        };
        let (raw, hash) = self.l1.sign(request).await?;
        Ok(SignedVersion { hash, raw, fees })
    }

    /// Encodes the blocks after the last one submitted (at most `max_blocks`) as one channel
    /// and, when the policy closes it, signs its frame transactions (as calldata or blobs,
    /// as the policy chooses at the L1's current prices), records them and broadcasts them;
    /// returns its index in flight.
    async fn submit_channel(
        &mut self,
        max_blocks: u64,
        report: &mut PostReport,
    ) -> Result<Option<usize>, NodeError> {
        let head = self.l2.with_chain(|ch| ch.head().header.number);
        let after = self.submitted();
        if head <= after {
            return Ok(None);
        }
        let (first, last) = (after + 1, head.min(after + max_blocks.max(1)));
        // The id is derived from the blocks, so the same blocks always make the same channel.
        let last_hash =
            self.l2.with_chain(|ch| ch.header_by_number(last))?.map(|h| h.hash).unwrap_or_default();
        let id =
            B128::from_slice(&keccak256([&first.to_be_bytes()[..], last_hash.as_slice()].concat())[..16]);
        let mut encoder =
            ChannelEncoder::new(id, self.compression).map_err(|e| NodeError::Batch(e.to_string()))?;
        let mut transactions = 0;
        for n in first..=last {
            let batch = self.l2.with_chain(|ch| batch_for_block(ch, n))?;
            transactions += batch.transactions.len();
            encoder.add_batch(&batch).map_err(|e| NodeError::Batch(e.to_string()))?;
        }
        let l1_head = self.l1.block_number().await?;
        let first_epoch = self.l2.with_chain(|ch| block_epoch(ch, first))?;
        let full = last - first + 1 >= max_blocks.max(1);
        if !full
            && !self.policy.should_close(
                last - first + 1,
                first_epoch,
                encoder.estimated_compressed_bytes(),
                l1_head,
            )
        {
            return Ok(None);
        }
        encoder.close().map_err(|e| NodeError::Batch(e.to_string()))?;
        report.blocks = Some((first, last));
        report.transactions = transactions;
        report.raw_bytes = encoder.input_bytes();
        report.compressed_bytes = encoder.compressed_bytes();
        let fees = self.l1.fees().await?;
        let prices = L1Prices { gas: fees.max_fee_per_gas, blob_gas: fees.max_fee_per_blob_gas };
        let mode =
            self.policy.mode_for(encoder.compressed_data().map(|d| d.as_ref()).unwrap_or_default(), prices);
        let payload_size = match mode {
            DataMode::Calldata => MAX_CALLDATA_PAYLOAD,
            DataMode::Blobs => MAX_BLOB_PAYLOAD,
        };
        let payloads = encoder.into_tx_data(payload_size).map_err(|e| NodeError::Batch(e.to_string()))?;

        let mut nonce = match self.state.in_flight.last().and_then(|c| c.txs.last()) {
            Some(tx) => tx.nonce + 1,
            None => self.l1.mined_nonce().await?,
        };
        let mut txs = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let fees = match self.state.superseded.get(&nonce) {
                Some(old) => fees.bumped(*old),
                None => fees,
            };
            let version = self.sign_frame(nonce, &payload, mode, fees).await?;
            txs.push(FrameTx {
                nonce,
                payload,
                mode,
                versions: vec![version],
                signed_at: l1_head,
                included: None,
            });
            nonce += 1;
        }
        self.state.in_flight.push(InFlight { first, last, last_hash, txs });
        // On disk before anything is broadcast: after a crash these exact bytes go out again.
        self.store.save(&self.state)?;
        let index = self.state.in_flight.len() - 1;
        for ti in 0..self.state.in_flight[index].txs.len() {
            let raw = self.state.in_flight[index].txs[ti].versions[0].raw.clone();
            match self.l1.broadcast(&raw).await {
                Err(L1Error::Rpc(msg))
                    if mode == DataMode::Blobs
                        && !self.state.cell_proofs
                        && (msg.contains("7594") || msg.to_lowercase().contains("cell")) =>
                {
                    // The L1 runs EIP-7594: the same blobs again, with cell proofs.
                    self.state.cell_proofs = true;
                    let tx = self.state.in_flight[index].txs[ti].clone();
                    let fees = tx.versions[0].fees;
                    let version = self.sign_frame(tx.nonce, &tx.payload, tx.mode, fees).await?;
                    let raw = version.raw.clone();
                    self.state.in_flight[index].txs[ti].versions = vec![version];
                    self.store.save(&self.state)?;
                    self.l1.broadcast(&raw).await?;
                }
                other => other?,
            }
            report.l1_transactions += 1;
        }
        Ok(Some(index))
    }

    /// Waits (up to the receipt timeout) until every transaction in flight is mined; reports
    /// the gas of the new channel's.
    async fn await_receipts(
        &mut self,
        new_channel: Option<usize>,
        report: &mut PostReport,
    ) -> Result<(), NodeError> {
        let deadline = tokio::time::Instant::now() + self.receipt_timeout;
        let mut changed = false;
        loop {
            let mut pending = 0;
            for ci in 0..self.state.in_flight.len() {
                for ti in 0..self.state.in_flight[ci].txs.len() {
                    let tx = self.state.in_flight[ci].txs[ti].clone();
                    if tx.included.is_some() {
                        continue;
                    }
                    match self.find_inclusion(&tx).await? {
                        Some(inclusion) => {
                            if new_channel == Some(ci) {
                                report.l1_gas += inclusion.gas;
                                report.l1_blob_gas += inclusion.blob_gas;
                            }
                            self.state.in_flight[ci].txs[ti].included = Some(inclusion);
                            changed = true;
                        }
                        None => pending += 1,
                    }
                }
            }
            if pending == 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if changed {
            self.store.save(&self.state)?;
        }
        if self.confirmations == 0 {
            let mut ignored = PostReport::default();
            self.settle(&mut ignored).await?;
        }
        Ok(())
    }
}
