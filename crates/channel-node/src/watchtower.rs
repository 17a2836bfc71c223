//! The watchtower (`loft channel watchtower`, docs/channels.md §7): it keeps, for each client
//! and channel, the partner's newest balance proof with the client's `UpdateAuthorization`
//! signature, and when that partner closes the channel it submits the proof on the client's
//! behalf during the settle period, so a client that is offline still gets what it was paid.
//!
//! Clients connect over the node's Noise transport (the handshake proves their address) and
//! send `MonitorRequest`s. A request is checked before it is kept: the proof is signed by the
//! named closer, the delegation by the connected client, and the channel on L1 has exactly
//! these two participants. A kept request is on disk (redb) before its `MonitorAck`. The L1
//! side follows `ChannelClosed` and settlement logs from a persisted cursor; a close by a
//! monitored closer is recorded on disk, and the update is sent (and retried every poll)
//! until it is mined, the chain has a newer proof, or the settle period is over.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    providers::{Provider, ProviderBuilder},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use alloy_primitives::{Address, B256};
use loft_channels::{
    ChannelDomain, Signature65, SignedBalanceProof, SigningKey,
    proof::SIGNED_PROOF_LEN,
    signature::SIGNATURE_LEN,
    wire::{Message, MonitorRequest},
};
use loft_l1::L1Client;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::net::{TcpListener, TcpStream};

use crate::{
    contracts::{ChannelContracts, ChannelDeployment, ChannelManager},
    transport::{self, NoiseIdentity},
};

/// (channel id ‖ client) => closer ‖ proof ‖ delegation ‖ submitted nonce.
const REQUESTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("requests");
/// channel id => closer ‖ settle block, for closes of monitored channels.
const CLOSED: TableDefinition<u64, &[u8]> = TableDefinition::new("closed");
/// `cursor` => the last L1 block whose logs were handled.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Channels one client may have monitored.
pub const MAX_CHANNELS_PER_CLIENT: usize = 1_000;

/// Error codes the watchtower sends before closing a connection.
pub mod error_code {
    /// A request that is not valid (signatures, participants).
    pub const INVALID: u16 = 100;
    /// A message a watchtower does not serve.
    pub const UNSUPPORTED: u16 = 101;
    /// Too many channels for one client.
    pub const FULL: u16 = 102;
}

/// How to run a watchtower.
#[derive(Debug, Clone)]
pub struct WatchtowerConfig {
    /// Its key: its Noise identity and the account that pays for updates.
    pub key: SigningKey,
    /// The channel contracts it watches.
    pub deployment: ChannelDeployment,
    /// Where its store lives.
    pub data_dir: PathBuf,
    /// Where clients connect.
    pub listen: SocketAddr,
    /// The L1 JSON-RPC URL.
    pub l1_url: String,
    /// How often it polls L1.
    pub l1_poll: Duration,
}

/// Why the watchtower failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchtowerError {
    /// The store failed.
    #[error("watchtower store: {0}")]
    Store(String),
    /// Binding the listener failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The L1 node failed.
    #[error("l1: {0}")]
    L1(String),
}

fn store_error<E: std::fmt::Display>(e: E) -> WatchtowerError {
    WatchtowerError::Store(e.to_string())
}

/// One monitored channel of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitored {
    /// The channel.
    pub channel: u64,
    /// Who asked (the non-closer the update is for).
    pub client: Address,
    /// The partner whose proof this is.
    pub closer: Address,
    /// The partner's newest proof.
    pub proof: SignedBalanceProof,
    /// The client's `UpdateAuthorization` signature on it.
    pub delegation: Signature65,
    /// The nonce of the proof this watchtower got mined (0: none).
    pub submitted: u64,
}

const RECORD_LEN: usize = 20 + SIGNED_PROOF_LEN + SIGNATURE_LEN + 8;

impl Monitored {
    fn key(channel: u64, client: Address) -> [u8; 28] {
        let mut k = [0u8; 28];
        k[..8].copy_from_slice(&channel.to_be_bytes());
        k[8..].copy_from_slice(client.as_slice());
        k
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_LEN);
        out.extend_from_slice(self.closer.as_slice());
        out.extend_from_slice(&self.proof.encode());
        out.extend_from_slice(&self.delegation.0);
        out.extend_from_slice(&self.submitted.to_be_bytes());
        out
    }

    fn decode(key: &[u8], b: &[u8]) -> Option<Self> {
        if key.len() != 28 || b.len() != RECORD_LEN {
            return None;
        }
        let proof: &[u8; SIGNED_PROOF_LEN] = b[20..20 + SIGNED_PROOF_LEN].try_into().ok()?;
        let delegation: [u8; SIGNATURE_LEN] =
            b[20 + SIGNED_PROOF_LEN..20 + SIGNED_PROOF_LEN + SIGNATURE_LEN].try_into().ok()?;
        Some(Self {
            channel: u64::from_be_bytes(key[..8].try_into().ok()?),
            client: Address::from_slice(&key[8..]),
            closer: Address::from_slice(&b[..20]),
            proof: SignedBalanceProof::decode(proof),
            delegation: Signature65(delegation),
            submitted: u64::from_be_bytes(b[RECORD_LEN - 8..].try_into().ok()?),
        })
    }
}

/// `ChannelManager.State.Closed`.
const CHANNEL_CLOSED: u8 = 2;

/// A close of a monitored channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Closed {
    closer: Address,
    settle_block: u64,
}

impl Closed {
    fn encode(&self) -> Vec<u8> {
        let mut v = self.closer.to_vec();
        v.extend_from_slice(&self.settle_block.to_be_bytes());
        v
    }
}

/// What the tasks share: the store and its contents in memory.
struct State {
    /// Taken out (closed) by `shutdown`.
    db: Option<Database>,
    requests: HashMap<(u64, Address), Monitored>,
    closed: HashMap<u64, Closed>,
    /// Channels whose participants were checked on L1, with them.
    participants: HashMap<u64, (Address, Address)>,
}

impl State {
    fn db(&self) -> Result<&Database, WatchtowerError> {
        self.db.as_ref().ok_or_else(|| WatchtowerError::Store("the watchtower stopped".into()))
    }

    fn put(&mut self, m: Monitored) -> Result<(), WatchtowerError> {
        let txn = self.db()?.begin_write().map_err(store_error)?;
        txn.open_table(REQUESTS)
            .map_err(store_error)?
            .insert(Monitored::key(m.channel, m.client).as_slice(), m.encode().as_slice())
            .map_err(store_error)?;
        txn.commit().map_err(store_error)?;
        self.requests.insert((m.channel, m.client), m);
        Ok(())
    }

    /// Records a close found by reading the channel (not by its log).
    fn record_closed(&mut self, id: u64, c: Closed) -> Result<(), WatchtowerError> {
        let txn = self.db()?.begin_write().map_err(store_error)?;
        {
            txn.open_table(CLOSED)
                .map_err(store_error)?
                .insert(id, c.encode().as_slice())
                .map_err(store_error)?;
        }
        txn.commit().map_err(store_error)?;
        self.closed.insert(id, c);
        Ok(())
    }

    /// Records the L1 logs of one poll: closes of monitored channels, settlements (which end
    /// monitoring), and the cursor, in one transaction.
    fn record_l1(
        &mut self,
        closed: &[(u64, Closed)],
        settled: &[u64],
        cursor: u64,
    ) -> Result<(), WatchtowerError> {
        let txn = self.db()?.begin_write().map_err(store_error)?;
        {
            let mut t = txn.open_table(CLOSED).map_err(store_error)?;
            for (id, c) in closed {
                t.insert(*id, c.encode().as_slice()).map_err(store_error)?;
            }
            for id in settled {
                t.remove(*id).map_err(store_error)?;
            }
            let mut r = txn.open_table(REQUESTS).map_err(store_error)?;
            for ((id, client), _) in self.requests.iter().filter(|((id, _), _)| settled.contains(id)) {
                r.remove(Monitored::key(*id, *client).as_slice()).map_err(store_error)?;
            }
            txn.open_table(META).map_err(store_error)?.insert("cursor", cursor).map_err(store_error)?;
        }
        txn.commit().map_err(store_error)?;
        for (id, c) in closed {
            self.closed.insert(*id, *c);
        }
        for id in settled {
            self.closed.remove(id);
            self.requests.retain(|(i, _), _| i != id);
            self.participants.remove(id);
        }
        Ok(())
    }
}

/// A running watchtower.
pub struct Watchtower {
    address: Address,
    listen: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watchtower {
    /// Opens the store and starts the listener and the L1 watcher.
    pub async fn start(config: WatchtowerConfig) -> Result<Self, WatchtowerError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let db = Database::create(config.data_dir.join("watchtower.redb")).map_err(store_error)?;
        let (requests, closed, cursor) = load(&db)?;
        let cursor = cursor.unwrap_or(config.deployment.deploy_block);
        let state =
            Arc::new(Mutex::new(State { db: Some(db), requests, closed, participants: HashMap::new() }));
        let signer = PrivateKeySigner::from_bytes(&B256::from(config.key.secret_bytes()))
            .map_err(|e| WatchtowerError::L1(e.to_string()))?;
        let l1 = L1Client::connect(&config.l1_url, signer)
            .await
            .map_err(|e| WatchtowerError::L1(e.to_string()))?;
        let contracts = ChannelContracts::new(&l1, config.deployment);
        let domain = config.deployment.domain();
        let identity = Arc::new(NoiseIdentity::new(&config.key, domain));
        let listener = TcpListener::bind(config.listen).await?;
        let listen = listener.local_addr()?;
        let accept =
            tokio::spawn(accept_clients(listener, identity, domain, state.clone(), contracts.clone()));
        let watcher = tokio::spawn(watch(config.clone(), cursor, state.clone(), contracts));
        Ok(Self { address: config.key.address(), listen, state, tasks: vec![accept, watcher] })
    }

    /// Its address (clients dial it with this).
    pub fn address(&self) -> Address {
        self.address
    }

    /// Where clients connect.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Every monitored channel.
    pub fn monitored(&self) -> Vec<Monitored> {
        match self.state.lock() {
            Ok(s) => s.requests.values().copied().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Stops every task (as a crash would: what is on disk stays) and closes the store, so
    /// that a new watchtower can open it.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        lock(&self.state).db = None;
    }
}

type Loaded = (HashMap<(u64, Address), Monitored>, HashMap<u64, Closed>, Option<u64>);

fn load(db: &Database) -> Result<Loaded, WatchtowerError> {
    let txn = db.begin_write().map_err(store_error)?;
    txn.open_table(REQUESTS).map_err(store_error)?;
    txn.open_table(CLOSED).map_err(store_error)?;
    txn.open_table(META).map_err(store_error)?;
    txn.commit().map_err(store_error)?;
    let txn = db.begin_read().map_err(store_error)?;
    let mut requests = HashMap::new();
    for row in txn.open_table(REQUESTS).map_err(store_error)?.iter().map_err(store_error)? {
        let (k, v) = row.map_err(store_error)?;
        let m = Monitored::decode(k.value(), v.value())
            .ok_or_else(|| WatchtowerError::Store("corrupt request record".into()))?;
        requests.insert((m.channel, m.client), m);
    }
    let mut closed = HashMap::new();
    for row in txn.open_table(CLOSED).map_err(store_error)?.iter().map_err(store_error)? {
        let (k, v) = row.map_err(store_error)?;
        let v = v.value();
        if v.len() != 28 {
            return Err(WatchtowerError::Store("corrupt close record".into()));
        }
        let settle_block = u64::from_be_bytes(v[20..].try_into().map_err(store_error)?);
        closed.insert(k.value(), Closed { closer: Address::from_slice(&v[..20]), settle_block });
    }
    let cursor =
        txn.open_table(META).map_err(store_error)?.get("cursor").map_err(store_error)?.map(|v| v.value());
    Ok((requests, closed, cursor))
}

async fn accept_clients(
    listener: TcpListener,
    identity: Arc<NoiseIdentity>,
    domain: ChannelDomain,
    state: Arc<Mutex<State>>,
    contracts: ChannelContracts,
) {
    // Dropped with this task, which aborts every client's.
    let mut clients = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, from)) = listener.accept().await else { continue };
        while clients.try_join_next().is_some() {}
        let (identity, state, contracts) = (identity.clone(), state.clone(), contracts.clone());
        clients.spawn(async move {
            if let Err(e) = serve_client(stream, &identity, domain, &state, &contracts).await {
                tracing::debug!(%from, error = %e, "watchtower client gone");
            }
        });
    }
}

async fn serve_client(
    stream: TcpStream,
    identity: &NoiseIdentity,
    domain: ChannelDomain,
    state: &Mutex<State>,
    contracts: &ChannelContracts,
) -> Result<(), transport::TransportError> {
    let mut conn = transport::accept(stream, identity).await?;
    let client = conn.peer;
    loop {
        let reply = match conn.reader.recv().await? {
            Message::MonitorRequest(m) => match accept_request(client, &m, domain, state, contracts).await {
                Ok(nonce) => Message::MonitorAck { channel_id: m.channel_id, nonce },
                Err((code, text)) => {
                    tracing::debug!(%client, channel = m.channel_id, %text, "monitor request refused");
                    conn.writer.send(&Message::Error { code, text }).await?;
                    conn.writer.flush().await?;
                    return Ok(());
                }
            },
            Message::Ping(n) => Message::Pong(n),
            _ => {
                let text = "a watchtower serves MonitorRequest and Ping only".to_string();
                conn.writer.send(&Message::Error { code: error_code::UNSUPPORTED, text }).await?;
                conn.writer.flush().await?;
                return Ok(());
            }
        };
        conn.writer.send(&reply).await?;
        conn.writer.flush().await?;
    }
}

/// Checks and keeps a request; the nonce now kept for the channel (a newer one kept before
/// stays).
async fn accept_request(
    client: Address,
    m: &MonitorRequest,
    domain: ChannelDomain,
    state: &Mutex<State>,
    contracts: &ChannelContracts,
) -> Result<u64, (u16, String)> {
    let invalid = |text: &str| (error_code::INVALID, text.to_string());
    let verified = m.proof.verify(&domain).map_err(|e| invalid(&format!("proof signature: {e}")))?;
    if verified.signer() != m.closer {
        return Err(invalid("the proof is not signed by the named closer"));
    }
    if m.proof.proof.channel_id != m.channel_id {
        return Err(invalid("the proof is of another channel"));
    }
    let delegate = m
        .delegation
        .recover(&m.proof.update_authorization_digest(&domain, client))
        .map_err(|e| invalid(&format!("delegation signature: {e}")))?;
    if delegate != client {
        return Err(invalid("the delegation is not signed by the connected client"));
    }
    let known = lock(state).participants.get(&m.channel_id).copied();
    let (p1, p2, read) = match known {
        Some((p1, p2)) => (p1, p2, None),
        None => {
            let c = contracts
                .channel(m.channel_id)
                .await
                .map_err(|e| (error_code::INVALID, format!("reading channel {} on L1: {e}", m.channel_id)))?;
            lock(state).participants.insert(m.channel_id, (c.participant1, c.participant2));
            (c.participant1, c.participant2, Some(c))
        }
    };
    if !((p1 == client && p2 == m.closer) || (p2 == client && p1 == m.closer)) {
        return Err(invalid("the channel's participants on L1 are not the client and the closer"));
    }
    // Closed before anyone asked us to watch it: its log went by unnoticed, so record the
    // close from the channel itself.
    if let Some(c) = read
        && c.state == CHANNEL_CLOSED
        && [c.participant1, c.participant2].get(usize::from(c.closer).wrapping_sub(1)) == Some(&m.closer)
    {
        let closed = Closed { closer: m.closer, settle_block: c.settleBlock };
        lock(state).record_closed(m.channel_id, closed).map_err(|e| (error_code::INVALID, e.to_string()))?;
    }
    let mut s = lock(state);
    let existing = s.requests.get(&(m.channel_id, client)).copied();
    if let Some(e) = existing
        && e.proof.proof.nonce >= m.proof.proof.nonce
    {
        return Ok(e.proof.proof.nonce);
    }
    if existing.is_none()
        && s.requests.keys().filter(|(_, c)| *c == client).count() >= MAX_CHANNELS_PER_CLIENT
    {
        return Err((error_code::FULL, format!("at most {MAX_CHANNELS_PER_CLIENT} channels per client")));
    }
    let record = Monitored {
        channel: m.channel_id,
        client,
        closer: m.closer,
        proof: m.proof,
        delegation: m.delegation,
        submitted: existing.map_or(0, |e| e.submitted),
    };
    s.put(record).map_err(|e| (error_code::INVALID, e.to_string()))?;
    Ok(m.proof.proof.nonce)
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic elsewhere never leaves the maps half-updated (each update is one insert).
    state.lock().unwrap_or_else(|e| e.into_inner())
}

async fn watch(
    config: WatchtowerConfig,
    mut cursor: u64,
    state: Arc<Mutex<State>>,
    contracts: ChannelContracts,
) {
    let Ok(url) = config.l1_url.parse() else {
        tracing::error!(url = %config.l1_url, "bad L1 URL");
        return;
    };
    let provider = ProviderBuilder::new().connect_http(url);
    loop {
        tokio::time::sleep(config.l1_poll).await;
        let Ok(head) = provider.get_block_number().await else { continue };
        if head > cursor {
            let filter = Filter::new()
                .address(config.deployment.channel_manager)
                .event_signature(vec![
                    ChannelManager::ChannelClosed::SIGNATURE_HASH,
                    ChannelManager::ChannelSettled::SIGNATURE_HASH,
                    ChannelManager::ChannelCooperativeSettled::SIGNATURE_HASH,
                ])
                .from_block(cursor + 1)
                .to_block(head);
            let Ok(logs) = provider.get_logs(&filter).await else { continue };
            let (mut closed, mut settled) = (Vec::new(), Vec::new());
            let mut failed = false;
            for log in logs {
                if let Ok(l) = log.log_decode::<ChannelManager::ChannelClosed>() {
                    let (id, closer) = (l.inner.data.id, l.inner.data.closer);
                    let monitored =
                        lock(&state).requests.values().any(|m| m.channel == id && m.closer == closer);
                    if !monitored {
                        continue;
                    }
                    match contracts.channel(id).await {
                        Ok(c) => closed.push((id, Closed { closer, settle_block: c.settleBlock })),
                        Err(e) => {
                            tracing::warn!(channel = id, error = %e, "reading a closed channel");
                            failed = true;
                            break;
                        }
                    }
                } else if let Ok(l) = log.log_decode::<ChannelManager::ChannelSettled>() {
                    settled.push(l.inner.data.id);
                } else if let Ok(l) = log.log_decode::<ChannelManager::ChannelCooperativeSettled>() {
                    settled.push(l.inner.data.id);
                }
            }
            if failed {
                continue;
            }
            if let Err(e) = lock(&state).record_l1(&closed, &settled, head) {
                tracing::error!(error = %e, "watchtower store");
                continue;
            }
            cursor = head;
        }
        submit_due(&state, &contracts, head).await;
    }
}

/// Sends the update of every closed channel whose closer's newest proof we hold and have not
/// got mined yet, while its settle period runs.
async fn submit_due(state: &Mutex<State>, contracts: &ChannelContracts, head: u64) {
    let due: Vec<Monitored> = {
        let s = lock(state);
        s.requests
            .values()
            .filter(|m| {
                s.closed.get(&m.channel).is_some_and(|c| c.closer == m.closer && head <= c.settle_block)
                    && m.submitted < m.proof.proof.nonce
            })
            .copied()
            .collect()
    };
    for m in due {
        let result = contracts.update_non_closing(m.channel, m.client, &m.proof, Some(&m.delegation)).await;
        let done = match &result {
            Ok(r) => {
                tracing::info!(channel = m.channel, client = %m.client, nonce = m.proof.proof.nonce, gas = r.gas_used, "watchtower update mined");
                true
            }
            // The client (or another tower) already put this proof or a newer one on chain.
            Err(e) if e.to_string().contains("StaleNonce") => true,
            Err(e) => {
                tracing::warn!(channel = m.channel, error = %e, "watchtower update failed; retrying");
                false
            }
        };
        if done {
            let mut s = lock(state);
            if let Some(current) = s.requests.get(&(m.channel, m.client)).copied() {
                let record = Monitored { submitted: current.submitted.max(m.proof.proof.nonce), ..current };
                if let Err(e) = s.put(record) {
                    tracing::error!(error = %e, "watchtower store");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loft_channels::BalanceProof;

    #[test]
    fn records_round_trip_and_bad_lengths_are_refused() {
        let proof = BalanceProof {
            channel_id: 7,
            nonce: 9,
            transferred: 11,
            locked: 0,
            locksroot: B256::ZERO,
            message_hash: B256::repeat_byte(3),
        };
        let key = SigningKey::from_bytes(&[5u8; 32]).expect("key");
        let domain = ChannelDomain::new(31337, Address::repeat_byte(1));
        let signed = proof.sign(&key, &domain);
        let m = Monitored {
            channel: 7,
            client: Address::repeat_byte(2),
            closer: key.address(),
            proof: signed,
            delegation: Signature65([4u8; 65]),
            submitted: 3,
        };
        let k = Monitored::key(7, m.client);
        assert_eq!(Monitored::decode(&k, &m.encode()), Some(m));
        assert_eq!(Monitored::decode(&k[1..], &m.encode()), None);
        assert_eq!(Monitored::decode(&k, &m.encode()[1..]), None);
    }
}
