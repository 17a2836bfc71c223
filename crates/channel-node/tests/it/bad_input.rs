//! A node against a misbehaving peer ("Mallory", a raw client built from `loft-channels` and
//! the transport): forged signatures, replayed and lower nonces, nonce gaps, payments above
//! capacity, sequence gaps, undecodable and garbage frames; and in hash-locked payments, an
//! already expired lock, a lock whose proof does not commit to it, an unlock with the wrong
//! secret, and the expiry of a lock whose secret the node was given (refused), and a
//! `TransferFailed` after the node revealed the secret (ignored). Every refused one gets
//! a clear `Error`, the connection is closed, the channel is unchanged, and the node
//! keeps serving: Mallory's honest messages before and after are all counted, exactly once.

use std::time::Duration;

use crate::common::{ETH, Party, mine, node_config, setup, wait_for};
use alloy_primitives::{Address, B256, U256};
use loft_channel_node::{
    contracts::ChannelContracts,
    node::{MediationConfig, Node, NodeConfig, NodeHandle, PaymentStatus},
    transport::{self, Connection, NoiseIdentity},
};
use loft_channels::{
    BalanceProof, Channel, ChannelDomain, Lock, SignedBalanceProof, SigningKey,
    lock::secrethash,
    route::{FeePolicy, RouteHop},
    wire::{
        DirectTransfer, Hello, LockExpired, LockedTransfer, Message, PROTOCOL_VERSION, Reliable,
        RevealSecret, SecretRequest, TransferFailed, Unlock, direct_message_hash, lock_expired_message_hash,
        locked_message_hash, unlock_message_hash,
    },
};
use tokio::{io::AsyncWriteExt, net::TcpStream};

struct Mallory {
    key: SigningKey,
    identity: NoiseIdentity,
    domain: ChannelDomain,
    channel: Channel,
    node: NodeHandle,
}

impl Mallory {
    /// Connects, exchanges `Hello`s; returns the connection and the seq the node expects.
    async fn connect(&self) -> (Connection, u64) {
        let stream = TcpStream::connect(self.node.listen_addr()).await.expect("tcp");
        let mut conn =
            transport::connect(stream, &self.identity, Some(self.node.address())).await.expect("noise");
        let expected = match conn.reader.recv().await.expect("hello") {
            Message::Hello(h) => h.next_expected_seq,
            other => panic!("expected Hello, got {other:?}"),
        };
        let hello = Hello {
            version: PROTOCOL_VERSION,
            chain_id: self.domain.chain_id(),
            manager: self.domain.manager(),
            next_expected_seq: 1,
            features: 0,
        };
        conn.writer.send(&Message::Hello(hello)).await.expect("send");
        conn.writer.flush().await.expect("flush");
        (conn, expected)
    }

    fn direct(&self, seq: u64, proof: SignedBalanceProof, pid: B256) -> Message {
        Message::Reliable(seq, Reliable::Direct(DirectTransfer { pid, proof }))
    }

    /// A `LockedTransfer` from Mallory to the node (the target), carrying `proof`.
    fn locked(&self, seq: u64, pid: B256, lock: Lock, proof: SignedBalanceProof) -> Message {
        let (initiator, target) = (self.key.address(), self.node.address());
        let m =
            LockedTransfer { pid, initiator, target, lock, hops: vec![], proof, initiator_endpoint: None };
        Message::Reliable(seq, Reliable::Locked(m))
    }

    /// The message hash a `LockedTransfer` of `lock` from Mallory to the node binds.
    fn locked_hash(&self, pid: &B256, lock: &Lock) -> B256 {
        locked_message_hash(pid, &self.key.address(), &self.node.address(), lock, &[])
    }

    /// Sends `msg` on a fresh connection and returns the node's answer (`Error` expected;
    /// the node's own messages resent after `Hello` are passed over).
    async fn send_bad(&self, msg: Message) -> String {
        let (mut conn, _) = self.connect().await;
        conn.writer.send(&msg).await.expect("send");
        conn.writer.flush().await.expect("flush");
        loop {
            match answer(&mut conn).await {
                Ok(Message::Error { text, .. }) => {
                    // The node closes the connection after the error.
                    assert!(answer(&mut conn).await.is_err(), "connection closed after {text}");
                    return text;
                }
                Ok(Message::Reliable(..)) => {}
                other => panic!("expected an Error, got {other:?}"),
            }
        }
    }

    /// Sends `msg` on a fresh connection and waits for the node's `Ack` of `seq`.
    async fn send_good(&self, seq: u64, msg: Message) {
        let (mut conn, expected) = self.connect().await;
        assert_eq!(expected, seq, "the refused messages did not consume a seq");
        conn.writer.send(&msg).await.expect("send");
        conn.writer.flush().await.expect("flush");
        loop {
            match answer(&mut conn).await {
                Ok(Message::Ack(n)) if n == seq => return,
                Ok(Message::Reliable(..)) => {}
                other => panic!("expected Ack({seq}), got {other:?}"),
            }
        }
    }

    async fn partner_balance_at_node(&self) -> U256 {
        self.node.channels().await.expect("channels")[0].channel.partner_balance()
    }
}

/// The node's next message that is not gossip (its `ChannelUpdate`s come whenever its
/// capacity moves), within 10 s.
async fn answer(conn: &mut Connection) -> Result<Message, transport::TransportError> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), conn.reader.recv())
            .await
            .expect("an answer in 10 s")
        {
            Ok(Message::ChannelUpdate(_) | Message::NodeAnnouncement(_) | Message::GossipSync(_)) => {}
            other => return other,
        }
    }
}

/// The devnet, Alice's node, and Mallory with a channel to Alice in which Mallory deposited
/// 1 ETH and Alice `alice_deposit` (settle timeout 40 blocks).
async fn alice_and_mallory(
    alice_deposit: u128,
) -> (loft_devnet::Devnet, tempfile::TempDir, Node, Mallory, Vec<Party>) {
    let (devnet, url, d, parties) = setup(2).await;
    let (alice_key, mallory_key, mallory_l1) = (&parties[0].key, &parties[1].key, &parties[1].l1);
    let dir = tempfile::tempdir().expect("dir");
    // Short lock times, to fit the channel's settle timeout of 40 blocks.
    let config = NodeConfig {
        mediation: MediationConfig { reveal_timeout: 4, final_delta: 8, ..MediationConfig::default() },
        ..node_config(alice_key, d, &dir.path().join("alice"), &url)
    };
    let alice = Node::start(config).await.expect("alice");
    let (id, _) = ChannelContracts::new(mallory_l1, d)
        .open_with_deposit(alice_key.address(), Address::ZERO, 40, U256::from(ETH))
        .await
        .expect("open");
    if alice_deposit > 0 {
        let (total, added) = (U256::from(alice_deposit), U256::from(alice_deposit));
        ChannelContracts::new(&parties[0].l1, d)
            .set_total_deposit(id, alice_key.address(), total, added)
            .await
            .expect("deposit");
    }
    let node = alice.handle();
    wait_for("Alice to see both deposits", async || {
        node.channels()
            .await
            .expect("channels")
            .first()
            .is_some_and(|c| (c.channel.theirs.deposit, c.channel.ours.deposit) == (ETH, alice_deposit))
    })
    .await;
    let mut channel = Channel::new(id, Address::ZERO, mallory_key.address(), alice_key.address(), 40);
    channel.ours.deposit = ETH;
    let domain = d.domain();
    let mallory = Mallory {
        identity: NoiseIdentity::new(mallory_key, domain),
        key: mallory_key.clone(),
        domain,
        channel,
        node: node.clone(),
    };
    (devnet, dir, alice, mallory, parties)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_peer_is_refused_and_the_node_keeps_serving() {
    let (_devnet, _dir, alice, mut m, _parties) = alice_and_mallory(0).await;
    let (domain, node) = (m.domain, m.node.clone());

    // An honest payment first: seq 1, nonce 1.
    let pid = B256::repeat_byte(1);
    let good1 = m.channel.send_direct(&m.key, &domain, 100, direct_message_hash(&pid)).expect("proof");
    m.send_good(1, m.direct(1, good1, pid)).await;
    assert_eq!(m.partner_balance_at_node().await, U256::from(ETH - 100));

    // A forged proof: signed by a key that is not Mallory's.
    let pid2 = B256::repeat_byte(2);
    let forged =
        BalanceProof { nonce: 2, transferred: 200, message_hash: direct_message_hash(&pid2), ..good1.proof }
            .sign(&SigningKey::from_bytes(&[9; 32]).expect("key"), &domain);
    let text = m.send_bad(m.direct(2, forged, pid2)).await;
    assert!(text.contains("signed by"), "{text}");
    // A proof with a malleable (high-s) signature.
    let mut high_s =
        BalanceProof { nonce: 2, transferred: 200, message_hash: direct_message_hash(&pid2), ..good1.proof }
            .sign(&m.key, &domain);
    high_s.signature.0[32] |= 0x80;
    let text = m.send_bad(m.direct(2, high_s, pid2)).await;
    assert!(text.contains("bad signature"), "{text}");
    // A replay of the first proof, as a new message.
    let text = m.send_bad(m.direct(2, good1, pid)).await;
    assert!(text.contains("stale nonce"), "{text}");
    // A nonce gap.
    let gap =
        BalanceProof { nonce: 5, transferred: 200, message_hash: direct_message_hash(&pid2), ..good1.proof }
            .sign(&m.key, &domain);
    let text = m.send_bad(m.direct(2, gap, pid2)).await;
    assert!(text.contains("nonce gap"), "{text}");
    // More than Mallory deposited.
    let over = BalanceProof {
        nonce: 2,
        transferred: ETH + 1,
        message_hash: direct_message_hash(&pid2),
        ..good1.proof
    }
    .sign(&m.key, &domain);
    let text = m.send_bad(m.direct(2, over, pid2)).await;
    assert!(text.contains("above capacity"), "{text}");
    // A proof bound to another message.
    let unbound = BalanceProof { nonce: 2, transferred: 200, message_hash: B256::ZERO, ..good1.proof }
        .sign(&m.key, &domain);
    let text = m.send_bad(m.direct(2, unbound, pid2)).await;
    assert!(text.contains("message hash"), "{text}");
    // A sequence gap.
    let fine =
        BalanceProof { nonce: 2, transferred: 200, message_hash: direct_message_hash(&pid2), ..good1.proof }
            .sign(&m.key, &domain);
    let text = m.send_bad(m.direct(9, fine, pid2)).await;
    assert!(text.contains("expected seq 2"), "{text}");
    assert_eq!(m.partner_balance_at_node().await, U256::from(ETH - 100), "nothing changed");

    // Garbage: an encrypted frame that is no message, then raw bytes, then a handshake cut short.
    let (mut conn, _) = m.connect().await;
    conn.writer.send_encoded(&[0x10, 0, 0]).await.expect("send");
    conn.writer.flush().await.expect("flush");
    assert!(answer(&mut conn).await.is_err(), "closed on an undecodable message");
    let mut raw = TcpStream::connect(node.listen_addr()).await.expect("tcp");
    let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = raw.write_all(&noise).await;
    drop(raw);
    let mut raw = TcpStream::connect(node.listen_addr()).await.expect("tcp");
    raw.write_all(&[0x00]).await.expect("write");
    drop(raw);

    // The node still serves: Mallory's next honest payment (nonce 2, seq 2) is taken.
    let good2 = fine;
    let (mut conn, expected) = m.connect().await;
    assert_eq!(expected, 2, "the refused messages did not consume a seq");
    conn.writer.send(&m.direct(2, good2, pid2)).await.expect("send");
    conn.writer.flush().await.expect("flush");
    assert_eq!(answer(&mut conn).await.expect("ack"), Message::Ack(2));
    // And a duplicate of it is acknowledged again, not counted twice.
    conn.writer.send(&m.direct(2, good2, pid2)).await.expect("send");
    conn.writer.flush().await.expect("flush");
    assert_eq!(answer(&mut conn).await.expect("ack"), Message::Ack(2));
    assert_eq!(m.partner_balance_at_node().await, U256::from(ETH - 200));
    alice.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheating_lock_messages_are_refused() {
    let (_devnet, _dir, alice, mut m, parties) = alice_and_mallory(0).await;
    let domain = m.domain;
    let head = parties[1].l1.block_number().await.expect("head");

    // A lock that expired long ago (Mallory's own channel would not sign it: its head is
    // left out). Each bad message is built on a copy of Mallory's channel.
    let secret = B256::repeat_byte(0x5e);
    let pid = B256::repeat_byte(1);
    let stale = Lock { expiration: 1, amount: 1_000, secrethash: secrethash(&secret) };
    let proof =
        m.channel.clone().send_locked(&m.key, &domain, stale, 0, m.locked_hash(&pid, &stale)).expect("p");
    let text = m.send_bad(m.locked(1, pid, stale, proof)).await;
    assert!(text.contains("lock expires at block 1, the head is"), "{text}");

    // A lock of 1,000 wei whose proof locks only 100: the message claims more than the
    // proof commits to (the message hash is re-signed over the claimed lock).
    let lock = Lock { expiration: head + 80, amount: 1_000, secrethash: secrethash(&secret) };
    let small = Lock { amount: 100, ..lock };
    let proof = m.channel.clone().send_locked(&m.key, &domain, small, head, B256::ZERO).expect("proof");
    let lie = BalanceProof { message_hash: m.locked_hash(&pid, &lock), ..proof.proof }.sign(&m.key, &domain);
    let text = m.send_bad(m.locked(1, pid, lock, lie)).await;
    assert!(text.contains("locksroot do not match"), "{text}");
    assert_eq!(channel_view(&m).await, (0, 0), "nothing changed");

    // The honest lock is taken (seq 1, nonce 1): the node is its target.
    let mh = m.locked_hash(&pid, &lock);
    let proof = m.channel.send_locked(&m.key, &domain, lock, head, mh).expect("proof");
    m.send_good(1, m.locked(1, pid, lock, proof)).await;
    assert_eq!(channel_view(&m).await, (1, 1_000));

    // An unlock whose secret opens no pending lock (its proof pays the real lock out).
    let wrong = B256::repeat_byte(0x77);
    let (proof, _) = m
        .channel
        .clone()
        .send_unlock(&m.key, &domain, &lock.secrethash, unlock_message_hash(&pid, &wrong))
        .expect("proof");
    let text = m.send_bad(Message::Reliable(2, Reliable::Unlock(Unlock { pid, secret: wrong, proof }))).await;
    assert!(text.contains("secret does not match"), "{text}");
    assert_eq!(channel_view(&m).await, (1, 1_000), "nothing changed");

    // Mallory reveals the secret, then waits out the expiration and tries to take the lock
    // back with a valid LockExpired: the node knows the secret (it can claim the lock on L1),
    // so it refuses.
    m.send_good(2, Message::Reliable(2, Reliable::RevealSecret(RevealSecret { pid, secret }))).await;
    mine(&parties[1], lock.expiration + 2 - head).await;
    let mh = lock_expired_message_hash(&pid, &lock.secrethash);
    let (proof, _) = m
        .channel
        .clone()
        .send_lock_expired(&m.key, &domain, &lock.secrethash, lock.expiration + 2, mh)
        .expect("p");
    let text = m
        .send_bad(Message::Reliable(
            3,
            Reliable::LockExpired(LockExpired { pid, secrethash: lock.secrethash, proof }),
        ))
        .await;
    assert!(text.contains("we know its secret"), "{text}");
    assert_eq!(channel_view(&m).await, (1, 1_000), "the lock is still pending");
    alice.shutdown().await;
}

/// Mallory is the target of Alice's payment. It asks for the secret and gets it, then claims
/// the payment failed: Alice must not believe it (a caller told "failed" would pay again, and
/// Mallory can claim the lock with the secret), so the payment stays pending, and completes
/// when Mallory gives the secret back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_secret_is_out_is_ignored() {
    let (_devnet, _dir, alice, m, _parties) = alice_and_mallory(ETH).await;
    let (mut conn, _) = m.connect().await;
    let node = m.node.clone();
    let hop = RouteHop { node: m.key.address(), policy: FeePolicy::default() };
    let mut pay = tokio::spawn(async move { node.pay_route(vec![hop], 1_000).await });

    let (seq, lt) = match answer(&mut conn).await.expect("message") {
        Message::Reliable(seq, Reliable::Locked(lt)) => (seq, lt),
        other => panic!("expected a LockedTransfer, got {other:?}"),
    };
    assert_eq!(lt.lock.amount, 1_000);
    let (pid, hash) = (lt.pid, lt.lock.secrethash);
    let request = SecretRequest { pid, secrethash: hash, amount: 1_000, expiration: lt.lock.expiration };
    conn.writer.send(&Message::Ack(seq)).await.expect("send");
    conn.writer.send(&Message::Reliable(1, Reliable::SecretRequest(request))).await.expect("send");
    conn.writer.flush().await.expect("flush");
    let secret = loop {
        match answer(&mut conn).await.expect("message") {
            Message::Ack(1) => {}
            Message::Reliable(seq, Reliable::RevealSecret(r)) => {
                conn.writer.send(&Message::Ack(seq)).await.expect("send");
                break r.secret;
            }
            other => panic!("expected the secret, got {other:?}"),
        }
    };
    assert_eq!(secrethash(&secret), hash);

    // The lie: the payment failed at Mallory's channel. Alice acknowledges it (processed and
    // committed) and does not answer the payment.
    let failed = TransferFailed { pid, secrethash: hash, reason: 1, failed_channel: m.channel.id };
    conn.writer.send(&Message::Reliable(2, Reliable::TransferFailed(failed))).await.expect("send");
    conn.writer.flush().await.expect("flush");
    loop {
        match answer(&mut conn).await.expect("message") {
            Message::Ack(2) => break,
            Message::Ack(1) => {}
            other => panic!("expected Ack(2), got {other:?}"),
        }
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut pay).await.is_err(),
        "the payment was answered after a failure that came after the secret"
    );
    let record = alice.handle().payments().await.expect("payments");
    assert_eq!(record[0].status, PaymentStatus::Pending);

    // Mallory gives the secret back: Alice unlocks, and the payment completes.
    let reveal = RevealSecret { pid, secret };
    conn.writer.send(&Message::Reliable(3, Reliable::RevealSecret(reveal))).await.expect("send");
    conn.writer.flush().await.expect("flush");
    loop {
        match answer(&mut conn).await.expect("message") {
            Message::Ack(3) => {}
            Message::Reliable(_, Reliable::Unlock(u)) => {
                assert_eq!(u.secret, secret);
                break;
            }
            other => panic!("expected the Unlock, got {other:?}"),
        }
    }
    let report = tokio::time::timeout(Duration::from_secs(10), pay).await.expect("answered").expect("task");
    assert_eq!(report.expect("paid").fee, 0);
    let record = alice.handle().payments().await.expect("payments");
    assert_eq!(record[0].status, PaymentStatus::Completed);
    alice.shutdown().await;
}

/// (Mallory's nonce, Mallory's locked amount) as the node sees them.
async fn channel_view(m: &Mallory) -> (u64, u128) {
    let c = &m.node.channels().await.expect("channels")[0].channel;
    (c.theirs.nonce(), c.theirs.locked())
}
