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
mod close;
mod config;
mod gossip;
mod handle;
mod history;
mod l1;
mod mediated;
mod peers;
mod tower;

use config::l1_error;
pub use config::{
    ChannelInfo, GOSSIP_INTERVAL, L1Receipt, Misbehaviour, NodeConfig, NodeError, PayManyReport,
    ROUTE_ATTEMPTS, RoutedPayment, StoreStats, WINDOW, error_code,
};
use handle::Api;
pub use handle::NodeHandle;
pub use history::{PaymentRecord, PaymentRole, PaymentStatus};
use l1::{L1_SEEN, L1Event, OnChain, PendingClose, store_cursor, watch_l1};
pub use mediated::{MediationConfig, PaymentReport};
use peers::{Peer, Refusal, accept_loop, rand_bytes};

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
            // the cheat hooks act only in a build with the `test-utils` feature
            misbehaviour: if cfg!(feature = "test-utils") { config.misbehaviour } else { Misbehaviour::None },
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

    // ------------------------------------------------------------ messages

    fn persist_channel(&mut self, id: u64) {
        if let Some(c) = self.channels.get(&id) {
            self.writes.push(Write::Channel(id, encode_channel(c)));
        }
    }

    // ------------------------------------------------------------ L1

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
