//! A running chain as the RPC server sees it: the engine behind a lock, how blocks are mined,
//! and the events subscribers and filters follow.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256};
use loft_chain::{BuiltBlock, Chain, ChainError, SealedHeader, Snapshot};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::route::TxRoute;

/// When blocks are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MiningMode {
    /// A block for every accepted transaction, at once (anvil's default).
    Instant,
    /// A block every interval, with whatever the pool holds.
    Interval(Duration),
    /// Only on `evm_mine`.
    Manual,
}

/// An event the node publishes to subscribers and filters.
#[derive(Clone, Debug)]
pub enum NodeEvent {
    /// A new block was added to the chain.
    Block(Box<SealedHeader>),
    /// A transaction entered the pool.
    PendingTx(B256),
    /// The chain was rewound to this block (evm_revert or reorg).
    Rewound(u64),
}

/// A running chain: the engine behind a lock, its mining, snapshots, dev signers and events.
pub struct Node {
    chain: Mutex<Chain>,
    chain_id: u64,
    mining: Mutex<MiningMode>,
    events: broadcast::Sender<NodeEvent>,
    snapshots: Mutex<HashMap<u64, Snapshot>>,
    next_snapshot: AtomicU64,
    signers: HashMap<Address, PrivateKeySigner>,
    client_version: String,
    tx_route: Mutex<TxRoute>,
    idle_block_time: Mutex<Option<Duration>>,
}

impl Node {
    /// Wraps a chain. `signers` are the accounts `eth_sendTransaction` may sign for.
    pub fn new(chain: Chain, mining: MiningMode, signers: Vec<PrivateKeySigner>) -> Arc<Self> {
        let (events, _) = broadcast::channel(4096);
        Arc::new(Self {
            chain_id: chain.chain_id(),
            chain: Mutex::new(chain),
            mining: Mutex::new(mining),
            events,
            snapshots: Mutex::new(HashMap::new()),
            next_snapshot: AtomicU64::new(1),
            signers: signers.into_iter().map(|s| (s.address(), s)).collect(),
            client_version: format!("loft/v{}", env!("CARGO_PKG_VERSION")),
            tx_route: Mutex::new(TxRoute::Local),
            idle_block_time: Mutex::new(None),
        })
    }

    /// In instant mode, also mine an empty block once the head is this old, as a real L1
    /// makes blocks whether or not anyone sends transactions (a rollup on it needs L1 time
    /// to pass: its L1 origins, channel durations and sequencing windows count L1 blocks).
    /// `None` (the default): instant mode mines only for transactions, as anvil does.
    pub fn set_idle_block_time(&self, every: Option<Duration>) {
        *self.idle_block_time.lock() = every;
    }

    /// Where transactions sent to this node go (its own pool unless set).
    pub fn tx_route(&self) -> TxRoute {
        self.tx_route.lock().clone()
    }

    /// Sets where transactions sent to this node go.
    pub fn set_tx_route(&self, route: TxRoute) {
        *self.tx_route.lock() = route;
    }

    /// Runs `f` with the chain locked.
    pub fn with_chain<R>(&self, f: impl FnOnce(&mut Chain) -> R) -> R {
        f(&mut self.chain.lock())
    }

    /// The mining mode.
    pub fn mining(&self) -> MiningMode {
        *self.mining.lock()
    }

    /// Changes the mining mode (the interval task reads it on every tick).
    pub fn set_mining(&self, mode: MiningMode) {
        *self.mining.lock() = mode;
    }

    /// Subscribes to node events.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// `web3_clientVersion`.
    pub fn client_version(&self) -> &str {
        &self.client_version
    }

    /// Dev accounts `eth_sendTransaction` signs for.
    pub fn signer(&self, address: &Address) -> Option<&PrivateKeySigner> {
        self.signers.get(address)
    }

    /// Addresses of the dev accounts.
    pub fn accounts(&self) -> Vec<Address> {
        let mut v: Vec<Address> = self.signers.keys().copied().collect();
        v.sort();
        v
    }

    /// Accepts a raw transaction; mines it at once in instant mode.
    ///
    /// Decoding and signature recovery run outside the chain's lock, and the durable write
    /// is shared with concurrent submissions (group commit); the hash is returned only once
    /// the transaction is on disk.
    pub fn submit_raw(&self, raw: &[u8]) -> Result<B256, ChainError> {
        let chain_id = self.chain_id;
        let tx = loft_chain::RecoveredTx::decode(raw, chain_id)?;
        let (write, journal) = {
            let mut chain = self.chain.lock();
            (chain.accept(tx)?, chain.journal())
        };
        let hash = write.hash;
        if let Err(e) = journal.commit(write) {
            self.chain.lock().forget(&hash);
            return Err(e);
        }
        let _ = self.events.send(NodeEvent::PendingTx(hash));
        if self.mining() == MiningMode::Instant {
            let mut chain = self.chain.lock();
            // Another submission's block may already hold it.
            if chain.pool().get(&hash).is_some() {
                let block = chain.build_block()?;
                let _ = self.events.send(NodeEvent::Block(Box::new(block.header)));
            }
        }
        Ok(hash)
    }

    /// Mines one block now.
    pub fn mine(&self) -> Result<BuiltBlock, ChainError> {
        let mut chain = self.chain.lock();
        let block = chain.build_block()?;
        let _ = self.events.send(NodeEvent::Block(Box::new(block.header.clone())));
        Ok(block)
    }

    /// Builds one block as `spec` says (a rollup's sequencer or replica) and announces it.
    pub fn build_with(&self, spec: loft_chain::BlockSpec) -> Result<BuiltBlock, ChainError> {
        let mut chain = self.chain.lock();
        let block = chain.build_block_with(spec)?;
        let _ = self.events.send(NodeEvent::Block(Box::new(block.header.clone())));
        Ok(block)
    }

    /// Takes a snapshot; returns its id.
    pub fn snapshot(&self) -> u64 {
        let id = self.next_snapshot.fetch_add(1, Ordering::Relaxed);
        let snap = self.chain.lock().snapshot();
        self.snapshots.lock().insert(id, snap);
        id
    }

    /// Reverts to a snapshot; `false` if it is unknown. As in anvil, the snapshot and every
    /// later one are consumed, and pending transactions are dropped.
    pub fn revert(&self, id: u64) -> Result<bool, ChainError> {
        let Some(snap) = self.snapshots.lock().get(&id).copied() else {
            return Ok(false);
        };
        {
            let mut chain = self.chain.lock();
            chain.revert_to(snap)?;
            chain.clear_pool()?;
        }
        self.snapshots.lock().retain(|k, _| *k < id);
        let _ = self.events.send(NodeEvent::Rewound(snap.head));
        Ok(true)
    }

    /// Starts the interval miner (a no-op tick in other modes). Runs until the runtime stops.
    pub fn spawn_miner(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                let wait = match node.mining() {
                    MiningMode::Interval(d) => d,
                    _ => Duration::from_millis(200),
                };
                tokio::time::sleep(wait).await;
                let idle = *node.idle_block_time.lock();
                let due = match (node.mining(), idle) {
                    (MiningMode::Interval(_), _) => true,
                    (MiningMode::Instant, Some(every)) => {
                        let head = node.with_chain(|c| c.head().header.timestamp);
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or_default();
                        now >= head.saturating_add(every.as_secs().max(1))
                    }
                    _ => false,
                };
                if due {
                    let node = node.clone();
                    let result = tokio::task::spawn_blocking(move || node.mine()).await;
                    match result {
                        Ok(Ok(block)) => tracing::debug!(
                            number = block.header.header.number,
                            txs = block.tx_hashes.len(),
                            "mined"
                        ),
                        Ok(Err(e)) => tracing::error!(error = %e, "mining failed"),
                        Err(e) => tracing::error!(error = %e, "miner task failed"),
                    }
                }
            }
        })
    }
}
