//! Peers: accepting and dialing Noise connections, one reader and one writer task per
//! connection, reliable delivery (numbered messages, cumulative acks, the outbox resent on
//! every connection), and direct payments received.

use super::*;

pub(super) async fn accept_loop(
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
pub(super) struct Peer {
    /// Next seq we assign.
    pub(super) next_out: u64,
    /// Last incoming seq processed (in memory) and committed.
    pub(super) last_in: u64,
    pub(super) last_in_committed: u64,
    /// Highest outgoing seq whose batch is committed (sendable).
    pub(super) out_committed: u64,
    /// Highest outgoing seq the peer acknowledged.
    pub(super) acked: u64,
    pub(super) outbox: BTreeMap<u64, Vec<u8>>,
    pub(super) conn: Option<PeerConn>,
    /// API calls waiting for the `Ack` of a seq.
    pub(super) waiting: BTreeMap<u64, Waiter>,
    /// Reliable messages held back, in order, because our L1 view is behind the sender's
    /// (a `LockExpired` our head does not allow yet); retried on every new head.
    pub(super) deferred: VecDeque<HeldMessage>,
}

/// A reliable message with its seq and its proof's recovered signer, held back.
pub(super) type HeldMessage = (u64, Reliable, Option<Result<VerifiedBalanceProof, SignatureError>>);

/// Why a reliable message was not applied.
pub(super) enum Refusal {
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

pub(super) struct PeerConn {
    pub(super) id: u64,
    pub(super) writer: mpsc::UnboundedSender<Vec<u8>>,
    /// The peer's `Hello` arrived: the outbox was resent and new messages go out.
    pub(super) ready: bool,
    /// Highest seq written on this connection.
    pub(super) sent: u64,
    /// The reader task ends with the connection (and with the core, as in a crash).
    pub(super) _reader: AbortOnDrop,
}

pub(super) struct AbortOnDrop(pub(super) tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) fn rand_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

pub(super) async fn write_loop(mut writer: NoiseWriter, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
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

pub(super) async fn read_loop(
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

impl Core {
    pub(super) fn on_connected(
        &mut self,
        conn: Box<Connection>,
        reply: Option<oneshot::Sender<Result<(), NodeError>>>,
    ) {
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

    pub(super) fn drop_peer_connection(&mut self, peer: Address, code: u16, text: String) {
        tracing::warn!(%peer, code, %text, "refusing peer message; closing the connection");
        if let Some(p) = self.peers.get_mut(&peer)
            && let Some(conn) = p.conn.take()
        {
            let _ = conn.writer.send(Message::Error { code, text }.encode());
        }
    }

    pub(super) fn send_ready(&mut self, peer: Address) {
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

    pub(super) fn on_message(
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

    pub(super) fn on_ack(&mut self, peer: Address, seq: u64) {
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

    pub(super) fn on_reliable(
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
    pub(super) fn apply_reliable(
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
    pub(super) fn remember_dial(&mut self, peer: Address, addr: SocketAddr) {
        if self.dial.get(&peer) != Some(&addr) {
            self.dial.insert(peer, addr);
            self.writes.push(Write::Meta(format!("dial/{peer}"), addr.to_string().into_bytes()));
        }
    }

    /// Makes sure a message to `peer` gets through: dials it at `endpoint` unless it is
    /// connected or already dialled (the initiator of a payment we are the target of).
    pub(super) fn reach(&mut self, peer: Address, endpoint: SocketAddr) {
        if self.peers.get(&peer).is_some_and(|p| p.conn.is_some()) || self.dial.contains_key(&peer) {
            return;
        }
        self.remember_dial(peer, endpoint);
        self.spawn_dial(peer, endpoint, None);
    }

    pub(super) fn spawn_dial(
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
    pub(super) fn redial(&mut self) {
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
    pub(super) fn retry_deferred(&mut self) {
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

    pub(super) fn receive_direct(
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
    pub(super) fn enqueue(&mut self, peer: Address, body: Reliable) -> u64 {
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
}
