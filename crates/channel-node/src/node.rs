//! The node: one core task owning every channel and peer, fed by events (peer messages,
//! store commits, L1 logs, API calls), around the `loft-channels` state machines.
//!
//! - Peers: one reader and one writer task per Noise connection. Readers decode and recover
//!   balance-proof signers (the expensive part) before the core sees a message, so the core
//!   only compares addresses.
//! - Reliable delivery (docs/channels.md §3.5): per peer, reliable messages are numbered and
//!   kept in the outbox (on disk) until a cumulative `Ack`; on every connection both sides
//!   send `Hello{nextExpectedSeq}` and the outbox is resent from there, so delivery is
//!   exactly-once and in order across crashes, and a proof is never re-signed.
//! - Persistence: each core step's writes go to the store thread as a batch; the messages the
//!   step produced (proofs sent, `Ack`s) are released only after their batch is committed.
//! - L1: a watcher polls the `ChannelManager`'s logs and reports openings, deposits, closes
//!   and settlements that involve us.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, mpsc as std_mpsc},
    time::{Duration, Instant},
};

use alloy::signers::local::PrivateKeySigner;
use alloy::{
    providers::{Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use alloy_primitives::{Address, B256, U256};
use loft_channels::{
    Channel, ChannelDomain, ChannelError, ChannelStatus, Signature65, SignatureError, SignedBalanceProof,
    SigningKey, VerifiedBalanceProof,
    wire::{CloseRequest, DirectTransfer, Hello, Message, PROTOCOL_VERSION, Reliable, direct_message_hash},
};
use loft_l1::L1Client;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
};

use crate::{
    contracts::{ChannelContracts, ChannelDeployment, ChannelManager, SecretRegistry},
    store::{Batch, Committed, Side, Store, StoreError, Write, encode_channel},
    transport::{self, Connection, NoiseIdentity, NoiseReader, NoiseWriter, TransportError},
};

mod claims;
mod gossip;
mod history;
mod mediated;
mod tower;

pub use history::{PaymentRecord, PaymentRole, PaymentStatus};
pub use mediated::{MediationConfig, PaymentReport};

/// Unacknowledged reliable messages allowed per peer (pipelining window).
pub const WINDOW: u64 = 1024;
/// Error codes of `Message::Error`.
pub mod error_code {
    /// A balance proof or message was refused.
    pub const REFUSED: u16 = 1;
    /// A reliable message out of sequence.
    pub const SEQUENCE: u16 = 2;
    /// Wrong chain, manager or version in `Hello`.
    pub const WRONG_DEPLOYMENT: u16 = 3;
}

/// How to run a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's key (its address and signing key).
    pub key: SigningKey,
    /// The channel contracts.
    pub deployment: ChannelDeployment,
    /// Where its store lives.
    pub data_dir: PathBuf,
    /// Where it accepts peers.
    pub listen: SocketAddr,
    /// The L1 JSON-RPC URL.
    pub l1_url: String,
    /// How often the L1 watcher polls.
    pub l1_poll: Duration,
    /// How many blocks a log must be below the L1 head before the node acts on it, so that
    /// an open or a deposit a reorg takes away never counts (0: at once, for a devnet that
    /// makes blocks only for transactions; Raiden waits 5 on Ethereum).
    pub l1_confirmations: u64,
    /// Fees, deltas and timeouts of mediated payments.
    pub mediation: MediationConfig,
    /// A watchtower (its address and endpoint) to hand every partner's newest proof to.
    pub watchtower: Option<(Address, SocketAddr)>,
    /// The shortest time between two announcements of one channel's changed capacity.
    pub gossip_interval: Duration,
    /// How this node cheats, for adversarial tests ([`Misbehaviour::None`]: it does not).
    pub misbehaviour: Misbehaviour,
}

impl NodeConfig {
    /// A node of `key` on `deployment` with its store in `data_dir`, listening on a free
    /// loopback port, polling `l1_url` every 250 ms and acting on its logs at once, with the
    /// default mediation policy, no watchtower, and honest.
    pub fn new(key: SigningKey, deployment: ChannelDeployment, data_dir: PathBuf, l1_url: &str) -> Self {
        Self {
            key,
            deployment,
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            l1_url: l1_url.to_string(),
            l1_poll: Duration::from_millis(250),
            l1_confirmations: 0,
            mediation: MediationConfig::default(),
            watchtower: None,
            gossip_interval: GOSSIP_INTERVAL,
            misbehaviour: Misbehaviour::None,
        }
    }
}

/// Ways a node can be told to cheat, so that tests can show the others lose nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Honest.
    #[default]
    None,
    /// As a target, ask for the secret and then keep it to itself: never reveal it to the
    /// payer, so nobody upstream is paid and every lock must expire.
    WithholdSecret,
    /// As a target, keep the secret from the payer and reveal it only on L1, by registering
    /// it when the lock is about to expire (and refuse the lock's expiry): the payer must
    /// learn it from the `SecretRegistry`'s log to be paid upstream.
    RevealOnChainOnly,
    /// As a payer, never send `Unlock` once the secret is known, and expire the lock after
    /// its expiration anyway: the payee must refuse the expiry and claim the lock on L1
    /// (register the secret, close, settle, unlock).
    NeverUnlock,
}

/// The default of [`NodeConfig::gossip_interval`].
pub const GOSSIP_INTERVAL: Duration = Duration::from_secs(1);

/// Routes tried for one routed payment (each failure excludes the channel that failed).
pub const ROUTE_ATTEMPTS: usize = 3;

/// Why a node call failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The store failed; the node stopped.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A transport failure.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// An I/O failure (binding the listener).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// No open channel with this partner.
    #[error("no open channel with {0}")]
    NoChannel(Address),
    /// The channel refused the payment.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The L1 node failed.
    #[error("l1: {0}")]
    L1(String),
    /// A mediated payment could not be planned or failed.
    #[error("payment: {0}")]
    Route(String),
    /// A hop refused a mediated payment: its locks expire.
    #[error("payment failed at channel {channel} (reason {reason}); its locks expire")]
    PaymentFailed {
        /// The channel that could not carry it.
        channel: u64,
        /// The `TransferFailed` reason.
        reason: u16,
    },
    /// The node stopped.
    #[error("node stopped")]
    Stopped,
}

/// A channel as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel.
    pub channel: Channel,
    /// Reliable messages to the partner not yet acknowledged.
    pub unacked: u64,
    /// The nonce of the partner's proof our watchtower last acknowledged (none: no
    /// watchtower, or nothing acknowledged yet).
    pub watchtower_nonce: Option<u64>,
}

/// What a finished batch of payments reports.
#[derive(Debug, Clone, Copy)]
pub struct PayManyReport {
    /// Payments made.
    pub count: u64,
    /// From the first payment to the `Ack` of the last.
    pub elapsed: Duration,
}

/// Statistics of the store, for benchmarks.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// Commits so far.
    pub commits: u64,
    /// Batches committed.
    pub batches: u64,
    /// Commit durations in microseconds (the most recent 100,000).
    pub commit_us: Vec<u64>,
}

enum Api {
    Connect {
        peer: Address,
        addr: SocketAddr,
        reply: oneshot::Sender<Result<(), NodeError>>,
    },
    Pay {
        to: Address,
        amount: u128,
        reply: oneshot::Sender<Result<(), NodeError>>,
    },
    PayMany {
        to: Address,
        amount: u128,
        count: u64,
        reply: oneshot::Sender<Result<PayManyReport, NodeError>>,
    },
    Channels {
        reply: oneshot::Sender<Vec<ChannelInfo>>,
    },
    Stats {
        reply: oneshot::Sender<StoreStats>,
    },
    Close {
        channel: u64,
        reply: oneshot::Sender<Result<L1Receipt, NodeError>>,
    },
    PayRoute {
        route: Vec<loft_channels::route::RouteHop>,
        amount: u128,
        reply: oneshot::Sender<Result<PaymentReport, NodeError>>,
    },
    CloseUnilateral {
        channel: u64,
        reply: oneshot::Sender<Result<L1Receipt, NodeError>>,
    },
    Settle {
        channel: u64,
        reply: oneshot::Sender<Result<L1Receipt, NodeError>>,
    },
    Payments {
        reply: oneshot::Sender<Vec<PaymentRecord>>,
    },
    Head {
        reply: oneshot::Sender<u64>,
    },
    FindRoute {
        to: Address,
        amount: u128,
        exclude: std::collections::HashSet<u64>,
        reply: oneshot::Sender<Option<Vec<loft_channels::route::RouteHop>>>,
    },
}

/// An L1 transaction the node sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Receipt {
    /// Its hash.
    pub tx: B256,
    /// Its gas.
    pub gas_used: u64,
}

/// The values of one side's proof as submitted on chain (all zero: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SideValues {
    nonce: u64,
    transferred: U256,
    locked: U256,
    locksroot: B256,
}

/// A closed channel's on-chain proofs, for the update and the settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OnChain {
    closer: Address,
    settle_block: u64,
    /// The non-closer's proof, submitted by the closer.
    non_closer: SideValues,
    /// The closer's proof, submitted by the non-closer (or its watchtower).
    closer_side: SideValues,
}

impl OnChain {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(232);
        out.extend_from_slice(self.closer.as_slice());
        out.extend_from_slice(&self.settle_block.to_be_bytes());
        for v in [&self.non_closer, &self.closer_side] {
            out.extend_from_slice(&v.nonce.to_be_bytes());
            out.extend_from_slice(&v.transferred.to_be_bytes::<32>());
            out.extend_from_slice(&v.locked.to_be_bytes::<32>());
            out.extend_from_slice(v.locksroot.as_slice());
        }
        out
    }

    fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 232 {
            return None;
        }
        let side = |o: usize| SideValues {
            nonce: u64::from_be_bytes(b[o..o + 8].try_into().expect("8 bytes")),
            transferred: U256::from_be_slice(&b[o + 8..o + 40]),
            locked: U256::from_be_slice(&b[o + 40..o + 72]),
            locksroot: B256::from_slice(&b[o + 72..o + 104]),
        };
        Some(Self {
            closer: Address::from_slice(&b[..20]),
            settle_block: u64::from_be_bytes(b[20..28].try_into().expect("8 bytes")),
            non_closer: side(28),
            closer_side: side(132),
        })
    }
}

/// A cooperative close we asked for.
struct PendingClose {
    balance1: U256,
    balance2: U256,
    expiration: u64,
    our_signature: Signature65,
}

/// An L1 fact about a channel of ours.
#[derive(Debug, Clone)]
enum L1Event {
    Opened {
        id: u64,
        partner: Address,
        token: Address,
        settle_timeout: u64,
    },
    Deposit {
        id: u64,
        participant: Address,
        total: u128,
    },
    Closed {
        id: u64,
        closer: Address,
        block: u64,
        values: SideValues,
    },
    Updated {
        id: u64,
        values: SideValues,
    },
    Settled {
        id: u64,
    },
    /// A secret registered in the `SecretRegistry` (any payment's; the core keeps its own).
    SecretRevealed {
        secrethash: B256,
        secret: B256,
        block: u64,
    },
    /// Any channel of the deployment opened (for the gossip graph).
    GraphOpened {
        id: u64,
        participants: (Address, Address),
    },
    /// Any channel closed or settled.
    GraphClosed {
        id: u64,
    },
    Cursor(u64),
    Head(u64),
}

// Peer messages dominate the traffic; boxing them would cost an allocation per payment.
#[allow(clippy::large_enum_variant)]
enum Event {
    Connected(Box<Connection>, Option<oneshot::Sender<Result<(), NodeError>>>),
    Message {
        peer: Address,
        conn: u64,
        msg: Message,
        verified: Option<Result<VerifiedBalanceProof, SignatureError>>,
    },
    Disconnected {
        peer: Address,
        conn: u64,
    },
    Committed(Result<Committed, StoreError>),
    L1(L1Event),
    L1Done {
        channel: u64,
        what: &'static str,
        result: Result<L1Receipt, String>,
    },
    /// When the secret of a payment we take part in was registered on L1 (0: never).
    SecretRevealBlock {
        secrethash: B256,
        block: Result<u64, String>,
    },
    /// Our watchtower acknowledged (stored) the partner's proof of `channel` up to `nonce`.
    TowerAcked {
        channel: u64,
        nonce: u64,
    },
    /// The outcome of unlocking one side's settled locks (`None`: the partner's turn).
    Unlocked {
        channel: u64,
        theirs: bool,
        locks: loft_channels::LockList,
        result: Result<Option<L1Receipt>, String>,
    },
    Api(Api),
}

/// How long a handle waits for its node's L1 watcher to see its own transaction.
const L1_SEEN: Duration = Duration::from_secs(60);

/// A routed payment that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedPayment {
    /// Its fees and time.
    pub report: PaymentReport,
    /// The route that carried it: the nodes after us, the target last.
    pub route: Vec<Address>,
    /// The channels of earlier attempts that failed.
    pub failed: Vec<u64>,
}

/// A handle to a running node.
#[derive(Clone)]
pub struct NodeHandle {
    address: Address,
    listen: SocketAddr,
    events: mpsc::UnboundedSender<Event>,
    /// Opens and deposits go to L1 from the handle: they need no core state, and the core
    /// learns their outcome from the L1 watcher like any other channel event.
    contracts: ChannelContracts,
    deployment: ChannelDeployment,
    mediation: MediationConfig,
}

impl NodeHandle {
    /// The node's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Where it accepts peers.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The channel contracts it uses.
    pub fn deployment(&self) -> &ChannelDeployment {
        &self.deployment
    }

    /// Its fees and timing of mediated payments.
    pub fn mediation(&self) -> &MediationConfig {
        &self.mediation
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Api) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.events.send(Event::Api(make(tx))).map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Dials `peer` at `addr` (returns once the Noise handshake is done).
    pub async fn connect(&self, peer: Address, addr: SocketAddr) -> Result<(), NodeError> {
        self.call(|reply| Api::Connect { peer, addr, reply }).await?
    }

    /// Pays `amount` directly to the partner `to`; returns once the partner has it on disk.
    pub async fn pay(&self, to: Address, amount: u128) -> Result<(), NodeError> {
        self.call(|reply| Api::Pay { to, amount, reply }).await?
    }

    /// Makes `count` direct payments of `amount` to `to`, pipelined; returns after the last
    /// is acknowledged.
    pub async fn pay_many(&self, to: Address, amount: u128, count: u64) -> Result<PayManyReport, NodeError> {
        self.call(|reply| Api::PayMany { to, amount, count, reply }).await?
    }

    /// Every channel of ours.
    pub async fn channels(&self) -> Result<Vec<ChannelInfo>, NodeError> {
        self.call(|reply| Api::Channels { reply }).await
    }

    /// Store statistics.
    pub async fn store_stats(&self) -> Result<StoreStats, NodeError> {
        self.call(|reply| Api::Stats { reply }).await
    }

    /// Pays `amount` to the last node of `route` through the others (hash-time locks);
    /// returns once our `Unlock` is committed, i.e. the payment is irrevocable downstream.
    pub async fn pay_route(
        &self,
        route: Vec<loft_channels::route::RouteHop>,
        amount: u128,
    ) -> Result<PaymentReport, NodeError> {
        self.call(|reply| Api::PayRoute { route, amount, reply }).await?
    }

    /// Closes `channel` cooperatively: both sign the final balances, one L1 transaction pays
    /// both. Refused while payments are in flight or locks pending.
    pub async fn close(&self, channel: u64) -> Result<L1Receipt, NodeError> {
        self.call(|reply| Api::Close { channel, reply }).await?
    }

    /// Closes `channel` alone with the partner's newest proof; the settle period starts.
    pub async fn close_unilateral(&self, channel: u64) -> Result<L1Receipt, NodeError> {
        self.call(|reply| Api::CloseUnilateral { channel, reply }).await?
    }

    /// Settles a closed `channel` once its settle period is over (the node also does so by
    /// itself); returns the settlement's receipt.
    pub async fn settle(&self, channel: u64) -> Result<L1Receipt, NodeError> {
        self.call(|reply| Api::Settle { channel, reply }).await?
    }

    /// The mediated payments we took part in.
    pub async fn payments(&self) -> Result<Vec<PaymentRecord>, NodeError> {
        self.call(|reply| Api::Payments { reply }).await
    }

    /// The newest L1 block the node has seen.
    pub async fn head(&self) -> Result<u64, NodeError> {
        self.call(|reply| Api::Head { reply }).await
    }

    /// The cheapest route to `to` for `amount` we know of (our channels and gossip), not
    /// using the channels in `exclude`.
    pub async fn route(
        &self,
        to: Address,
        amount: u128,
        exclude: &[u64],
    ) -> Result<Option<Vec<loft_channels::route::RouteHop>>, NodeError> {
        let exclude = exclude.iter().copied().collect();
        self.call(|reply| Api::FindRoute { to, amount, exclude, reply }).await
    }

    /// Pays `amount` to `to` along the cheapest route with enough capacity; when a hop
    /// refuses, the channel that failed is left out and another route tried (up to
    /// [`ROUTE_ATTEMPTS`] in all).
    pub async fn pay_routed(&self, to: Address, amount: u128) -> Result<RoutedPayment, NodeError> {
        let mut exclude = std::collections::HashSet::new();
        let mut failures = Vec::new();
        for _ in 0..ROUTE_ATTEMPTS {
            let ex = exclude.clone();
            let route = self.call(|reply| Api::FindRoute { to, amount, exclude: ex, reply }).await?;
            let Some(route) = route else { break };
            match self.pay_route(route.clone(), amount).await {
                Ok(report) => {
                    let route = route.iter().map(|h| h.node).collect();
                    return Ok(RoutedPayment { report, route, failed: exclude.into_iter().collect() });
                }
                Err(NodeError::PaymentFailed { channel, reason }) => {
                    failures.push(format!("channel {channel} (reason {reason})"));
                    exclude.insert(channel);
                }
                Err(e) => return Err(e),
            }
        }
        Err(NodeError::Route(if failures.is_empty() {
            format!("no route to {to} with capacity for {amount} wei")
        } else {
            format!("every route to {to} failed: {}", failures.join(", "))
        }))
    }

    /// Opens a channel with `partner` in `token` (zero: ETH) and deposits `deposit` in the
    /// same L1 transaction (an ERC-20 is approved first); returns once the node has seen the
    /// channel on L1.
    pub async fn open(
        &self,
        partner: Address,
        token: Address,
        deposit: u128,
        settle_timeout: u64,
    ) -> Result<(u64, L1Receipt), NodeError> {
        if partner == self.address || partner == Address::ZERO {
            return Err(NodeError::Route(format!("cannot open a channel with {partner}")));
        }
        if token != Address::ZERO {
            self.contracts.approve(token, U256::from(deposit)).await.map_err(l1_error)?;
        }
        let (id, receipt) = self
            .contracts
            .open_with_deposit(partner, token, settle_timeout, U256::from(deposit))
            .await
            .map_err(l1_error)?;
        self.wait_for_channel(id, |c| c.ours.deposit >= deposit, L1_SEEN).await?;
        Ok((id, L1Receipt { tx: receipt.transaction_hash, gas_used: receipt.gas_used }))
    }

    /// Raises our total deposit in `channel` to `total`; returns once the node has seen it.
    pub async fn deposit(&self, channel: u64, total: u128) -> Result<L1Receipt, NodeError> {
        // A channel the partner just opened may not have reached our watcher yet.
        let _ = self.wait_for_channel(channel, |_| true, Duration::from_secs(10)).await;
        let c = self
            .channels()
            .await?
            .into_iter()
            .find(|c| c.channel.id == channel)
            .ok_or_else(|| NodeError::Route(format!("no channel {channel}")))?
            .channel;
        if c.status != ChannelStatus::Opened {
            return Err(NodeError::Route(format!("channel {channel} is not open")));
        }
        let Some(added) = total.checked_sub(c.ours.deposit).filter(|a| *a > 0) else {
            return Err(NodeError::Route(format!(
                "the total deposit {total} must exceed the current {}",
                c.ours.deposit
            )));
        };
        let eth = if c.token == Address::ZERO {
            U256::from(added)
        } else {
            self.contracts.approve(c.token, U256::from(added)).await.map_err(l1_error)?;
            U256::ZERO
        };
        let receipt = self
            .contracts
            .set_total_deposit(channel, self.address, U256::from(total), eth)
            .await
            .map_err(l1_error)?;
        self.wait_for_channel(channel, |c| c.ours.deposit >= total, L1_SEEN).await?;
        Ok(L1Receipt { tx: receipt.transaction_hash, gas_used: receipt.gas_used })
    }

    /// Waits (up to `timeout`) until the core's copy of `channel` satisfies `done`.
    async fn wait_for_channel(
        &self,
        channel: u64,
        done: impl Fn(&Channel) -> bool,
        timeout: Duration,
    ) -> Result<(), NodeError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.channels().await?.iter().any(|c| c.channel.id == channel && done(&c.channel)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(NodeError::L1(format!(
                    "channel {channel}: the L1 watcher did not see the change"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn l1_error(e: crate::contracts::ContractError) -> NodeError {
    NodeError::L1(e.to_string())
}

/// A running node; dropping it does not stop it, [`Node::shutdown`] does.
pub struct Node {
    handle: NodeHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    store_thread: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    /// Opens the store, loads it, and starts the listener, the L1 watcher and the core.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let domain = config.deployment.domain();
        let us = config.key.address();
        let path = config.data_dir.join("channels.redb");
        let (store, set_aside) = Store::open_or_set_aside(&path, us, &config.deployment.binding_id())?;
        if let Some(aside) = set_aside {
            tracing::warn!(
                store = %path.display(),
                set_aside = %aside.display(),
                "the channel store was made for another deployment (chain, contract or L1 history): \
                 set aside, starting a new one"
            );
        }
        let snapshot = store.load(us)?;
        let l1_cursor = store_cursor(&store)?.unwrap_or(config.deployment.deploy_block);

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (committed_tx, mut committed_rx) = mpsc::unbounded_channel();
        let reader = store.clone();
        let (batches, store_thread) = store.spawn_writer(committed_tx);
        let forward = events_tx.clone();
        let committed_task = tokio::spawn(async move {
            while let Some(c) = committed_rx.recv().await {
                if forward.send(Event::Committed(c)).is_err() {
                    return;
                }
            }
        });

        let signer = PrivateKeySigner::from_bytes(&B256::from(config.key.secret_bytes()))
            .map_err(|e| NodeError::L1(e.to_string()))?;
        let l1 = Arc::new(
            L1Client::connect(&config.l1_url, signer).await.map_err(|e| NodeError::L1(e.to_string()))?,
        );
        let l1_for_handle = (*l1).clone();
        let identity = Arc::new(NoiseIdentity::new(&config.key, domain));
        let listener = TcpListener::bind(config.listen).await?;
        let listen = listener.local_addr()?;
        let accept_task = tokio::spawn(accept_loop(listener, identity.clone(), events_tx.clone()));
        let watcher = tokio::spawn(watch_l1(config.clone(), l1_cursor, events_tx.clone()));
        let mut tasks = Vec::new();
        let tower_tx = config.watchtower.map(|(address, addr)| {
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(tower::client(
                config.key.clone(),
                domain,
                identity.clone(),
                address,
                addr,
                rx,
                events_tx.clone(),
            )));
            tx
        });

        let mut core = Core {
            key: config.key.clone(),
            domain,
            identity,
            events: events_tx.clone(),
            batches,
            store: reader,
            next_token: 1,
            writes: Vec::new(),
            releases: Vec::new(),
            pending: VecDeque::new(),
            channels: BTreeMap::new(),
            peers: HashMap::new(),
            next_conn: 1,
            stats: StoreStats::default(),
            queued: VecDeque::new(),
            stopped: false,
            l1,
            deployment: config.deployment,
            head: 0,
            onchain: HashMap::new(),
            closes: HashMap::new(),
            l1_busy: HashMap::new(),
            l1_replies: HashMap::new(),
            transfers: HashMap::new(),
            dirty_transfers: Default::default(),
            payment_replies: HashMap::new(),
            payment_answers: HashMap::new(),
            dial: HashMap::new(),
            dialing: HashMap::new(),
            payments: BTreeMap::new(),
            endpoint: Some(listen).filter(|a| !a.ip().is_unspecified()),
            tower: tower_tx,
            gossip: Default::default(),
            gossip_interval: config.gossip_interval,
            secret_checks: Default::default(),
            l1_cursor,
            tower_acked: HashMap::new(),
            misbehaviour: config.misbehaviour,
            mediation: config.mediation,
        };
        core.restore(snapshot);
        let core_task = tokio::spawn(core.run(events_rx));
        Ok(Node {
            handle: NodeHandle {
                address: us,
                listen,
                events: events_tx,
                contracts: ChannelContracts::new(&l1_for_handle, config.deployment),
                deployment: config.deployment,
                mediation: config.mediation,
            },
            tasks: [core_task, accept_task, watcher, committed_task].into_iter().chain(tasks).collect(),
            store_thread: Some(store_thread),
        })
    }

    /// A handle for calls.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// Stops every task as a crash would: what is committed stays, what is not is lost, and
    /// nothing uncommitted was ever sent. Returns once the store file is closed, so a new node
    /// can open it.
    pub async fn shutdown(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        if let Some(thread) = self.store_thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn store_cursor(store: &Store) -> Result<Option<u64>, StoreError> {
    store
        .meta("l1Cursor")
        .map(|v| v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok()).map(u64::from_be_bytes))
}

async fn accept_loop(
    listener: TcpListener,
    identity: Arc<NoiseIdentity>,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        let Ok((stream, from)) = listener.accept().await else { continue };
        let identity = identity.clone();
        let events = events.clone();
        // Handshakes run concurrently, each bounded by the transport's timeout.
        tokio::spawn(async move {
            match transport::accept(stream, &identity).await {
                Ok(conn) => {
                    let _ = events.send(Event::Connected(Box::new(conn), None));
                }
                Err(e) => tracing::debug!(%from, error = %e, "handshake refused"),
            }
        });
    }
}

/// Per-peer state in the core.
#[derive(Default)]
struct Peer {
    /// Next seq we assign.
    next_out: u64,
    /// Last incoming seq processed (in memory) and committed.
    last_in: u64,
    last_in_committed: u64,
    /// Highest outgoing seq whose batch is committed (sendable).
    out_committed: u64,
    /// Highest outgoing seq the peer acknowledged.
    acked: u64,
    outbox: BTreeMap<u64, Vec<u8>>,
    conn: Option<PeerConn>,
    /// API calls waiting for the `Ack` of a seq.
    waiting: BTreeMap<u64, Waiter>,
    /// Reliable messages held back, in order, because our L1 view is behind the sender's
    /// (a `LockExpired` our head does not allow yet); retried on every new head.
    deferred: VecDeque<HeldMessage>,
}

/// A reliable message with its seq and its proof's recovered signer, held back.
type HeldMessage = (u64, Reliable, Option<Result<VerifiedBalanceProof, SignatureError>>);

/// Why a reliable message was not applied.
enum Refusal {
    /// Refused: the connection is closed with this reason.
    Refuse(String),
    /// Not yet: our L1 head is behind; held back and retried.
    NotYet,
}

impl From<String> for Refusal {
    fn from(text: String) -> Self {
        Refusal::Refuse(text)
    }
}

struct PeerConn {
    id: u64,
    writer: mpsc::UnboundedSender<Vec<u8>>,
    /// The peer's `Hello` arrived: the outbox was resent and new messages go out.
    ready: bool,
    /// Highest seq written on this connection.
    sent: u64,
    /// The reader task ends with the connection (and with the core, as in a crash).
    _reader: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum Waiter {
    One(oneshot::Sender<Result<(), NodeError>>),
    Many { started: Instant, count: u64, reply: oneshot::Sender<Result<PayManyReport, NodeError>> },
}

/// What happens once a batch is on disk.
enum Release {
    /// The outgoing message `seq` to `peer` may be sent.
    Send(Address, u64),
    /// The partner's proof of `channel` changed: the watchtower gets the newest.
    Tower(u64),
    /// Incoming messages of `peer` up to `seq` may be acknowledged.
    Ack(Address, u64),
    /// The `pay_route` call of this secrethash may have its answer: what decided it is on disk.
    Answer(B256),
}

/// A pipelined `pay_many` in progress.
struct PayJob {
    to: Address,
    amount: u128,
    remaining: u64,
    started: Instant,
    count: u64,
    reply: Option<oneshot::Sender<Result<PayManyReport, NodeError>>>,
}

struct Core {
    key: SigningKey,
    domain: ChannelDomain,
    identity: Arc<NoiseIdentity>,
    events: mpsc::UnboundedSender<Event>,
    batches: std_mpsc::Sender<Batch>,
    /// Reads what the store thread committed (the lock log, when a settlement needs it).
    store: Store,
    next_token: u64,
    writes: Vec<Write>,
    releases: Vec<Release>,
    pending: VecDeque<(u64, Vec<Release>)>,
    channels: BTreeMap<u64, Channel>,
    peers: HashMap<Address, Peer>,
    next_conn: u64,
    stats: StoreStats,
    queued: VecDeque<PayJob>,
    stopped: bool,
    l1: Arc<L1Client>,
    deployment: ChannelDeployment,
    head: u64,
    onchain: HashMap<u64, OnChain>,
    closes: HashMap<u64, PendingClose>,
    /// L1 transactions in flight per channel (`update`, `settle`), so each is sent once.
    l1_busy: HashMap<(u64, &'static str), ()>,
    /// API calls waiting for an L1 transaction.
    l1_replies: HashMap<(u64, &'static str), oneshot::Sender<Result<L1Receipt, NodeError>>>,
    /// Peers we dialled, dialled again when their connection drops.
    dial: HashMap<Address, SocketAddr>,
    /// When each peer was last dialled.
    dialing: HashMap<Address, Instant>,
    /// Mediated payments we take part in, by secrethash.
    transfers: HashMap<B256, mediated::Transfer>,
    /// Transfers changed since the last batch (written, or deleted when gone, at flush).
    dirty_transfers: std::collections::BTreeSet<B256>,
    /// `pay_route` calls waiting for their payment's end.
    payment_replies: HashMap<B256, oneshot::Sender<Result<PaymentReport, NodeError>>>,
    /// Answers decided, waiting for the commit that records them ([`Release::Answer`]).
    payment_answers: HashMap<B256, mediated::PaymentAnswer>,
    /// Mediated payments we took part in (the API's history), by secrethash.
    payments: BTreeMap<B256, PaymentRecord>,
    /// Where we accept peers, as our payments' targets may dial it (none when we listen on
    /// an unspecified address).
    endpoint: Option<SocketAddr>,
    /// The watchtower client task's inbox: (channel, partner, the partner's newest proof).
    tower: Option<mpsc::UnboundedSender<tower::TowerUpdate>>,
    gossip: gossip::Gossip,
    gossip_interval: Duration,
    /// Payments whose secret's registration on L1 is being looked up.
    secret_checks: std::collections::HashSet<B256>,
    /// What our watchtower acknowledged, per channel (the newest nonce).
    tower_acked: HashMap<u64, u64>,
    /// The L1 block through which the watcher has reported every log.
    l1_cursor: u64,
    misbehaviour: Misbehaviour,
    mediation: MediationConfig,
}

impl Core {
    fn restore(&mut self, snapshot: crate::store::Snapshot) {
        for c in snapshot.channels {
            // The watchtower gets every unsettled channel's newest partner proof again.
            if let (Some(tower), Some(proof)) = (&self.tower, c.theirs.proof)
                && c.status != ChannelStatus::Settled
            {
                let _ = tower.send(tower::TowerUpdate::Proof { channel: c.id, partner: c.partner, proof });
            }
            self.channels.insert(c.id, c);
        }
        for (h, record) in &snapshot.transfers {
            match mediated::Transfer::decode(record) {
                Some(t) => {
                    self.transfers.insert(*h, t);
                }
                None => tracing::error!(%h, "unreadable transfer record"),
            }
        }
        for (h, record) in &snapshot.payments {
            match PaymentRecord::decode(*h, record) {
                Some(r) => {
                    self.payments.insert(*h, r);
                }
                None => tracing::error!(%h, "unreadable payment record"),
            }
        }
        for (key, value) in &snapshot.meta {
            if let Some(peer) = key.strip_prefix("dial/").and_then(|p| p.parse::<Address>().ok())
                && let Some(addr) = std::str::from_utf8(value).ok().and_then(|a| a.parse::<SocketAddr>().ok())
            {
                self.dial.insert(peer, addr);
            }
            if let Some(id) = key.strip_prefix("onchain/").and_then(|id| id.parse::<u64>().ok())
                && let Some(record) = OnChain::decode(value)
            {
                self.onchain.insert(id, record);
            }
        }
        // Locks of a settlement whose unlock a crash interrupted (the contract says if any):
        // a side is done with once its pending locks and its lock log are gone.
        let settled: Vec<u64> = self
            .channels
            .values()
            .filter(|c| {
                c.status == ChannelStatus::Settled
                    && [(Side::Ours, &c.ours.locks), (Side::Theirs, &c.theirs.locks)].into_iter().any(
                        |(side, locks)| {
                            !locks.is_empty() || self.store.has_lock_log(c.id, side).unwrap_or(true)
                        },
                    )
            })
            .map(|c| c.id)
            .collect();
        for id in settled {
            self.unlock_settled(id);
        }
        for (addr, (next_out, last_in)) in snapshot.peers {
            let peer = self.peers.entry(addr).or_default();
            peer.next_out = next_out;
            peer.last_in = last_in;
            peer.last_in_committed = last_in;
            peer.out_committed = next_out.saturating_sub(1);
        }
        for (addr, entries) in snapshot.outbox {
            let peer = self.peers.entry(addr).or_default();
            if let Some((first, _)) = entries.first() {
                peer.acked = first - 1;
            }
            peer.outbox.extend(entries);
        }
        for peer in self.peers.values_mut() {
            if peer.outbox.is_empty() {
                peer.acked = peer.next_out.saturating_sub(1);
            }
            peer.next_out = peer.next_out.max(1);
        }
    }

    async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        while let Some(first) = events.recv().await {
            self.handle(first);
            // Everything already queued is handled before the batch is flushed, so one batch
            // (and one commit) carries many payments under load.
            let mut n = 0;
            while n < 512 {
                match events.try_recv() {
                    Ok(ev) => self.handle(ev),
                    Err(_) => break,
                }
                n += 1;
            }
            self.pump_jobs();
            self.flush();
            if self.stopped {
                return;
            }
        }
    }

    fn flush(&mut self) {
        for h in std::mem::take(&mut self.dirty_transfers) {
            self.writes.push(match self.transfers.get(&h) {
                Some(t) => Write::Transfer(h, t.encode()),
                None => Write::TransferDone(h),
            });
        }
        // Acknowledged outbox entries need not be durable at once: after a crash they are sent
        // again and the peer, which has their seq, only acknowledges them again. So a step
        // that did nothing else waits for the next commit instead of costing an fsync of its
        // own (one per message on a payment's path, each delaying the commits behind it).
        if self.releases.is_empty() && self.writes.iter().all(|w| matches!(w, Write::OutboxAcked(..))) {
            return;
        }
        if self.tower.is_some() {
            let mut changed: Vec<u64> = self
                .writes
                .iter()
                .filter_map(|w| match w {
                    Write::Proof(id, Side::Theirs, _) => Some(*id),
                    _ => None,
                })
                .collect();
            changed.sort_unstable();
            changed.dedup();
            self.releases.extend(changed.into_iter().map(Release::Tower));
        }
        let token = self.next_token;
        self.next_token += 1;
        let writes = std::mem::take(&mut self.writes);
        self.pending.push_back((token, std::mem::take(&mut self.releases)));
        if self.batches.send(Batch { token, writes }).is_err() {
            tracing::error!("store thread gone; stopping");
            self.stopped = true;
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Connected(conn, reply) => self.on_connected(conn, reply),
            Event::Message { peer, conn, msg, verified } => self.on_message(peer, conn, msg, verified),
            Event::Disconnected { peer, conn } => {
                if let Some(p) = self.peers.get_mut(&peer)
                    && p.conn.as_ref().is_some_and(|c| c.id == conn)
                {
                    p.conn = None;
                }
            }
            Event::Committed(Ok(c)) => self.on_committed(c),
            Event::Committed(Err(e)) => {
                tracing::error!(error = %e, "store commit failed; stopping");
                self.stopped = true;
            }
            Event::L1(e) => self.on_l1(e),
            Event::L1Done { channel, what, result } => self.on_l1_done(channel, what, result),
            Event::SecretRevealBlock { secrethash, block } => self.on_secret_reveal_block(secrethash, block),
            Event::Unlocked { channel, theirs, locks, result } => {
                self.on_unlocked(channel, theirs, locks, result)
            }
            Event::TowerAcked { channel, nonce } => {
                let acked = self.tower_acked.entry(channel).or_default();
                *acked = (*acked).max(nonce);
            }
            Event::Api(api) => self.on_api(api),
        }
    }

    // ------------------------------------------------------------ connections

    fn on_connected(&mut self, conn: Box<Connection>, reply: Option<oneshot::Sender<Result<(), NodeError>>>) {
        let Connection { peer, reader, writer } = *conn;
        // One connection per peer: the newest replaces the old one (its tasks end when their
        // channel closes or the socket errors).
        let id = self.next_conn;
        self.next_conn += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        // The writer ends by itself once its queue is dropped (after writing what is queued,
        // such as a final `Error`); the reader is aborted with the connection.
        tokio::spawn(write_loop(writer, rx));
        let reader_task = AbortOnDrop(
            tokio::spawn(read_loop(reader, peer, id, self.domain, self.events.clone())).abort_handle(),
        );
        let p = self.peers.entry(peer).or_default();
        p.next_out = p.next_out.max(1);
        let hello = Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            chain_id: self.domain.chain_id(),
            manager: self.domain.manager(),
            next_expected_seq: p.last_in_committed + 1,
            features: 0,
        });
        let _ = tx.send(hello.encode());
        p.conn = Some(PeerConn { id, writer: tx, ready: false, sent: 0, _reader: reader_task });
        self.gossip_to(peer);
        if let Some(reply) = reply {
            let _ = reply.send(Ok(()));
        }
    }

    fn drop_peer_connection(&mut self, peer: Address, code: u16, text: String) {
        tracing::warn!(%peer, code, %text, "refusing peer message; closing the connection");
        if let Some(p) = self.peers.get_mut(&peer)
            && let Some(conn) = p.conn.take()
        {
            let _ = conn.writer.send(Message::Error { code, text }.encode());
        }
    }

    fn send_ready(&mut self, peer: Address) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let Some(conn) = p.conn.as_mut() else { return };
        if !conn.ready {
            return;
        }
        let from = conn.sent.max(p.acked) + 1;
        if from > p.out_committed {
            return;
        }
        for (seq, bytes) in p.outbox.range(from..=p.out_committed) {
            if conn.writer.send(bytes.clone()).is_err() {
                break;
            }
            conn.sent = *seq;
        }
    }

    // ------------------------------------------------------------ messages

    fn on_message(
        &mut self,
        peer: Address,
        conn: u64,
        msg: Message,
        verified: Option<Result<VerifiedBalanceProof, SignatureError>>,
    ) {
        if self.peers.get(&peer).and_then(|p| p.conn.as_ref()).is_none_or(|c| c.id != conn) {
            return; // from a replaced connection
        }
        match msg {
            Message::Hello(h) => {
                if h.version != PROTOCOL_VERSION
                    || h.chain_id != self.domain.chain_id()
                    || h.manager != self.domain.manager()
                {
                    self.drop_peer_connection(peer, error_code::WRONG_DEPLOYMENT, "wrong deployment".into());
                    return;
                }
                self.on_ack(peer, h.next_expected_seq.saturating_sub(1));
                if let Some(c) = self.peers.get_mut(&peer).and_then(|p| p.conn.as_mut()) {
                    c.ready = true;
                    c.sent = 0;
                }
                self.send_ready(peer);
            }
            Message::Ack(seq) => self.on_ack(peer, seq),
            Message::Ping(x) => {
                if let Some(c) = self.peers.get(&peer).and_then(|p| p.conn.as_ref()) {
                    let _ = c.writer.send(Message::Pong(x).encode());
                }
            }
            Message::Pong(_) => {}
            Message::Error { code, text } => {
                tracing::warn!(%peer, code, %text, "peer reported an error");
            }
            Message::Reliable(seq, body) => self.on_reliable(peer, seq, body, verified),
            Message::ChannelUpdate(u) => self.receive_update(peer, u),
            // Node announcements are not used (endpoints travel in locked transfers), and
            // watchtower messages are for watchtowers.
            other => tracing::debug!(%peer, ?other, "ignoring message"),
        }
    }

    fn on_ack(&mut self, peer: Address, seq: u64) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        // An ack for something never sent is the peer's error; cap it.
        let seq = seq.min(p.out_committed);
        if seq <= p.acked {
            return;
        }
        p.acked = seq;
        let keep = p.outbox.split_off(&(seq + 1));
        p.outbox = keep;
        let later = p.waiting.split_off(&(seq + 1));
        let done = std::mem::replace(&mut p.waiting, later);
        self.writes.push(Write::OutboxAcked(peer, seq));
        for (_, waiter) in done {
            match waiter {
                Waiter::One(reply) => {
                    let _ = reply.send(Ok(()));
                }
                Waiter::Many { started, count, reply } => {
                    let _ = reply.send(Ok(PayManyReport { count, elapsed: started.elapsed() }));
                }
            }
        }
    }

    fn on_reliable(
        &mut self,
        peer: Address,
        seq: u64,
        body: Reliable,
        verified: Option<Result<VerifiedBalanceProof, SignatureError>>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let expected = p.last_in + 1 + p.deferred.len() as u64;
        if seq <= p.last_in {
            // A resend of what we already have: acknowledge what is on disk.
            if seq <= p.last_in_committed
                && let Some(c) = p.conn.as_ref()
            {
                let _ = c.writer.send(Message::Ack(p.last_in_committed).encode());
            }
            return;
        }
        if seq < expected {
            return; // a resend of a message we hold back
        }
        if seq != expected {
            let text = format!("expected seq {expected}, got {seq}");
            self.drop_peer_connection(peer, error_code::SEQUENCE, text);
            return;
        }
        if !p.deferred.is_empty() {
            p.deferred.push_back((seq, body, verified));
            return;
        }
        if let Some(held) = self.apply_reliable(peer, seq, body, verified)
            && let Some(p) = self.peers.get_mut(&peer)
        {
            p.deferred.push_back(held);
        }
    }

    /// Applies one in-order reliable message; gives it back when it must wait for our head.
    fn apply_reliable(
        &mut self,
        peer: Address,
        seq: u64,
        body: Reliable,
        verified: Option<Result<VerifiedBalanceProof, SignatureError>>,
    ) -> Option<HeldMessage> {
        let result: Result<(), Refusal> = match (&body, verified) {
            (Reliable::Direct(m), Some(Ok(v))) => self.receive_direct(peer, m, &v).map_err(Refusal::from),
            (_, Some(Err(e))) => Err(Refusal::Refuse(format!("bad signature: {e}"))),
            (Reliable::CloseRequest(m), None) => self.receive_close_request(peer, m).map_err(Refusal::from),
            (Reliable::CloseSigned { channel_id, signature }, None) => {
                self.receive_close_signed(peer, *channel_id, signature).map_err(Refusal::from)
            }
            (Reliable::CloseRefused { channel_id, reason }, None) => {
                self.receive_close_refused(peer, *channel_id, *reason).map_err(Refusal::from)
            }
            (Reliable::Locked(m), Some(Ok(v))) => {
                self.receive_locked_transfer(peer, m, &v).map_err(Refusal::from)
            }
            (Reliable::Unlock(m), Some(Ok(v))) => self.receive_unlock(peer, m, &v).map_err(Refusal::from),
            (Reliable::LockExpired(m), Some(Ok(v))) => self.receive_lock_expired(peer, m, &v),
            (Reliable::SecretRequest(m), None) => self.receive_secret_request(peer, m).map_err(Refusal::from),
            (Reliable::RevealSecret(m), None) => self.receive_reveal_secret(peer, m).map_err(Refusal::from),
            (Reliable::TransferFailed(m), None) => {
                self.receive_transfer_failed(peer, m).map_err(Refusal::from)
            }
            (other, _) => {
                Err(Refusal::Refuse(format!("unsupported message {:?}", std::mem::discriminant(other))))
            }
        };
        match result {
            Ok(()) => {
                let p = self.peers.get_mut(&peer).expect("peer exists");
                p.last_in = seq;
                self.writes.push(Write::Peer(peer, p.next_out, seq));
                self.releases.push(Release::Ack(peer, seq));
                None
            }
            Err(Refusal::NotYet) => Some((seq, body, verified)),
            Err(Refusal::Refuse(text)) => {
                self.drop_peer_connection(peer, error_code::REFUSED, text);
                None
            }
        }
    }

    /// Remembers (on disk too) to dial `peer` at `addr`: whenever its connection drops, and
    /// after a restart.
    fn remember_dial(&mut self, peer: Address, addr: SocketAddr) {
        if self.dial.get(&peer) != Some(&addr) {
            self.dial.insert(peer, addr);
            self.writes.push(Write::Meta(format!("dial/{peer}"), addr.to_string().into_bytes()));
        }
    }

    /// Makes sure a message to `peer` gets through: dials it at `endpoint` unless it is
    /// connected or already dialled (the initiator of a payment we are the target of).
    fn reach(&mut self, peer: Address, endpoint: SocketAddr) {
        if self.peers.get(&peer).is_some_and(|p| p.conn.is_some()) || self.dial.contains_key(&peer) {
            return;
        }
        self.remember_dial(peer, endpoint);
        self.spawn_dial(peer, endpoint, None);
    }

    fn spawn_dial(
        &mut self,
        peer: Address,
        addr: SocketAddr,
        reply: Option<oneshot::Sender<Result<(), NodeError>>>,
    ) {
        self.dialing.insert(peer, Instant::now());
        let identity = self.identity.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let result = async {
                let stream = TcpStream::connect(addr).await?;
                Ok::<_, NodeError>(transport::connect(stream, &identity, Some(peer)).await?)
            }
            .await;
            match result {
                Ok(conn) => {
                    let _ = events.send(Event::Connected(Box::new(conn), reply));
                }
                Err(e) => {
                    tracing::debug!(%peer, %addr, error = %e, "dial failed");
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        });
    }

    /// Dials again the peers we dialled once whose connection is down (at most once a second
    /// each).
    fn redial(&mut self) {
        let due: Vec<(Address, SocketAddr)> = self
            .dial
            .iter()
            .filter(|(peer, _)| self.peers.get(*peer).is_none_or(|p| p.conn.is_none()))
            .filter(|(peer, _)| self.dialing.get(*peer).is_none_or(|t| t.elapsed() >= Duration::from_secs(1)))
            .map(|(p, a)| (*p, *a))
            .collect();
        for (peer, addr) in due {
            self.spawn_dial(peer, addr, None);
        }
    }

    /// Retries held-back messages in order after a new head.
    fn retry_deferred(&mut self) {
        let peers: Vec<Address> =
            self.peers.iter().filter(|(_, p)| !p.deferred.is_empty()).map(|(a, _)| *a).collect();
        for peer in peers {
            while let Some((seq, body, verified)) =
                self.peers.get_mut(&peer).and_then(|p| p.deferred.pop_front())
            {
                if let Some(held) = self.apply_reliable(peer, seq, body, verified) {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.deferred.push_front(held);
                    }
                    break;
                }
            }
        }
    }

    fn receive_direct(
        &mut self,
        peer: Address,
        m: &DirectTransfer,
        v: &VerifiedBalanceProof,
    ) -> Result<(), String> {
        let id = m.proof.proof.channel_id;
        let channel = self
            .channels
            .get_mut(&id)
            .filter(|c| c.partner == peer)
            .ok_or(format!("no channel {id} with us"))?;
        channel.receive_direct(v, direct_message_hash(&m.pid)).map_err(|e| e.to_string())?;
        self.writes.push(Write::Proof(id, Side::Theirs, m.proof.encode()));
        Ok(())
    }

    /// Queues a reliable message to `peer`: on disk with the step's batch, sent after it.
    fn enqueue(&mut self, peer: Address, body: Reliable) -> u64 {
        let p = self.peers.entry(peer).or_default();
        p.next_out = p.next_out.max(1);
        let seq = p.next_out;
        p.next_out += 1;
        let bytes = Message::Reliable(seq, body).encode();
        self.writes.push(Write::Outbox(peer, seq, bytes.clone()));
        self.writes.push(Write::Peer(peer, p.next_out, p.last_in));
        p.outbox.insert(seq, bytes);
        self.releases.push(Release::Send(peer, seq));
        seq
    }

    fn persist_channel(&mut self, id: u64) {
        if let Some(c) = self.channels.get(&id) {
            self.writes.push(Write::Channel(id, encode_channel(c)));
        }
    }

    /// Whether `channel` can close cooperatively now: open, nothing in flight to the partner,
    /// no pending locks either way.
    fn quiet(&self, c: &Channel) -> bool {
        c.status == ChannelStatus::Opened
            && c.ours.locks.is_empty()
            && c.theirs.locks.is_empty()
            && self.peers.get(&c.partner).is_none_or(|p| p.outbox.is_empty())
    }

    fn close_digest(&self, c: &Channel, balance1: U256, balance2: U256, expiration: u64) -> B256 {
        let (p1, p2) = if c.us < c.partner { (c.us, c.partner) } else { (c.partner, c.us) };
        self.domain.cooperative_settle_digest(c.id, p1, balance1, p2, balance2, expiration)
    }

    fn receive_close_request(&mut self, peer: Address, m: &CloseRequest) -> Result<(), String> {
        let c = self
            .channels
            .get(&m.channel_id)
            .filter(|c| c.partner == peer)
            .ok_or("no such channel with us")?;
        let ((_, b1), (_, b2)) = c.cooperative_balances();
        let refuse = if !self.quiet(c) {
            Some(1)
        } else if (b1, b2) != (U256::from(m.balance1), U256::from(m.balance2)) || m.expiration <= self.head {
            Some(2)
        } else {
            None
        };
        if let Some(reason) = refuse {
            self.enqueue(peer, Reliable::CloseRefused { channel_id: m.channel_id, reason });
            return Ok(());
        }
        let digest = self.close_digest(c, b1, b2, m.expiration);
        match m.signature.recover(&digest) {
            Ok(signer) if signer == peer => {}
            _ => return Err("close request not signed by the partner".into()),
        }
        let signature = self.key.sign_digest(&digest);
        if let Some(c) = self.channels.get_mut(&m.channel_id) {
            c.status = ChannelStatus::Closing { expiration: m.expiration };
        }
        self.persist_channel(m.channel_id);
        self.enqueue(peer, Reliable::CloseSigned { channel_id: m.channel_id, signature });
        Ok(())
    }

    fn receive_close_signed(
        &mut self,
        peer: Address,
        id: u64,
        signature: &Signature65,
    ) -> Result<(), String> {
        let Some(pending) = self.closes.get(&id) else { return Ok(()) };
        let c = self.channels.get(&id).filter(|c| c.partner == peer).ok_or("no such channel with us")?;
        let digest = self.close_digest(c, pending.balance1, pending.balance2, pending.expiration);
        match signature.recover(&digest) {
            Ok(signer) if signer == peer => {}
            _ => return Err("close signature not the partner's".into()),
        }
        let (sig1, sig2) = if c.us < c.partner {
            (pending.our_signature, *signature)
        } else {
            (*signature, pending.our_signature)
        };
        let (b1, b2, expiration) = (pending.balance1, pending.balance2, pending.expiration);
        self.send_l1(id, "cooperativeSettle", move |l1| async move {
            l1.cooperative_settle(id, b1, b2, expiration, &sig1, &sig2).await
        });
        Ok(())
    }

    fn receive_close_refused(&mut self, peer: Address, id: u64, reason: u16) -> Result<(), String> {
        if self.closes.remove(&id).is_some() {
            if let Some(c) = self.channels.get_mut(&id).filter(|c| c.partner == peer) {
                c.status = ChannelStatus::Opened;
            }
            self.persist_channel(id);
            if let Some(reply) = self.l1_replies.remove(&(id, "cooperativeSettle")) {
                let why = if reason == 1 {
                    "partner busy (payments in flight)"
                } else {
                    "partner disagrees on balances"
                };
                let _ = reply.send(Err(NodeError::L1(format!("cooperative close refused: {why}"))));
            }
        }
        Ok(())
    }

    /// Sends an L1 transaction from a task; its outcome comes back as `L1Done`.
    fn send_l1<F, Fut>(&mut self, channel: u64, what: &'static str, call: F)
    where
        F: FnOnce(ChannelContracts) -> Fut + Send + 'static,
        Fut: std::future::Future<
                Output = Result<alloy::rpc::types::TransactionReceipt, crate::contracts::ContractError>,
            > + Send,
    {
        if self.l1_busy.insert((channel, what), ()).is_some() {
            return;
        }
        let contracts = ChannelContracts::new(&self.l1, self.deployment);
        let events = self.events.clone();
        tokio::spawn(async move {
            let result = call(contracts)
                .await
                .map(|r| L1Receipt { tx: r.transaction_hash, gas_used: r.gas_used })
                .map_err(|e| e.to_string());
            let _ = events.send(Event::L1Done { channel, what, result });
        });
    }

    fn on_l1_done(&mut self, channel: u64, what: &'static str, result: Result<L1Receipt, String>) {
        self.l1_busy.remove(&(channel, what));
        match &result {
            Ok(r) => tracing::info!(channel, what, tx = %r.tx, gas = r.gas_used, "L1 transaction mined"),
            Err(e) => tracing::warn!(channel, what, error = %e, "L1 transaction failed"),
        }
        if what == "cooperativeSettle" {
            self.closes.remove(&channel);
        }
        if what == "closeChannel" && result.is_err() {
            self.claim_failed(channel);
        }
        if let Some(reply) = self.l1_replies.remove(&(channel, what)) {
            let _ = reply.send(result.map_err(NodeError::L1));
        }
    }

    fn on_committed(&mut self, c: Committed) {
        self.stats.commits += 1;
        self.stats.batches += c.batches as u64;
        if self.stats.commit_us.len() >= 100_000 {
            self.stats.commit_us.drain(..50_000);
        }
        self.stats.commit_us.push(c.commit_time.as_micros() as u64);
        let mut acks: HashMap<Address, u64> = HashMap::new();
        let mut sends: Vec<Address> = Vec::new();
        while self.pending.front().is_some_and(|(t, _)| *t <= c.token) {
            let (_, releases) = self.pending.pop_front().expect("front exists");
            for r in releases {
                match r {
                    Release::Send(peer, seq) => {
                        if let Some(p) = self.peers.get_mut(&peer) {
                            p.out_committed = p.out_committed.max(seq);
                        }
                        sends.push(peer);
                    }
                    Release::Ack(peer, seq) => {
                        let e = acks.entry(peer).or_default();
                        *e = (*e).max(seq);
                    }
                    Release::Answer(h) => self.answer_payment(h),
                    Release::Tower(id) => {
                        if let (Some(tower), Some(c)) = (&self.tower, self.channels.get(&id))
                            && let Some(proof) = c.theirs.proof
                        {
                            let _ = tower.send(tower::TowerUpdate::Proof {
                                channel: id,
                                partner: c.partner,
                                proof,
                            });
                        }
                    }
                }
            }
        }
        sends.sort();
        sends.dedup();
        for peer in sends {
            self.send_ready(peer);
        }
        for (peer, seq) in acks {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.last_in_committed = p.last_in_committed.max(seq);
                if let Some(c) = p.conn.as_ref() {
                    let _ = c.writer.send(Message::Ack(p.last_in_committed).encode());
                }
            }
        }
    }

    // ------------------------------------------------------------ L1

    fn on_l1(&mut self, e: L1Event) {
        match e {
            L1Event::Opened { id, partner, token, settle_timeout } => {
                if !self.channels.contains_key(&id) {
                    let c = Channel::new(id, token, self.key.address(), partner, settle_timeout);
                    self.writes.push(Write::Channel(id, encode_channel(&c)));
                    self.channels.insert(id, c);
                    let p = self.peers.entry(partner).or_default();
                    p.next_out = p.next_out.max(1);
                }
            }
            L1Event::Deposit { id, participant, total } => {
                if let Some(c) = self.channels.get_mut(&id) {
                    if participant == c.us {
                        c.ours.deposit = c.ours.deposit.max(total);
                    } else if participant == c.partner {
                        c.theirs.deposit = c.theirs.deposit.max(total);
                    }
                    self.writes.push(Write::Channel(id, encode_channel(c)));
                }
            }
            L1Event::Closed { id, closer, block, values } => {
                let Some(c) = self.channels.get_mut(&id) else { return };
                let settle_block = block + c.settle_timeout;
                c.status = ChannelStatus::Closed { closer, settle_block };
                let record =
                    OnChain { closer, settle_block, non_closer: values, closer_side: SideValues::default() };
                self.writes.push(Write::Meta(format!("onchain/{id}"), record.encode()));
                self.onchain.insert(id, record);
                self.persist_channel(id);
                self.closes.remove(&id);
                if let Some(reply) = self.l1_replies.remove(&(id, "cooperativeSettle")) {
                    let _ =
                        reply.send(Err(NodeError::L1("the partner closed the channel unilaterally".into())));
                }
                self.maybe_update(id);
            }
            L1Event::Updated { id, values } => {
                if let Some(record) = self.onchain.get_mut(&id) {
                    record.closer_side = values;
                    let bytes = record.encode();
                    self.writes.push(Write::Meta(format!("onchain/{id}"), bytes));
                }
            }
            L1Event::Settled { id } => {
                self.unlock_settled(id);
                if let Some(c) = self.channels.get_mut(&id) {
                    c.status = ChannelStatus::Settled;
                    self.writes.push(Write::Channel(id, encode_channel(c)));
                    if let Some(tower) = &self.tower {
                        let _ = tower.send(tower::TowerUpdate::Forget(id));
                    }
                }
                self.closes.remove(&id);
            }
            L1Event::Head(head) => {
                self.head = head;
                self.on_head();
                self.announce();
            }
            L1Event::GraphOpened { id, participants: (a, b) } => self.graph_opened(id, a, b),
            L1Event::GraphClosed { id } => self.graph_closed(id),
            L1Event::SecretRevealed { secrethash, secret, block } => {
                self.on_secret_revealed(secrethash, secret, block)
            }
            L1Event::Cursor(block) => {
                self.l1_cursor = block;
                self.writes.push(Write::Meta("l1Cursor".into(), block.to_be_bytes().to_vec()))
            }
        }
    }

    /// When the partner closed, submit its newest proof we hold if the chain has an older one
    /// (the closer's own payments to us are only on chain through our update).
    fn maybe_update(&mut self, id: u64) {
        let (Some(c), Some(record)) = (self.channels.get(&id), self.onchain.get(&id)) else { return };
        if record.closer != c.partner {
            return;
        }
        let Some(proof) = c.theirs.proof.filter(|p| p.proof.nonce > record.closer_side.nonce) else { return };
        let ChannelStatus::Closed { settle_block, .. } = c.status else { return };
        if self.head > settle_block {
            return;
        }
        let us = c.us;
        self.send_l1(id, "updateNonClosingBalanceProof", move |l1| async move {
            l1.update_non_closing(id, us, &proof, None).await
        });
    }

    /// Timers on the L1 head: expired cooperative closes reopen; settle periods that ended are
    /// settled (by whichever side is first; the other's transaction fails harmlessly).
    fn on_head(&mut self) {
        self.retry_deferred();
        self.lock_timers();
        self.redial();
        let head = self.head;
        let expired: Vec<u64> = self
            .channels
            .values()
            .filter(|c| matches!(c.status, ChannelStatus::Closing { expiration } if head > expiration))
            .map(|c| c.id)
            .collect();
        for id in expired {
            if let Some(c) = self.channels.get_mut(&id) {
                c.status = ChannelStatus::Opened;
            }
            self.persist_channel(id);
            self.closes.remove(&id);
            if let Some(reply) = self.l1_replies.remove(&(id, "cooperativeSettle")) {
                let _ = reply.send(Err(NodeError::L1("cooperative close expired unmined".into())));
            }
        }
        let due: Vec<(u64, OnChain, Address, Address)> = self
            .channels
            .values()
            .filter_map(|c| match c.status {
                ChannelStatus::Closed { settle_block, .. } if head > settle_block => {
                    self.onchain.get(&c.id).map(|r| (c.id, *r, c.us, c.partner))
                }
                _ => None,
            })
            .collect();
        for (id, record, us, partner) in due {
            let non_closer = if record.closer == us { partner } else { us };
            let data = |who: Address, v: &SideValues| ChannelManager::SettleData {
                participant: who,
                transferredAmount: v.transferred,
                lockedAmount: v.locked,
                locksroot: v.locksroot,
            };
            let a = data(record.closer, &record.closer_side);
            let b = data(non_closer, &record.non_closer);
            self.send_l1(id, "settleChannel", move |l1| async move { l1.settle(id, a, b).await });
        }
    }

    // ------------------------------------------------------------ API

    fn on_api(&mut self, api: Api) {
        match api {
            Api::Connect { peer, addr, reply } => {
                self.remember_dial(peer, addr);
                self.spawn_dial(peer, addr, Some(reply));
            }
            Api::Pay { to, amount, reply } => match self.pay_direct(to, amount) {
                Ok(seq) => {
                    if let Some(p) = self.peers.get_mut(&to) {
                        p.waiting.insert(seq, Waiter::One(reply));
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Api::PayMany { to, amount, count, reply } => {
                self.queued.push_back(PayJob {
                    to,
                    amount,
                    remaining: count,
                    started: Instant::now(),
                    count,
                    reply: Some(reply),
                });
            }
            Api::Channels { reply } => {
                let list = self
                    .channels
                    .values()
                    .map(|c| ChannelInfo {
                        channel: c.clone(),
                        unacked: self.peers.get(&c.partner).map_or(0, |p| p.outbox.len() as u64),
                        watchtower_nonce: self.tower_acked.get(&c.id).copied(),
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Api::Stats { reply } => {
                let _ = reply.send(self.stats.clone());
            }
            Api::Close { channel, reply } => {
                let Some(c) = self.channels.get(&channel) else {
                    let _ = reply.send(Err(NodeError::NoChannel(Address::ZERO)));
                    return;
                };
                if !self.quiet(c) {
                    let _ = reply.send(Err(NodeError::L1(
                        "channel busy: payments in flight, locks pending or not open".into(),
                    )));
                    return;
                }
                let ((_, balance1), (_, balance2)) = c.cooperative_balances();
                let (Ok(b1), Ok(b2)) = (u128::try_from(balance1), u128::try_from(balance2)) else {
                    let _ = reply.send(Err(NodeError::Channel(ChannelError::AmountOverflow)));
                    return;
                };
                let expiration = self.head + 20;
                let digest = self.close_digest(c, balance1, balance2, expiration);
                let our_signature = self.key.sign_digest(&digest);
                let partner = c.partner;
                if let Some(c) = self.channels.get_mut(&channel) {
                    c.status = ChannelStatus::Closing { expiration };
                }
                self.persist_channel(channel);
                self.closes.insert(channel, PendingClose { balance1, balance2, expiration, our_signature });
                self.l1_replies.insert((channel, "cooperativeSettle"), reply);
                self.enqueue(
                    partner,
                    Reliable::CloseRequest(CloseRequest {
                        channel_id: channel,
                        balance1: b1,
                        balance2: b2,
                        expiration,
                        signature: our_signature,
                    }),
                );
            }
            Api::PayRoute { route, amount, reply } => self.pay_route(route, amount, reply),
            Api::CloseUnilateral { channel, reply } => {
                let Some(c) = self
                    .channels
                    .get(&channel)
                    .filter(|c| matches!(c.status, ChannelStatus::Opened | ChannelStatus::Closing { .. }))
                else {
                    let _ = reply.send(Err(NodeError::NoChannel(Address::ZERO)));
                    return;
                };
                let proof: Option<SignedBalanceProof> = c.theirs.proof;
                self.l1_replies.insert((channel, "closeChannel"), reply);
                self.send_l1(channel, "closeChannel", move |l1| async move {
                    l1.close(channel, proof.as_ref()).await
                });
            }
            Api::Settle { channel, reply } => {
                let head = self.head;
                let refusal = match self.channels.get(&channel).map(|c| c.status) {
                    None => Some(format!("no channel {channel}")),
                    Some(ChannelStatus::Closed { settle_block, .. }) if head > settle_block => None,
                    Some(ChannelStatus::Closed { settle_block, .. }) => {
                        Some(format!("the settle period ends after block {settle_block} (L1 head {head})"))
                    }
                    Some(ChannelStatus::Settled) => Some("already settled".to_string()),
                    Some(_) => Some("the channel is not closed (close it first)".to_string()),
                };
                match refusal {
                    Some(why) => {
                        let _ = reply.send(Err(NodeError::L1(why)));
                    }
                    None => {
                        // The settlement itself is sent (once) by the head timer.
                        self.l1_replies.insert((channel, "settleChannel"), reply);
                        self.on_head();
                    }
                }
            }
            Api::Payments { reply } => {
                let _ = reply.send(self.payments.values().copied().collect());
            }
            Api::Head { reply } => {
                let _ = reply.send(self.head);
            }
            Api::FindRoute { to, amount, exclude, reply } => {
                let _ = reply.send(self.find_route(to, amount, &exclude));
            }
        }
    }

    /// Issues as many queued payments as the peers' windows allow.
    fn pump_jobs(&mut self) {
        let mut i = 0;
        while i < self.queued.len() {
            let (to, amount, mut remaining) = {
                let job = &self.queued[i];
                (job.to, job.amount, job.remaining)
            };
            let mut failed = None;
            let mut last_seq = None;
            while remaining > 0 {
                let in_flight = self.peers.get(&to).map_or(0, |p| p.next_out.saturating_sub(1) - p.acked);
                if in_flight >= WINDOW {
                    break;
                }
                match self.pay_direct(to, amount) {
                    Ok(seq) => {
                        remaining -= 1;
                        last_seq = Some(seq);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            self.queued[i].remaining = remaining;
            if let Some(e) = failed {
                if let Some(reply) = self.queued[i].reply.take() {
                    let _ = reply.send(Err(e));
                }
                self.queued.remove(i);
                continue;
            }
            if remaining == 0 {
                let job = self.queued.remove(i).expect("index in range");
                if let (Some(seq), Some(reply)) = (last_seq, job.reply)
                    && let Some(p) = self.peers.get_mut(&to)
                {
                    p.waiting.insert(seq, Waiter::Many { started: job.started, count: job.count, reply });
                }
                continue;
            }
            i += 1;
        }
    }

    /// Signs our next proof paying `amount` to the partner `to` and queues it.
    fn pay_direct(&mut self, to: Address, amount: u128) -> Result<u64, NodeError> {
        let channel = self
            .channels
            .values_mut()
            .find(|c| c.partner == to && c.status == ChannelStatus::Opened)
            .ok_or(NodeError::NoChannel(to))?;
        let pid = B256::from(rand_bytes());
        let proof = channel.send_direct(&self.key, &self.domain, amount, direct_message_hash(&pid))?;
        self.writes.push(Write::Proof(channel.id, Side::Ours, proof.encode()));
        Ok(self.enqueue(to, Reliable::Direct(DirectTransfer { pid, proof })))
    }
}

fn rand_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

async fn write_loop(mut writer: NoiseWriter, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(first) = rx.recv().await {
        if writer.send_encoded(&first).await.is_err() {
            return;
        }
        // Whatever is queued goes out in the same flush.
        while let Ok(next) = rx.try_recv() {
            if writer.send_encoded(&next).await.is_err() {
                return;
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}

async fn read_loop(
    mut reader: NoiseReader,
    peer: Address,
    conn: u64,
    domain: ChannelDomain,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        match reader.recv().await {
            Ok(msg) => {
                // Recover the signer here, off the core.
                let verified = match &msg {
                    Message::Reliable(_, Reliable::Direct(m)) => Some(m.proof.verify(&domain)),
                    Message::Reliable(_, Reliable::Locked(m)) => Some(m.proof.verify(&domain)),
                    Message::Reliable(_, Reliable::Unlock(m)) => Some(m.proof.verify(&domain)),
                    Message::Reliable(_, Reliable::LockExpired(m)) => Some(m.proof.verify(&domain)),
                    _ => None,
                };
                if events.send(Event::Message { peer, conn, msg, verified }).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "connection closed");
                let _ = events.send(Event::Disconnected { peer, conn });
                return;
            }
        }
    }
}

/// Polls the `ChannelManager`'s logs from `cursor` and reports those about our channels.
/// What a log means for the gossip graph: any channel opened, closed or settled.
fn graph_event(log: &alloy::rpc::types::Log) -> Option<L1Event> {
    if let Ok(l) = log.log_decode::<ChannelManager::ChannelOpened>() {
        let e = l.inner.data;
        return Some(L1Event::GraphOpened { id: e.id, participants: (e.participant1, e.participant2) });
    }
    let id = if let Ok(l) = log.log_decode::<ChannelManager::ChannelClosed>() {
        l.inner.data.id
    } else if let Ok(l) = log.log_decode::<ChannelManager::ChannelSettled>() {
        l.inner.data.id
    } else if let Ok(l) = log.log_decode::<ChannelManager::ChannelCooperativeSettled>() {
        l.inner.data.id
    } else {
        return None;
    };
    Some(L1Event::GraphClosed { id })
}

async fn watch_l1(config: NodeConfig, mut cursor: u64, events: mpsc::UnboundedSender<Event>) {
    let Ok(url) = config.l1_url.parse() else {
        tracing::error!(url = %config.l1_url, "bad L1 URL");
        return;
    };
    let provider = ProviderBuilder::new().connect_http(url);
    let us = config.key.address();
    // The gossip graph is not stored: it is rebuilt from the logs before the cursor.
    if cursor > config.deployment.deploy_block {
        let filter = Filter::new()
            .address(config.deployment.channel_manager)
            .event_signature(vec![
                ChannelManager::ChannelOpened::SIGNATURE_HASH,
                ChannelManager::ChannelClosed::SIGNATURE_HASH,
                ChannelManager::ChannelSettled::SIGNATURE_HASH,
                ChannelManager::ChannelCooperativeSettled::SIGNATURE_HASH,
            ])
            .from_block(config.deployment.deploy_block + 1)
            .to_block(cursor);
        loop {
            match provider.get_logs(&filter).await {
                Ok(logs) => {
                    for ev in logs.iter().filter_map(graph_event) {
                        if events.send(Event::L1(ev)).is_err() {
                            return;
                        }
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "L1 logs (rebuilding the channel graph)");
                    tokio::time::sleep(config.l1_poll).await;
                }
            }
        }
    }
    loop {
        let head = match provider.get_block_number().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "L1 head");
                tokio::time::sleep(config.l1_poll).await;
                continue;
            }
        };
        if events.send(Event::L1(L1Event::Head(head))).is_err() {
            return;
        }
        // Logs are read up to the confirmed block only; the head itself drives the timers.
        let confirmed = head.saturating_sub(config.l1_confirmations);
        if confirmed > cursor {
            let filter = Filter::new()
                .address(vec![config.deployment.channel_manager, config.deployment.secret_registry])
                .from_block(cursor + 1)
                .to_block(confirmed);
            match provider.get_logs(&filter).await {
                Ok(logs) => {
                    for log in logs {
                        if let Some(ev) = graph_event(&log)
                            && events.send(Event::L1(ev)).is_err()
                        {
                            return;
                        }
                        let block = log.block_number.unwrap_or(confirmed);
                        let Some(topic) = log.topic0() else { continue };
                        let ev = if *topic == ChannelManager::ChannelOpened::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelOpened>().ok().and_then(|l| {
                                let e = l.inner.data;
                                let partner = if e.participant1 == us {
                                    e.participant2
                                } else if e.participant2 == us {
                                    e.participant1
                                } else {
                                    return None;
                                };
                                Some(L1Event::Opened {
                                    id: e.id,
                                    partner,
                                    token: e.token,
                                    settle_timeout: e.settleTimeout,
                                })
                            })
                        } else if *topic == ChannelManager::ChannelDeposit::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelDeposit>().ok().and_then(|l| {
                                let e = l.inner.data;
                                Some(L1Event::Deposit {
                                    id: e.id,
                                    participant: e.participant,
                                    total: u128::try_from(e.totalDeposit).ok()?,
                                })
                            })
                        } else if *topic == ChannelManager::ChannelClosed::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelClosed>().ok().map(|l| {
                                let e = l.inner.data;
                                L1Event::Closed {
                                    id: e.id,
                                    closer: e.closer,
                                    block,
                                    values: SideValues {
                                        nonce: e.nonce,
                                        transferred: e.transferredAmount,
                                        locked: e.lockedAmount,
                                        locksroot: e.locksroot,
                                    },
                                }
                            })
                        } else if *topic == ChannelManager::BalanceProofUpdated::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::BalanceProofUpdated>().ok().map(|l| {
                                let e = l.inner.data;
                                L1Event::Updated {
                                    id: e.id,
                                    values: SideValues {
                                        nonce: e.nonce,
                                        transferred: e.transferredAmount,
                                        locked: e.lockedAmount,
                                        locksroot: e.locksroot,
                                    },
                                }
                            })
                        } else if *topic == ChannelManager::ChannelSettled::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelSettled>()
                                .ok()
                                .map(|l| L1Event::Settled { id: l.inner.data.id })
                        } else if *topic == ChannelManager::ChannelCooperativeSettled::SIGNATURE_HASH {
                            log.log_decode::<ChannelManager::ChannelCooperativeSettled>()
                                .ok()
                                .map(|l| L1Event::Settled { id: l.inner.data.id })
                        } else if *topic == SecretRegistry::SecretRevealed::SIGNATURE_HASH
                            && log.address() == config.deployment.secret_registry
                        {
                            log.log_decode::<SecretRegistry::SecretRevealed>().ok().map(|l| {
                                let e = l.inner.data;
                                L1Event::SecretRevealed { secrethash: e.secrethash, secret: e.secret, block }
                            })
                        } else {
                            None
                        };
                        // Events of channels that are not ours are dropped by the core (it
                        // knows its channels, including those from before a restart).
                        if let Some(ev) = ev
                            && events.send(Event::L1(ev)).is_err()
                        {
                            return;
                        }
                    }
                    cursor = confirmed;
                    if events.send(Event::L1(L1Event::Cursor(cursor))).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "L1 logs"),
            }
        }
        tokio::time::sleep(config.l1_poll).await;
    }
}
