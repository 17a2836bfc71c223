//! The ZK rollup's operator. It takes users' operations (checked against the state they will
//! meet, recorded on disk before it answers) and L1's priority requests (deposits and full
//! exits, always first in a block and in L1's order), seals a block when one is full or when
//! the block time passes, proves it (Groth16, off the async runtime, with a progress bar) and
//! submits it to L1 with `submitBlock`. Sealed blocks are recorded before they are proven, so
//! a crash loses nothing: on restart the operator replays its record from genesis, submits
//! what L1 does not have yet, and takes its pending operations again.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::providers::DynProvider;
use alloy_primitives::{Address, B256, Bytes, U128, U256, keccak256};
use ark_bn254::Fr;
use loft_l1::L1Client;
use loft_zk::{
    block::{Block, BlockBuilder, BlockError, Lane, Op},
    circuit::BlockCircuit,
    groth16,
    ops::{OpError, key_hash},
    solidity::ProofWords,
    state::State,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::{
    contracts::{Deployment, ZkRollup, fr_word},
    keys::RollupKeys,
    store::{SealedRecord, Store, StoreError},
    wire::{WireError, WireOp},
};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// The rollup.
    pub deployment: Deployment,
    /// A block is sealed at the latest this long after its first operation.
    pub block_time: Duration,
    /// L1 confirmations before a priority request is taken.
    pub l1_confirmations: u64,
}

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The rules refuse it.
    #[error(transparent)]
    Op(#[from] OpError),
    /// Deposits and full exits come from L1.
    #[error("deposits and full exits are requested on L1 (depositETH, depositERC20, requestFullExit)")]
    PriorityOnL1,
    /// The change-key is not authorised by the account's owner.
    #[error("the change-key is not authorised by the account's owner {0}")]
    NotAuthorised(Address),
    /// The operator could not record it (nothing was accepted).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// L1 could not be asked.
    #[error("L1: {0}")]
    L1(String),
    /// The operator's own state broke (a bug).
    #[error("internal: {0}")]
    Internal(String),
}

/// Why the operator stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record does not replay to its roots, or holds an invalid operation.
    #[error("the record does not replay: {0}")]
    Replay(String),
    /// L1.
    #[error("L1: {0}")]
    L1(String),
    /// Proving.
    #[error("proving: {0}")]
    Prove(String),
}

/// An accepted operation: its sequence number in the store (none for priority requests,
/// which L1 keeps), the operation, its lane.
#[derive(Clone, Debug)]
struct Taken {
    seq: Option<u64>,
    wire: WireOp,
    lane: Lane,
}

struct Inner {
    builder: BlockBuilder,
    taken: Vec<Taken>,
    opened: Option<Instant>,
    next_seq: u64,
    /// Priority requests read from L1, not yet in a block, in id order.
    priority: VecDeque<WireOp>,
    /// The next priority request id to read.
    next_priority: u64,
    /// Sealed blocks not yet executed on L1, in order.
    unsubmitted: VecDeque<(Block, SealedRecord)>,
    last_sealed: u32,
    last_submitted: u32,
    submitted_root: Fr,
    last_prove_s: Option<f64>,
}

/// The operator's status.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The last block sealed.
    pub last_sealed: u32,
    /// The last block L1 executed.
    pub last_submitted: u32,
    /// Operations in the open block.
    pub open_ops: usize,
    /// The root after the last executed block.
    pub state_root: B256,
    /// The root after every accepted operation.
    pub latest_root: B256,
    /// Priority requests read from L1 and not yet in a block.
    pub queued_priority: usize,
    /// The rollup.
    pub rollup: Address,
}

/// An account as the operator sees it after every accepted operation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// Its index.
    pub index: u64,
    /// Its owner.
    pub address: Address,
    /// Its next nonce.
    pub nonce: u64,
    /// Whether it has an L2 key.
    pub has_key: bool,
    /// Balances by token id.
    pub balances: Vec<U128>,
}

/// The operator.
pub struct Operator {
    inner: Mutex<Inner>,
    store: Store,
    l1: L1Client,
    rollup: ZkRollup::ZkRollupInstance<DynProvider>,
    keys: Arc<RollupKeys>,
    config: OperatorConfig,
    wake: tokio::sync::Notify,
}

fn replay_err(e: impl std::fmt::Display) -> OperatorError {
    OperatorError::Replay(e.to_string())
}

/// What an account's owner authorises with a change-key: the account, the new key's hash,
/// the nonce, and the fee (its token and packed amount) the account pays for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// The account.
    pub account: u64,
    /// The new key's hash.
    pub key_hash: B256,
    /// The account's nonce.
    pub nonce: u32,
    /// The fee's token.
    pub fee_token: u8,
    /// The fee, packed as the public data carries it.
    pub fee: u16,
}

impl KeyChange {
    /// The change-key `c` as its owner authorises it (`None` for a nonce, token or fee the
    /// public data can not carry).
    pub fn of(c: &loft_zk::ops::ChangeKey) -> Option<Self> {
        Some(Self {
            account: c.account,
            key_hash: fr_word(&key_hash(&c.key)),
            nonce: u32::try_from(c.nonce).ok()?,
            fee_token: u8::try_from(c.fee_token).ok()?,
            fee: u16::try_from(loft_zk::amount::FEE.pack(c.fee)?).ok()?,
        })
    }
}

/// The digest an account's owner signs (EIP-191) to authorise a change-key: the contract's
/// `changeKeyDigest`, which covers the fee so that nobody else can choose it.
pub fn change_key_digest(rollup: Address, chain_id: u64, change: &KeyChange) -> B256 {
    let mut data = Vec::with_capacity(18 + 3 + 32 + 4 + 1 + 2 + 32 + 20);
    data.extend_from_slice(b"loft-zk change key");
    data.extend_from_slice(&change.account.to_be_bytes()[5..]);
    data.extend_from_slice(change.key_hash.as_slice());
    data.extend_from_slice(&change.nonce.to_be_bytes());
    data.push(change.fee_token);
    data.extend_from_slice(&change.fee.to_be_bytes());
    data.extend_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
    data.extend_from_slice(rollup.as_slice());
    keccak256(data)
}

impl Operator {
    /// Opens the operator over its record: replays the sealed blocks from genesis, queues the
    /// ones L1 has not executed, takes the pending operations again.
    pub async fn open(
        config: OperatorConfig,
        l1: L1Client,
        keys: Arc<RollupKeys>,
        store: Store,
    ) -> Result<Arc<Self>, OperatorError> {
        let d = &config.deployment;
        let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
        let executed =
            rollup.lastExecutedBlock().call().await.map_err(|e| OperatorError::L1(e.to_string()))?;
        let shape = d.config.shape();
        let mut state = d.config.genesis(d.operator).map_err(replay_err)?;
        let (records, pending) = store.load()?;
        let mut unsubmitted = VecDeque::new();
        let (mut next_priority, mut last_sealed, mut last_submitted) = (0u64, 0u32, 0u32);
        let mut submitted_root = state.root();
        for record in records {
            let mut b = BlockBuilder::new(state, shape, d.config.fee_account);
            for w in &record.ops {
                b.push(w.to_op().map_err(replay_err)?).map_err(replay_err)?;
                next_priority += w.priority_id().is_some() as u64;
            }
            let (block, after) = b.seal().map_err(replay_err)?;
            if fr_word(&block.new_root) != record.new_root {
                return Err(OperatorError::Replay(format!("block {} reaches another root", record.number)));
            }
            state = after;
            last_sealed = record.number;
            if record.submitted || record.number <= executed {
                last_submitted = record.number;
                submitted_root = block.new_root;
            } else {
                unsubmitted.push_back((block, record));
            }
        }
        if executed > last_sealed {
            return Err(OperatorError::Replay(format!(
                "L1 executed {executed} blocks, the record holds {last_sealed}: wrong data directory?"
            )));
        }
        let next_seq = pending.last().map(|(s, _)| s + 1).unwrap_or(0);
        let op = Arc::new(Self {
            inner: Mutex::new(Inner {
                builder: BlockBuilder::new(state, shape, d.config.fee_account),
                taken: Vec::new(),
                opened: None,
                next_seq,
                priority: VecDeque::new(),
                next_priority,
                unsubmitted,
                last_sealed,
                last_submitted,
                submitted_root,
                last_prove_s: None,
            }),
            store,
            l1,
            rollup,
            keys,
            config,
            wake: tokio::sync::Notify::new(),
        });
        for (seq, wire) in pending {
            let o = wire.to_op().map_err(replay_err)?;
            op.take(Some(seq), wire, o, false).map_err(replay_err)?;
        }
        Ok(op)
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.config.deployment
    }

    /// Puts an operation in the open block, sealing it first where it is full or where lane
    /// order makes the operation wait; records a user's operation before returning.
    fn take(&self, seq: Option<u64>, wire: WireOp, op: Op, record: bool) -> Result<(), SubmitError> {
        let mut inner = self.inner.lock();
        let before = inner.builder.clone();
        let lane = match inner.builder.push(op.clone()) {
            Ok(lane) => lane,
            Err(BlockError::Full(_)) | Err(BlockError::LaneOrder) => {
                self.seal_locked(&mut inner)?;
                match inner.builder.push(op) {
                    Ok(lane) => lane,
                    Err(BlockError::Op(e)) => return Err(e.into()),
                    Err(e) => return Err(SubmitError::Internal(e.to_string())),
                }
            }
            Err(BlockError::Op(e)) => return Err(e.into()),
            Err(e) => return Err(SubmitError::Internal(e.to_string())),
        };
        if record && let Some(seq) = seq {
            if let Err(e) = self.store.accept(seq, &wire) {
                inner.builder = before;
                return Err(e.into());
            }
            inner.next_seq = seq + 1;
        }
        inner.taken.push(Taken { seq, wire, lane });
        if inner.opened.is_none() {
            inner.opened = Some(Instant::now());
        }
        if inner.builder.is_full() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Takes a user's operation.
    pub async fn submit(&self, wire: WireOp) -> Result<u64, SubmitError> {
        if wire.priority_id().is_some() {
            return Err(SubmitError::PriorityOnL1);
        }
        let op = wire.to_op()?;
        if let (Op::ChangeKey(c), Some(sig)) = (&op, wire.eth_witness()) {
            let owner = {
                let inner = self.inner.lock();
                let state = inner.builder.state();
                state.account(c.account).map_err(OpError::from)?.address
            };
            let owner = Address::from(owner);
            // the public data can not carry anything else: the builder refuses it below
            let change = KeyChange::of(c).ok_or(SubmitError::NotAuthorised(owner))?;
            let d = &self.config.deployment;
            let digest = change_key_digest(d.rollup, d.chain_id, &change);
            let authorised = if sig.is_empty() {
                self.rollup
                    .authorizedChanges(owner, digest)
                    .call()
                    .await
                    .map_err(|e| SubmitError::L1(e.to_string()))?
            } else {
                alloy_primitives::Signature::from_raw(&sig)
                    .ok()
                    .and_then(|s| s.recover_address_from_msg(digest.as_slice()).ok())
                    == Some(owner)
            };
            if !authorised {
                return Err(SubmitError::NotAuthorised(owner));
            }
        }
        let seq = self.inner.lock().next_seq;
        self.take(Some(seq), wire, op, true)?;
        Ok(seq)
    }

    /// Seals the open block (if it holds anything): recorded, then queued for proving.
    fn seal_locked(&self, inner: &mut Inner) -> Result<(), SubmitError> {
        if inner.builder.is_empty() {
            return Ok(());
        }
        let d = &self.config.deployment;
        let (block, state) =
            inner.builder.clone().seal().map_err(|e| SubmitError::Internal(e.to_string()))?;
        block.check_rules().map_err(|e| SubmitError::Internal(e.to_string()))?;
        let mut taken = inner.taken.clone();
        // the record keeps block order (wide lane first), so that a replay builds this block
        taken.sort_by_key(|t| t.lane == Lane::Transfer);
        let number = inner.last_sealed + 1;
        let record = SealedRecord {
            number,
            ops: taken.iter().map(|t| t.wire.clone()).collect(),
            new_root: fr_word(&block.new_root),
            submitted: false,
        };
        let consumed: Vec<u64> = taken.iter().filter_map(|t| t.seq).collect();
        // on a failed write nothing changes: the open block stays open
        self.store.seal(&record, &consumed)?;
        inner.taken.clear();
        inner.builder = BlockBuilder::new(state, d.config.shape(), d.config.fee_account);
        inner.last_sealed = number;
        inner.opened = None;
        inner.unsubmitted.push_back((block, record));
        tracing::info!(block = number, "sealed");
        // the next block starts with the priority requests still waiting (one that does not
        // fit waits for the block after)
        if let Err(e) = Self::drain_priority_locked(inner) {
            tracing::warn!(error = %e, "a priority request waits");
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Moves the waiting priority requests, in L1's order, into the open block while they
    /// fit. Returns whether the queue is empty now (`false`: the block is full for the next
    /// one); an error when the next one can not be applied at all.
    fn drain_priority_locked(inner: &mut Inner) -> Result<bool, SubmitError> {
        while let Some(w) = inner.priority.front().cloned() {
            let lane = match inner.builder.push(w.to_op()?) {
                Ok(lane) => lane,
                Err(BlockError::Full(_)) | Err(BlockError::LaneOrder) => return Ok(false),
                Err(BlockError::Op(e)) => return Err(e.into()),
                Err(e) => return Err(SubmitError::Internal(e.to_string())),
            };
            inner.priority.pop_front();
            inner.taken.push(Taken { seq: None, wire: w, lane });
            inner.opened.get_or_insert_with(Instant::now);
        }
        Ok(true)
    }

    /// Reads L1's new priority requests and puts them in the open block in order (the rest
    /// wait in the queue for the next blocks).
    pub async fn poll_priority(&self) -> Result<(), OperatorError> {
        let l1e = |e: &dyn std::fmt::Display| OperatorError::L1(e.to_string());
        let head = self.l1.block_number().await.map_err(|e| l1e(&e))?;
        let Some(to) = head.checked_sub(self.config.l1_confirmations) else { return Ok(()) };
        let from = self.config.deployment.deployed_at;
        if to < from {
            return Ok(());
        }
        let logs = self
            .rollup
            .NewPriorityRequest_filter()
            .from_block(from)
            .to_block(to)
            .query()
            .await
            .map_err(|e| l1e(&e))?;
        let mut inner = self.inner.lock();
        for (e, _) in logs {
            if e.id != inner.next_priority {
                continue;
            }
            inner.next_priority += 1;
            let account: u64 = e.accountId.to();
            inner.priority.push_back(match e.opType {
                1 => WireOp::Deposit {
                    priority_id: e.id,
                    to: e.owner,
                    token: e.tokenId as u64,
                    amount: U128::from(e.amount),
                },
                _ => WireOp::FullExit { priority_id: e.id, account, token: e.tokenId as u64, owner: e.owner },
            });
        }
        // in order, sealing full blocks on the way; a request that can not be applied waits
        // (and, unserved, lets anyone freeze the rollup at its deadline)
        loop {
            match Self::drain_priority_locked(&mut inner) {
                Ok(true) => break,
                Ok(false) if !inner.builder.is_empty() => {
                    if let Err(e) = self.seal_locked(&mut inner) {
                        tracing::error!(error = %e, "sealing");
                        break;
                    }
                }
                Ok(false) => {
                    tracing::error!("a priority request does not fit an empty block");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a priority request waits");
                    break;
                }
            }
        }
        if inner.builder.is_full() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Seals the open block when its time has come (or it is full).
    pub fn seal_if_due(&self) -> Result<(), SubmitError> {
        let mut inner = self.inner.lock();
        let due =
            inner.opened.is_some_and(|t| t.elapsed() >= self.config.block_time) || inner.builder.is_full();
        if due { self.seal_locked(&mut inner) } else { Ok(()) }
    }

    /// Seals the open block now.
    pub fn seal_now(&self) -> Result<(), SubmitError> {
        let mut inner = self.inner.lock();
        self.seal_locked(&mut inner)
    }

    /// Proves and submits the oldest sealed block L1 has not executed. Returns whether there
    /// was one.
    pub async fn submit_next(&self) -> Result<bool, OperatorError> {
        let (block, record, estimate) = {
            let inner = self.inner.lock();
            match inner.unsubmitted.front() {
                Some((b, r)) => (b.clone(), r.clone(), inner.last_prove_s),
                None => return Ok(false),
            }
        };
        let executed =
            self.rollup.lastExecutedBlock().call().await.map_err(|e| OperatorError::L1(e.to_string()))?;
        if executed < record.number {
            let proof = self.prove(&block, record.number, estimate).await?;
            let witnesses: Vec<Bytes> = record.ops.iter().filter_map(|w| w.eth_witness()).collect();
            let call = self.rollup.submitBlock(
                record.number,
                record.new_root,
                block.pubdata.clone().into(),
                witnesses,
                proof,
            );
            let receipt = call
                .send()
                .await
                .map_err(|e| OperatorError::L1(e.to_string()))?
                .get_receipt()
                .await
                .map_err(|e| OperatorError::L1(e.to_string()))?;
            if !receipt.status() {
                return Err(OperatorError::L1(format!("block {} reverted", record.number)));
            }
            tracing::info!(block = record.number, gas = receipt.gas_used, "executed on L1");
        }
        self.store.mark_submitted(record.number)?;
        let mut inner = self.inner.lock();
        inner.unsubmitted.pop_front();
        inner.last_submitted = record.number;
        inner.submitted_root = block.new_root;
        Ok(true)
    }

    async fn prove(
        &self,
        block: &Block,
        number: u32,
        estimate: Option<f64>,
    ) -> Result<[U256; 8], OperatorError> {
        let keys = self.keys.clone();
        let circuit = BlockCircuit::new(block);
        let mut seed = [0u8; 32];
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        seed.copy_from_slice(
            keccak256([nanos.as_nanos().to_be_bytes().as_slice(), &number.to_be_bytes()].concat()).as_slice(),
        );
        let bar = indicatif::ProgressBar::new(estimate.map(|s| (s * 1000.0) as u64).unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} proving block {msg} {elapsed} (eta {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(number.to_string());
        let start = Instant::now();
        let ticker = {
            let bar = bar.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    bar.set_position(start.elapsed().as_millis() as u64);
                }
            })
        };
        let proof = tokio::task::spawn_blocking(move || groth16::prove(&keys.block, circuit, seed))
            .await
            .map_err(|e| OperatorError::Prove(e.to_string()))?
            .map_err(|e| OperatorError::Prove(e.to_string()))?;
        ticker.abort();
        bar.finish_and_clear();
        let secs = start.elapsed().as_secs_f64();
        self.inner.lock().last_prove_s = Some(secs);
        tracing::info!(block = number, seconds = secs, "proven");
        if !groth16::verify(&self.keys.block, &[block.commitment()], &proof) {
            return Err(OperatorError::Prove(format!("block {number}'s proof does not verify")));
        }
        Ok(ProofWords::new(&proof).0.map(U256::from_be_bytes))
    }

    /// Runs the operator until it fails: reads priority requests, seals blocks when due,
    /// proves and submits them.
    pub async fn run(self: Arc<Self>) -> Result<(), OperatorError> {
        let tick = Duration::from_millis(250).min(self.config.block_time);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = self.wake.notified() => {}
            }
            if let Err(e) = self.poll_priority().await {
                tracing::warn!(error = %e, "reading priority requests");
            }
            if let Err(e) = self.seal_if_due() {
                tracing::error!(error = %e, "sealing");
            }
            match self.submit_next().await {
                Ok(_) => {}
                Err(e @ OperatorError::L1(_)) => {
                    tracing::warn!(error = %e, "submitting; will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The status.
    pub fn status(&self) -> Status {
        let inner = self.inner.lock();
        Status {
            last_sealed: inner.last_sealed,
            last_submitted: inner.last_submitted,
            open_ops: inner.builder.len(),
            state_root: fr_word(&inner.submitted_root),
            latest_root: fr_word(&inner.builder.state().root()),
            queued_priority: inner.priority.len(),
            rollup: self.config.deployment.rollup,
        }
    }

    /// The account of `address` after every accepted operation.
    pub fn account(&self, address: Address) -> Option<AccountInfo> {
        let inner = self.inner.lock();
        account_info(inner.builder.state(), address)
    }
}

/// An account of `state`.
pub fn account_info(state: &State, address: Address) -> Option<AccountInfo> {
    let index = state.index_of(&address.into_array())?;
    let a = state.account(index).ok()?;
    let tokens = 1u64 << state.params().balance_depth;
    Some(AccountInfo {
        index,
        address,
        nonce: a.nonce,
        has_key: a.key_hash != Fr::from(0u64),
        balances: (0..tokens).map(|t| U128::from(a.balance(t))).collect(),
    })
}
