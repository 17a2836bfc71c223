//! The messages peers exchange inside their Noise session (docs/channels.md §3.4), with fixed
//! big-endian layouts and no trailing bytes: `type u8 ‖ seq u64 (reliable types only) ‖ body`,
//! at most [`MAX_MESSAGE_LEN`] bytes. Decoding never panics on any input; anything malformed
//! is a [`WireError`], on which a node closes the connection.
//!
//! Reliable messages are numbered per peer and kept in the sender's outbox until an `Ack`
//! covers them; those that carry a balance proof bind it through [`Reliable::message_hash`].
//! The layouts are loft's own, so they are written out here rather than derived by a
//! serialization crate: the proofs sign their hashes.

use alloy_primitives::{Address, B256, keccak256};

use crate::{
    lock::{LOCK_LEN, Lock},
    proof::{SIGNED_PROOF_LEN, SignedBalanceProof},
    signature::{SIGNATURE_LEN, Signature65},
};

/// Largest plaintext message.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Most hops a locked transfer may still carry.
pub const MAX_HOPS: usize = 16;
/// Protocol version in `Hello`.
pub const PROTOCOL_VERSION: u16 = 1;

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the layout needs.
    #[error("message truncated: {0}")]
    Truncated(&'static str),
    /// Bytes after the end of the layout.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// Unknown message type.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// Above [`MAX_MESSAGE_LEN`].
    #[error("message of {0} bytes is above the limit")]
    TooLong(usize),
    /// More hops than [`MAX_HOPS`].
    #[error("{0} hops, at most {MAX_HOPS}")]
    TooManyHops(u8),
    /// An error text that is not UTF-8, or an endpoint family other than 4 or 6.
    #[error("malformed field: {0}")]
    Malformed(&'static str),
}

/// One hop of a mediated payment still ahead: who receives `amount` with expiration
/// `expiration` on the next channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// The node receiving this hop's lock.
    pub node: Address,
    /// Its amount.
    pub amount: u128,
    /// Its expiration block.
    pub expiration: u64,
}

/// The first message on a connection, and after each reconnection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The L1 chain id.
    pub chain_id: u64,
    /// The `ChannelManager` address.
    pub manager: Address,
    /// The sender's next expected reliable `seq` from us (its last processed + 1).
    pub next_expected_seq: u64,
    /// Feature bits (0 for now).
    pub features: u64,
}

/// A pay-directly message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectTransfer {
    /// Payment id.
    pub pid: B256,
    /// The sender's proof with `transferred` raised.
    pub proof: SignedBalanceProof,
}

/// A hash-time-locked transfer towards `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedTransfer {
    /// Payment id.
    pub pid: B256,
    /// Who pays.
    pub initiator: Address,
    /// Who is paid.
    pub target: Address,
    /// The lock this proof adds.
    pub lock: Lock,
    /// The hops after the receiver (empty when the receiver is the target).
    pub hops: Vec<Hop>,
    /// The sender's proof with `lock` appended.
    pub proof: SignedBalanceProof,
    /// Where the initiator accepts connections, so that a target with no connection to it
    /// can send its `SecretRequest`. Not signed: whoever answers there must prove the
    /// initiator's address in the Noise handshake, and a wrong endpoint only fails the
    /// payment, which any mediator could do anyway.
    pub initiator_endpoint: Option<std::net::SocketAddr>,
}

/// The target asks the initiator for the secret of `secrethash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRequest {
    /// Payment id.
    pub pid: B256,
    /// The lock's secrethash.
    pub secrethash: B256,
    /// The amount the target received.
    pub amount: u128,
    /// The expiration of the target's lock.
    pub expiration: u64,
}

/// A secret, travelling from the initiator to the target and back upstream hop by hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevealSecret {
    /// Payment id.
    pub pid: B256,
    /// The secret.
    pub secret: B256,
}

/// The sender pays out its lock opened by `secret`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlock {
    /// Payment id.
    pub pid: B256,
    /// The secret.
    pub secret: B256,
    /// The sender's proof with the lock moved into `transferred`.
    pub proof: SignedBalanceProof,
}

/// The sender removes its expired lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockExpired {
    /// Payment id.
    pub pid: B256,
    /// The expired lock's secrethash.
    pub secrethash: B256,
    /// The sender's proof without the lock.
    pub proof: SignedBalanceProof,
}

/// A hop could not forward; sent upstream so the initiator tries another route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferFailed {
    /// Payment id.
    pub pid: B256,
    /// The failed lock's secrethash.
    pub secrethash: B256,
    /// Why (a [`FailReason`] code).
    pub reason: u16,
    /// The channel that could not carry the payment.
    pub failed_channel: u64,
}

/// Why a hop refused a locked transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum FailReason {
    /// Not enough capacity on the next channel.
    InsufficientCapacity = 1,
    /// Fee too low for this mediator.
    FeeTooLow = 2,
    /// Expiration delta too small, or the lock too close to expiry.
    ExpiryTooSoon = 3,
    /// No open channel to the next hop.
    NoChannel = 4,
    /// The next hop is not connected.
    PeerOffline = 5,
    /// The target refused (unknown payment, wrong amount).
    TargetRefused = 6,
    /// Any other reason.
    Other = 7,
}

/// A cooperative-close proposal with the proposer's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    /// The channel.
    pub channel_id: u64,
    /// Participant 1's (lower address) final balance.
    pub balance1: u128,
    /// Participant 2's.
    pub balance2: u128,
    /// Last block the signatures are valid in.
    pub expiration: u64,
    /// The proposer's signature on `CooperativeSettle`.
    pub signature: Signature65,
}

/// Reliable messages: numbered, kept in the outbox until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reliable {
    /// 0x10
    Direct(DirectTransfer),
    /// 0x11
    Locked(LockedTransfer),
    /// 0x12
    SecretRequest(SecretRequest),
    /// 0x13
    RevealSecret(RevealSecret),
    /// 0x14
    Unlock(Unlock),
    /// 0x15
    LockExpired(LockExpired),
    /// 0x16
    TransferFailed(TransferFailed),
    /// 0x17
    CloseRequest(CloseRequest),
    /// 0x18: the partner's signature on the requested close.
    CloseSigned {
        /// The channel.
        channel_id: u64,
        /// The signature on `CooperativeSettle`.
        signature: Signature65,
    },
    /// 0x19
    CloseRefused {
        /// The channel.
        channel_id: u64,
        /// Why (1: busy, 2: balances disagree).
        reason: u16,
    },
}

/// A node's endpoint, announced through gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAnnouncement {
    /// The node.
    pub node: Address,
    /// Its Noise static public key.
    pub noise_key: B256,
    /// Where it listens.
    pub endpoint: std::net::SocketAddr,
    /// Strictly increasing per node.
    pub timestamp: u64,
    /// The node's signature on the EIP-712 `NodeAnnouncement`.
    pub signature: Signature65,
}

/// One direction of a channel announced by its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelUpdate {
    /// The channel.
    pub channel_id: u64,
    /// The owner of this direction (the payer on it).
    pub node: Address,
    /// What it can currently send.
    pub capacity: u128,
    /// Flat fee for mediating out of this channel.
    pub fee_flat: u128,
    /// Proportional fee, parts per million.
    pub fee_ppm: u32,
    /// Blocks the node adds between incoming and outgoing lock expirations.
    pub expiry_delta: u16,
    /// Strictly increasing per direction.
    pub timestamp: u64,
    /// The owner's signature on the EIP-712 `ChannelUpdate`.
    pub signature: Signature65,
}

/// A client hands a watchtower the closer's newest proof with its delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorRequest {
    /// The channel.
    pub channel_id: u64,
    /// The partner whose proof this is (the would-be closer).
    pub closer: Address,
    /// The partner's newest proof.
    pub proof: SignedBalanceProof,
    /// The client's `UpdateAuthorization` signature on it.
    pub delegation: Signature65,
}

/// Every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 0x01
    Hello(Hello),
    /// 0x02: every reliable message up to `seq` is processed and on disk.
    Ack(u64),
    /// 0x03
    Ping(u64),
    /// 0x04
    Pong(u64),
    /// 0x05: the sender closes the connection after it.
    Error {
        /// An error code.
        code: u16,
        /// A human-readable reason.
        text: String,
    },
    /// 0x10..=0x19 with its `seq`.
    Reliable(u64, Reliable),
    /// 0x20
    NodeAnnouncement(NodeAnnouncement),
    /// 0x21
    ChannelUpdate(ChannelUpdate),
    /// 0x22: send me the gossip newer than `since`.
    GossipSync(u64),
    /// 0x30
    MonitorRequest(MonitorRequest),
    /// 0x31: the watchtower holds this nonce for the channel.
    MonitorAck {
        /// The channel.
        channel_id: u64,
        /// The nonce held.
        nonce: u64,
    },
}

impl Reliable {
    fn type_byte(&self) -> u8 {
        match self {
            Reliable::Direct(_) => 0x10,
            Reliable::Locked(_) => 0x11,
            Reliable::SecretRequest(_) => 0x12,
            Reliable::RevealSecret(_) => 0x13,
            Reliable::Unlock(_) => 0x14,
            Reliable::LockExpired(_) => 0x15,
            Reliable::TransferFailed(_) => 0x16,
            Reliable::CloseRequest(_) => 0x17,
            Reliable::CloseSigned { .. } => 0x18,
            Reliable::CloseRefused { .. } => 0x19,
        }
    }

    /// The `messageHash` the carried balance proof must have; `None` for messages without
    /// a proof.
    pub fn message_hash(&self) -> Option<B256> {
        match self {
            Reliable::Direct(m) => Some(direct_message_hash(&m.pid)),
            Reliable::Locked(m) => {
                Some(locked_message_hash(&m.pid, &m.initiator, &m.target, &m.lock, &m.hops))
            }
            Reliable::Unlock(m) => Some(unlock_message_hash(&m.pid, &m.secret)),
            Reliable::LockExpired(m) => Some(lock_expired_message_hash(&m.pid, &m.secrethash)),
            _ => None,
        }
    }
}

/// `keccak256(0x10 ‖ pid)`.
pub fn direct_message_hash(pid: &B256) -> B256 {
    let mut buf = [0u8; 33];
    buf[0] = 0x10;
    buf[1..].copy_from_slice(pid.as_slice());
    keccak256(buf)
}

/// `keccak256(0x11 ‖ pid ‖ initiator ‖ target ‖ lock ‖ nHops ‖ hops)`.
pub fn locked_message_hash(
    pid: &B256,
    initiator: &Address,
    target: &Address,
    lock: &Lock,
    hops: &[Hop],
) -> B256 {
    let mut w = Writer(Vec::with_capacity(200));
    w.u8(0x11);
    w.b32(pid);
    w.addr(initiator);
    w.addr(target);
    w.bytes(&lock.encode());
    write_hops(&mut w, hops);
    keccak256(&w.0)
}

/// `keccak256(0x14 ‖ pid ‖ secret)`.
pub fn unlock_message_hash(pid: &B256, secret: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = 0x14;
    buf[1..33].copy_from_slice(pid.as_slice());
    buf[33..].copy_from_slice(secret.as_slice());
    keccak256(buf)
}

/// `keccak256(0x15 ‖ pid ‖ secrethash)`.
pub fn lock_expired_message_hash(pid: &B256, secrethash: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = 0x15;
    buf[1..33].copy_from_slice(pid.as_slice());
    buf[33..].copy_from_slice(secrethash.as_slice());
    keccak256(buf)
}

impl Message {
    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(256));
        match self {
            Message::Hello(h) => {
                w.u8(0x01);
                w.u16(h.version);
                w.u64(h.chain_id);
                w.addr(&h.manager);
                w.u64(h.next_expected_seq);
                w.u64(h.features);
            }
            Message::Ack(seq) => {
                w.u8(0x02);
                w.u64(*seq);
            }
            Message::Ping(x) => {
                w.u8(0x03);
                w.u64(*x);
            }
            Message::Pong(x) => {
                w.u8(0x04);
                w.u64(*x);
            }
            Message::Error { code, text } => {
                w.u8(0x05);
                w.u16(*code);
                // Keep the message under the limit whatever the text.
                let mut end = text.len().min(MAX_MESSAGE_LEN - 5);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                w.u16(end as u16);
                w.bytes(&text.as_bytes()[..end]);
            }
            Message::Reliable(seq, r) => {
                w.u8(r.type_byte());
                w.u64(*seq);
                encode_reliable(&mut w, r);
            }
            Message::NodeAnnouncement(a) => {
                w.u8(0x20);
                w.addr(&a.node);
                w.b32(&a.noise_key);
                write_endpoint(&mut w, &a.endpoint);
                w.u64(a.timestamp);
                w.sig(&a.signature);
            }
            Message::ChannelUpdate(u) => {
                w.u8(0x21);
                w.u64(u.channel_id);
                w.addr(&u.node);
                w.u128(u.capacity);
                w.u128(u.fee_flat);
                w.u32(u.fee_ppm);
                w.u16(u.expiry_delta);
                w.u64(u.timestamp);
                w.sig(&u.signature);
            }
            Message::GossipSync(since) => {
                w.u8(0x22);
                w.u64(*since);
            }
            Message::MonitorRequest(m) => {
                w.u8(0x30);
                w.u64(m.channel_id);
                w.addr(&m.closer);
                w.bytes(&m.proof.encode());
                w.sig(&m.delegation);
            }
            Message::MonitorAck { channel_id, nonce } => {
                w.u8(0x31);
                w.u64(*channel_id);
                w.u64(*nonce);
            }
        }
        w.0
    }

    /// Decodes one message; any malformed input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(WireError::TooLong(bytes.len()));
        }
        let mut r = Reader(bytes);
        let kind = r.u8("type")?;
        let msg = match kind {
            0x01 => Message::Hello(Hello {
                version: r.u16("version")?,
                chain_id: r.u64("chain id")?,
                manager: r.addr("manager")?,
                next_expected_seq: r.u64("seq")?,
                features: r.u64("features")?,
            }),
            0x02 => Message::Ack(r.u64("seq")?),
            0x03 => Message::Ping(r.u64("ping")?),
            0x04 => Message::Pong(r.u64("pong")?),
            0x05 => {
                let code = r.u16("code")?;
                let len = r.u16("text length")? as usize;
                let text = std::str::from_utf8(r.take(len, "text")?)
                    .map_err(|_| WireError::Malformed("error text is not UTF-8"))?
                    .to_owned();
                Message::Error { code, text }
            }
            0x10..=0x19 => {
                let seq = r.u64("seq")?;
                Message::Reliable(seq, decode_reliable(kind, &mut r)?)
            }
            0x20 => Message::NodeAnnouncement(NodeAnnouncement {
                node: r.addr("node")?,
                noise_key: r.b32("noise key")?,
                endpoint: read_endpoint(&mut r)?,
                timestamp: r.u64("timestamp")?,
                signature: r.sig()?,
            }),
            0x21 => Message::ChannelUpdate(ChannelUpdate {
                channel_id: r.u64("channel")?,
                node: r.addr("node")?,
                capacity: r.u128("capacity")?,
                fee_flat: r.u128("fee")?,
                fee_ppm: r.u32("fee ppm")?,
                expiry_delta: r.u16("expiry delta")?,
                timestamp: r.u64("timestamp")?,
                signature: r.sig()?,
            }),
            0x22 => Message::GossipSync(r.u64("since")?),
            0x30 => Message::MonitorRequest(MonitorRequest {
                channel_id: r.u64("channel")?,
                closer: r.addr("closer")?,
                proof: r.proof()?,
                delegation: r.sig()?,
            }),
            0x31 => Message::MonitorAck { channel_id: r.u64("channel")?, nonce: r.u64("nonce")? },
            other => return Err(WireError::UnknownType(other)),
        };
        if !r.0.is_empty() {
            return Err(WireError::Trailing(r.0.len()));
        }
        Ok(msg)
    }
}

fn encode_reliable(w: &mut Writer, r: &Reliable) {
    match r {
        Reliable::Direct(m) => {
            w.b32(&m.pid);
            w.bytes(&m.proof.encode());
        }
        Reliable::Locked(m) => {
            w.b32(&m.pid);
            w.addr(&m.initiator);
            w.addr(&m.target);
            w.bytes(&m.lock.encode());
            write_hops(w, &m.hops);
            w.bytes(&m.proof.encode());
            match &m.initiator_endpoint {
                None => w.u8(0),
                Some(e) => {
                    w.u8(1);
                    write_endpoint(w, e);
                }
            }
        }
        Reliable::SecretRequest(m) => {
            w.b32(&m.pid);
            w.b32(&m.secrethash);
            w.u128(m.amount);
            w.u64(m.expiration);
        }
        Reliable::RevealSecret(m) => {
            w.b32(&m.pid);
            w.b32(&m.secret);
        }
        Reliable::Unlock(m) => {
            w.b32(&m.pid);
            w.b32(&m.secret);
            w.bytes(&m.proof.encode());
        }
        Reliable::LockExpired(m) => {
            w.b32(&m.pid);
            w.b32(&m.secrethash);
            w.bytes(&m.proof.encode());
        }
        Reliable::TransferFailed(m) => {
            w.b32(&m.pid);
            w.b32(&m.secrethash);
            w.u16(m.reason);
            w.u64(m.failed_channel);
        }
        Reliable::CloseRequest(m) => {
            w.u64(m.channel_id);
            w.u128(m.balance1);
            w.u128(m.balance2);
            w.u64(m.expiration);
            w.sig(&m.signature);
        }
        Reliable::CloseSigned { channel_id, signature } => {
            w.u64(*channel_id);
            w.sig(signature);
        }
        Reliable::CloseRefused { channel_id, reason } => {
            w.u64(*channel_id);
            w.u16(*reason);
        }
    }
}

fn decode_reliable(kind: u8, r: &mut Reader<'_>) -> Result<Reliable, WireError> {
    Ok(match kind {
        0x10 => Reliable::Direct(DirectTransfer { pid: r.b32("pid")?, proof: r.proof()? }),
        0x11 => {
            let pid = r.b32("pid")?;
            let initiator = r.addr("initiator")?;
            let target = r.addr("target")?;
            let lock = r.lock()?;
            let n = r.u8("hop count")?;
            if n as usize > MAX_HOPS {
                return Err(WireError::TooManyHops(n));
            }
            let mut hops = Vec::with_capacity(n as usize);
            for _ in 0..n {
                hops.push(Hop {
                    node: r.addr("hop node")?,
                    amount: r.u128("hop amount")?,
                    expiration: r.u64("hop expiration")?,
                });
            }
            let proof = r.proof()?;
            let initiator_endpoint = match r.u8("endpoint present")? {
                0 => None,
                1 => Some(read_endpoint(r)?),
                _ => return Err(WireError::Malformed("endpoint flag")),
            };
            Reliable::Locked(LockedTransfer { pid, initiator, target, lock, hops, proof, initiator_endpoint })
        }
        0x12 => Reliable::SecretRequest(SecretRequest {
            pid: r.b32("pid")?,
            secrethash: r.b32("secrethash")?,
            amount: r.u128("amount")?,
            expiration: r.u64("expiration")?,
        }),
        0x13 => Reliable::RevealSecret(RevealSecret { pid: r.b32("pid")?, secret: r.b32("secret")? }),
        0x14 => Reliable::Unlock(Unlock { pid: r.b32("pid")?, secret: r.b32("secret")?, proof: r.proof()? }),
        0x15 => Reliable::LockExpired(LockExpired {
            pid: r.b32("pid")?,
            secrethash: r.b32("secrethash")?,
            proof: r.proof()?,
        }),
        0x16 => Reliable::TransferFailed(TransferFailed {
            pid: r.b32("pid")?,
            secrethash: r.b32("secrethash")?,
            reason: r.u16("reason")?,
            failed_channel: r.u64("channel")?,
        }),
        0x17 => Reliable::CloseRequest(CloseRequest {
            channel_id: r.u64("channel")?,
            balance1: r.u128("balance1")?,
            balance2: r.u128("balance2")?,
            expiration: r.u64("expiration")?,
            signature: r.sig()?,
        }),
        0x18 => Reliable::CloseSigned { channel_id: r.u64("channel")?, signature: r.sig()? },
        0x19 => Reliable::CloseRefused { channel_id: r.u64("channel")?, reason: r.u16("reason")? },
        other => return Err(WireError::UnknownType(other)),
    })
}

fn write_hops(w: &mut Writer, hops: &[Hop]) {
    // More hops than MAX_HOPS are never built (routes are at most 8 hops); truncating here
    // would change the message hash, so encode what was given and let the receiver refuse.
    w.u8(hops.len().min(u8::MAX as usize) as u8);
    for hop in hops.iter().take(u8::MAX as usize) {
        w.addr(&hop.node);
        w.u128(hop.amount);
        w.u64(hop.expiration);
    }
}

fn write_endpoint(w: &mut Writer, endpoint: &std::net::SocketAddr) {
    match endpoint.ip() {
        std::net::IpAddr::V4(ip) => {
            w.u8(4);
            w.bytes(&ip.to_ipv6_mapped().octets());
        }
        std::net::IpAddr::V6(ip) => {
            w.u8(6);
            w.bytes(&ip.octets());
        }
    }
    w.u16(endpoint.port());
}

fn read_endpoint(r: &mut Reader<'_>) -> Result<std::net::SocketAddr, WireError> {
    let family = r.u8("endpoint family")?;
    let mut octets = [0u8; 16];
    octets.copy_from_slice(r.take(16, "endpoint ip")?);
    let ip6 = std::net::Ipv6Addr::from(octets);
    let ip = match family {
        4 => std::net::IpAddr::V4(
            ip6.to_ipv4_mapped().ok_or(WireError::Malformed("IPv4 endpoint not IPv4-mapped"))?,
        ),
        6 => std::net::IpAddr::V6(ip6),
        _ => return Err(WireError::Malformed("endpoint family")),
    };
    Ok(std::net::SocketAddr::new(ip, r.u16("endpoint port")?))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, x: u8) {
        self.0.push(x);
    }
    fn u16(&mut self, x: u16) {
        self.0.extend_from_slice(&x.to_be_bytes());
    }
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_be_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_be_bytes());
    }
    fn u128(&mut self, x: u128) {
        self.0.extend_from_slice(&x.to_be_bytes());
    }
    fn addr(&mut self, a: &Address) {
        self.0.extend_from_slice(a.as_slice());
    }
    fn b32(&mut self, b: &B256) {
        self.0.extend_from_slice(b.as_slice());
    }
    fn sig(&mut self, s: &Signature65) {
        self.0.extend_from_slice(s.as_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn u128(&mut self, what: &'static str) -> Result<u128, WireError> {
        Ok(u128::from_be_bytes(self.array(what)?))
    }
    fn addr(&mut self, what: &'static str) -> Result<Address, WireError> {
        Ok(Address::from(self.array::<20>(what)?))
    }
    fn b32(&mut self, what: &'static str) -> Result<B256, WireError> {
        Ok(B256::from(self.array::<32>(what)?))
    }
    fn sig(&mut self) -> Result<Signature65, WireError> {
        Ok(Signature65(self.array::<SIGNATURE_LEN>("signature")?))
    }
    fn lock(&mut self) -> Result<Lock, WireError> {
        Ok(Lock::decode(&self.array::<LOCK_LEN>("lock")?))
    }
    fn proof(&mut self) -> Result<SignedBalanceProof, WireError> {
        Ok(SignedBalanceProof::decode(&self.array::<SIGNED_PROOF_LEN>("balance proof")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChannelDomain, proof::BalanceProof, signature::SigningKey};
    use proptest::prelude::*;

    fn sample_proof() -> SignedBalanceProof {
        let key = SigningKey::from_bytes(&[3u8; 32]).unwrap();
        BalanceProof {
            channel_id: 1,
            nonce: 2,
            transferred: 3,
            locked: 4,
            locksroot: B256::repeat_byte(5),
            message_hash: B256::repeat_byte(6),
        }
        .sign(&key, &ChannelDomain::new(1, Address::ZERO))
    }

    fn samples() -> Vec<Message> {
        let proof = sample_proof();
        let pid = B256::repeat_byte(0xaa);
        let lock = Lock { expiration: 99, amount: 1234, secrethash: B256::repeat_byte(7) };
        let hop = Hop { node: Address::repeat_byte(1), amount: 1000, expiration: 90 };
        vec![
            Message::Hello(Hello {
                version: PROTOCOL_VERSION,
                chain_id: 1337,
                manager: Address::repeat_byte(9),
                next_expected_seq: 5,
                features: 0,
            }),
            Message::Ack(77),
            Message::Ping(1),
            Message::Pong(1),
            Message::Error { code: 3, text: "nonce gap ✓".into() },
            Message::Reliable(1, Reliable::Direct(DirectTransfer { pid, proof })),
            Message::Reliable(
                2,
                Reliable::Locked(LockedTransfer {
                    pid,
                    initiator: Address::repeat_byte(2),
                    target: Address::repeat_byte(3),
                    lock,
                    hops: vec![hop, hop],
                    proof,
                    initiator_endpoint: Some("127.0.0.1:7800".parse().unwrap()),
                }),
            ),
            Message::Reliable(
                2,
                Reliable::Locked(LockedTransfer {
                    pid,
                    initiator: Address::repeat_byte(2),
                    target: Address::repeat_byte(3),
                    lock,
                    hops: vec![],
                    proof,
                    initiator_endpoint: None,
                }),
            ),
            Message::Reliable(
                3,
                Reliable::SecretRequest(SecretRequest {
                    pid,
                    secrethash: lock.secrethash,
                    amount: 5,
                    expiration: 6,
                }),
            ),
            Message::Reliable(4, Reliable::RevealSecret(RevealSecret { pid, secret: B256::repeat_byte(8) })),
            Message::Reliable(5, Reliable::Unlock(Unlock { pid, secret: B256::repeat_byte(8), proof })),
            Message::Reliable(
                6,
                Reliable::LockExpired(LockExpired { pid, secrethash: lock.secrethash, proof }),
            ),
            Message::Reliable(
                7,
                Reliable::TransferFailed(TransferFailed {
                    pid,
                    secrethash: lock.secrethash,
                    reason: FailReason::FeeTooLow as u16,
                    failed_channel: 4,
                }),
            ),
            Message::Reliable(
                8,
                Reliable::CloseRequest(CloseRequest {
                    channel_id: 1,
                    balance1: 10,
                    balance2: 20,
                    expiration: 30,
                    signature: proof.signature,
                }),
            ),
            Message::Reliable(9, Reliable::CloseSigned { channel_id: 1, signature: proof.signature }),
            Message::Reliable(10, Reliable::CloseRefused { channel_id: 1, reason: 1 }),
            Message::NodeAnnouncement(NodeAnnouncement {
                node: Address::repeat_byte(4),
                noise_key: B256::repeat_byte(5),
                endpoint: "127.0.0.1:9735".parse().unwrap(),
                timestamp: 6,
                signature: proof.signature,
            }),
            Message::ChannelUpdate(ChannelUpdate {
                channel_id: 1,
                node: Address::repeat_byte(4),
                capacity: 1000,
                fee_flat: 1,
                fee_ppm: 100,
                expiry_delta: 8,
                timestamp: 9,
                signature: proof.signature,
            }),
            Message::GossipSync(0),
            Message::MonitorRequest(MonitorRequest {
                channel_id: 1,
                closer: Address::repeat_byte(4),
                proof,
                delegation: proof.signature,
            }),
            Message::MonitorAck { channel_id: 1, nonce: 2 },
        ]
    }

    #[test]
    fn every_message_round_trips_and_refuses_truncation_and_padding() {
        for msg in samples() {
            let bytes = msg.encode();
            assert!(bytes.len() <= MAX_MESSAGE_LEN);
            assert_eq!(Message::decode(&bytes), Ok(msg.clone()));
            assert!(Message::decode(&bytes[..bytes.len() - 1]).is_err(), "{msg:?} truncated");
            let mut padded = bytes.clone();
            padded.push(0);
            assert_eq!(Message::decode(&padded), Err(WireError::Trailing(1)));
        }
        assert_eq!(Message::decode(&[0x7f]), Err(WireError::UnknownType(0x7f)));
        assert_eq!(Message::decode(&[]), Err(WireError::Truncated("type")));
    }

    #[test]
    fn a_direct_transfer_is_under_250_bytes() {
        let msg =
            Message::Reliable(1, Reliable::Direct(DirectTransfer { pid: B256::ZERO, proof: sample_proof() }));
        assert_eq!(msg.encode().len(), 1 + 8 + 32 + SIGNED_PROOF_LEN);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_messages_never_panics(i in 0usize..20, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let samples = samples();
            let mut bytes = samples[i % samples.len()].encode();
            let at = pos.index(bytes.len());
            bytes[at] = byte;
            if let Ok(msg) = Message::decode(&bytes) {
                prop_assert_eq!(msg.encode(), bytes);
            }
        }
    }
}
