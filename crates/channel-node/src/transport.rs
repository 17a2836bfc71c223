//! Authenticated, encrypted peer connections: `Noise_XX_25519_ChaChaPoly_BLAKE2s` (the `snow`
//! crate) over TCP (docs/channels.md §3.3).
//!
//! A node is known by its Ethereum address, not by a Noise key, so peers dial
//! `0xADDR@host:port` and XX lets each learn the other's static key; the payloads of handshake
//! messages 2 and 3 carry an identity proof, `address ‖ signature` over the EIP-712
//! `NodeKey{node, noiseKey}`, which binds that key to the address. The prologue names the
//! chain and the `ChannelManager`, so nodes of other deployments can not complete a handshake.
//! After it, each direction has its own cipher and nonce (snow's stateless transport), so the
//! reader and the writer are independent tasks without a lock.
//!
//! Frames are `len: u16 BE ‖ ciphertext`, `16 <= len <= MAX_FRAME`. A bad length, a failed
//! decryption or an undecodable message is an error on which the connection is dropped.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, keccak256};
use curve25519_dalek::montgomery::MontgomeryPoint;
use loft_channels::{
    ChannelDomain, SigningKey,
    signature::{SIGNATURE_LEN, Signature65},
    wire::{MAX_MESSAGE_LEN, Message, WireError},
};
use snow::StatelessTransportState;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};

/// The Noise protocol.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// Poly1305 tag length.
const TAG_LEN: usize = 16;
/// Largest frame: a whole message plus its tag.
pub const MAX_FRAME: usize = MAX_MESSAGE_LEN + TAG_LEN;
/// A handshake must finish within this time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The identity proof: address (20) and signature (65).
const IDENTITY_LEN: usize = 20 + SIGNATURE_LEN;

/// Why a connection failed or was dropped.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The socket failed or closed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Noise refused a message (bad ciphertext, wrong prologue, wrong key).
    #[error("noise: {0}")]
    Noise(#[from] snow::Error),
    /// A frame length out of bounds.
    #[error("bad frame length {0}")]
    BadFrameLength(usize),
    /// A decrypted frame is not a message.
    #[error("bad message: {0}")]
    Wire(#[from] WireError),
    /// The peer's identity proof is malformed or does not bind its Noise key.
    #[error("bad identity proof: {0}")]
    BadIdentity(&'static str),
    /// We dialled one address and reached another node.
    #[error("dialled {expected}, reached {got}")]
    UnexpectedPeer {
        /// Who we dialled.
        expected: Address,
        /// Who answered.
        got: Address,
    },
    /// The handshake took too long.
    #[error("handshake timed out")]
    HandshakeTimeout,
}

/// Our side of every handshake: the static key, the prologue and our identity proof.
#[derive(Clone)]
pub struct NoiseIdentity {
    address: Address,
    static_secret: [u8; 32],
    static_public: [u8; 32],
    prologue: Vec<u8>,
    identity_proof: [u8; IDENTITY_LEN],
    domain: ChannelDomain,
}

impl std::fmt::Debug for NoiseIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseIdentity").field("address", &self.address).finish_non_exhaustive()
    }
}

impl NoiseIdentity {
    /// Our identity for the deployment `domain`. The Noise static secret is derived from the
    /// Ethereum key (`keccak256("loft-channels/noise-static/v1" ‖ secret)`), so there is no
    /// second key to store.
    pub fn new(key: &SigningKey, domain: ChannelDomain) -> Self {
        let mut seed = b"loft-channels/noise-static/v1".to_vec();
        seed.extend_from_slice(&key.secret_bytes());
        let static_secret = keccak256(&seed).0;
        let static_public = MontgomeryPoint::mul_base_clamped(static_secret).to_bytes();
        let signature = key.sign_digest(&domain.node_key_digest(key.address(), B256::from(static_public)));
        let mut identity_proof = [0u8; IDENTITY_LEN];
        identity_proof[..20].copy_from_slice(key.address().as_slice());
        identity_proof[20..].copy_from_slice(signature.as_bytes());
        let mut prologue = b"loft-channels/1".to_vec();
        prologue.extend_from_slice(&domain.chain_id().to_be_bytes());
        prologue.extend_from_slice(domain.manager().as_slice());
        Self { address: key.address(), static_secret, static_public, prologue, identity_proof, domain }
    }

    /// Our address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Our Noise static public key.
    pub fn noise_key(&self) -> B256 {
        B256::from(self.static_public)
    }

    fn builder(&self) -> Result<snow::Builder<'_>, snow::Error> {
        let params = NOISE_PARAMS.parse().map_err(|_| snow::Error::Input)?;
        snow::Builder::new(params).local_private_key(&self.static_secret)?.prologue(&self.prologue)
    }

    /// Checks the peer's identity proof against the static key Noise authenticated.
    fn check_identity(
        &self,
        payload: &[u8],
        remote_static: Option<&[u8]>,
    ) -> Result<Address, TransportError> {
        if payload.len() != IDENTITY_LEN {
            return Err(TransportError::BadIdentity("wrong length"));
        }
        let remote = remote_static.ok_or(TransportError::BadIdentity("no remote static key"))?;
        let noise_key = B256::try_from(remote).map_err(|_| TransportError::BadIdentity("key length"))?;
        let claimed = Address::from_slice(&payload[..20]);
        let mut sig = [0u8; SIGNATURE_LEN];
        sig.copy_from_slice(&payload[20..]);
        let signer = Signature65(sig)
            .recover(&self.domain.node_key_digest(claimed, noise_key))
            .map_err(|_| TransportError::BadIdentity("malformed signature"))?;
        if signer != claimed {
            return Err(TransportError::BadIdentity("signature is not the claimed address's"));
        }
        Ok(claimed)
    }
}

/// An established connection, before it is split.
pub struct Connection {
    /// The peer's authenticated address.
    pub peer: Address,
    /// The receiving half.
    pub reader: NoiseReader,
    /// The sending half.
    pub writer: NoiseWriter,
}

/// Dials: runs the initiator's handshake on `stream`; when `expected` is given, a different
/// peer is refused.
pub async fn connect(
    stream: TcpStream,
    identity: &NoiseIdentity,
    expected: Option<Address>,
) -> Result<Connection, TransportError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream, identity, true, expected))
        .await
        .map_err(|_| TransportError::HandshakeTimeout)?
}

/// Answers: runs the responder's handshake on an accepted `stream`.
pub async fn accept(stream: TcpStream, identity: &NoiseIdentity) -> Result<Connection, TransportError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream, identity, false, None))
        .await
        .map_err(|_| TransportError::HandshakeTimeout)?
}

async fn handshake(
    stream: TcpStream,
    identity: &NoiseIdentity,
    initiator: bool,
    expected: Option<Address>,
) -> Result<Connection, TransportError> {
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut write = BufWriter::new(write);
    let builder = identity.builder()?;
    let mut state = if initiator { builder.build_initiator()? } else { builder.build_responder()? };
    let mut buf = vec![0u8; MAX_FRAME];
    let mut payload = vec![0u8; MAX_FRAME];
    let peer = if initiator {
        // -> e
        let n = state.write_message(&[], &mut buf)?;
        write_frame(&mut write, &buf[..n]).await?;
        write.flush().await?;
        // <- e, ee, s, es + identity
        let frame = read_frame(&mut read, &mut buf).await?;
        let n = state.read_message(&buf[..frame], &mut payload)?;
        let peer = identity.check_identity(&payload[..n], state.get_remote_static())?;
        if let Some(expected) = expected.filter(|e| *e != peer) {
            return Err(TransportError::UnexpectedPeer { expected, got: peer });
        }
        // -> s, se + identity
        let n = state.write_message(&identity.identity_proof, &mut buf)?;
        write_frame(&mut write, &buf[..n]).await?;
        write.flush().await?;
        peer
    } else {
        let frame = read_frame(&mut read, &mut buf).await?;
        state.read_message(&buf[..frame], &mut payload)?;
        let n = state.write_message(&identity.identity_proof, &mut buf)?;
        write_frame(&mut write, &buf[..n]).await?;
        write.flush().await?;
        let frame = read_frame(&mut read, &mut buf).await?;
        let n = state.read_message(&buf[..frame], &mut payload)?;
        identity.check_identity(&payload[..n], state.get_remote_static())?
    };
    let transport = Arc::new(state.into_stateless_transport_mode()?);
    Ok(Connection {
        peer,
        reader: NoiseReader { transport: transport.clone(), nonce: 0, read, buf, plain: payload },
        writer: NoiseWriter { transport, nonce: 0, write, buf: vec![0u8; MAX_FRAME] },
    })
}

async fn write_frame(write: &mut BufWriter<OwnedWriteHalf>, frame: &[u8]) -> Result<(), TransportError> {
    let len = u16::try_from(frame.len()).map_err(|_| TransportError::BadFrameLength(frame.len()))?;
    write.write_all(&len.to_be_bytes()).await?;
    write.write_all(frame).await?;
    Ok(())
}

async fn read_frame(read: &mut BufReader<OwnedReadHalf>, buf: &mut [u8]) -> Result<usize, TransportError> {
    let len = read.read_u16().await? as usize;
    // Handshake frames are 32 to 181 bytes; transport frames a tag plus a message.
    if !(TAG_LEN..=MAX_FRAME).contains(&len) {
        return Err(TransportError::BadFrameLength(len));
    }
    read.read_exact(&mut buf[..len]).await?;
    Ok(len)
}

/// The receiving half of a connection.
pub struct NoiseReader {
    transport: Arc<StatelessTransportState>,
    nonce: u64,
    read: BufReader<OwnedReadHalf>,
    buf: Vec<u8>,
    plain: Vec<u8>,
}

impl NoiseReader {
    /// The next message; any error means the connection is unusable.
    pub async fn recv(&mut self) -> Result<Message, TransportError> {
        let len = read_frame(&mut self.read, &mut self.buf).await?;
        let n = self.transport.read_message(self.nonce, &self.buf[..len], &mut self.plain)?;
        self.nonce += 1;
        Ok(Message::decode(&self.plain[..n])?)
    }
}

/// The sending half of a connection. Messages are buffered until [`NoiseWriter::flush`], so a
/// burst shares TCP segments.
pub struct NoiseWriter {
    transport: Arc<StatelessTransportState>,
    nonce: u64,
    write: BufWriter<OwnedWriteHalf>,
    buf: Vec<u8>,
}

impl NoiseWriter {
    /// Encrypts and buffers one message.
    pub async fn send(&mut self, message: &Message) -> Result<(), TransportError> {
        self.send_encoded(&message.encode()).await
    }

    /// Encrypts and buffers an already encoded message (an outbox entry).
    pub async fn send_encoded(&mut self, plaintext: &[u8]) -> Result<(), TransportError> {
        if plaintext.len() > MAX_MESSAGE_LEN {
            return Err(TransportError::Wire(WireError::TooLong(plaintext.len())));
        }
        let n = self.transport.write_message(self.nonce, plaintext, &mut self.buf)?;
        self.nonce += 1;
        write_frame(&mut self.write, &self.buf[..n]).await
    }

    /// Writes what is buffered to the socket.
    pub async fn flush(&mut self) -> Result<(), TransportError> {
        self.write.flush().await?;
        Ok(())
    }

    /// Test hook: writes raw bytes on the socket, bypassing encryption.
    #[doc(hidden)]
    pub async fn send_raw_for_testing(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.write.write_all(bytes).await?;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loft_channels::wire::Hello;
    use tokio::net::TcpListener;

    fn domain() -> ChannelDomain {
        ChannelDomain::new(1337, Address::repeat_byte(0x42))
    }

    async fn pair(
        a: &NoiseIdentity,
        b: &NoiseIdentity,
        expected: Option<Address>,
    ) -> (Result<Connection, TransportError>, Result<Connection, TransportError>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let b = b.clone();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accept(stream, &b).await
        });
        let client = connect(TcpStream::connect(addr).await.unwrap(), a, expected).await;
        (client, server.await.unwrap())
    }

    #[tokio::test]
    async fn handshake_authenticates_both_addresses_and_carries_messages() {
        let ka = SigningKey::from_bytes(&[1; 32]).unwrap();
        let kb = SigningKey::from_bytes(&[2; 32]).unwrap();
        let (a, b) = (NoiseIdentity::new(&ka, domain()), NoiseIdentity::new(&kb, domain()));
        let (client, server) = pair(&a, &b, Some(kb.address())).await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        assert_eq!(client.peer, kb.address());
        assert_eq!(server.peer, ka.address());
        for i in 0..100 {
            client.writer.send(&Message::Ping(i)).await.unwrap();
        }
        client.writer.flush().await.unwrap();
        for i in 0..100 {
            assert_eq!(server.reader.recv().await.unwrap(), Message::Ping(i));
        }
        let hello = Message::Hello(Hello {
            version: 1,
            chain_id: 1337,
            manager: Address::ZERO,
            next_expected_seq: 1,
            features: 0,
        });
        server.writer.send(&hello).await.unwrap();
        server.writer.flush().await.unwrap();
        assert_eq!(client.reader.recv().await.unwrap(), hello);
    }

    #[tokio::test]
    async fn dialling_the_wrong_address_or_deployment_fails() {
        let ka = SigningKey::from_bytes(&[1; 32]).unwrap();
        let kb = SigningKey::from_bytes(&[2; 32]).unwrap();
        let (a, b) = (NoiseIdentity::new(&ka, domain()), NoiseIdentity::new(&kb, domain()));
        let (client, _) = pair(&a, &b, Some(Address::repeat_byte(7))).await;
        assert!(matches!(client, Err(TransportError::UnexpectedPeer { .. })));
        // Another chain: the prologues differ and the handshake fails.
        let other = NoiseIdentity::new(&kb, ChannelDomain::new(1, Address::repeat_byte(0x42)));
        let (client, server) = pair(&a, &other, None).await;
        assert!(client.is_err() || server.is_err());
    }

    #[tokio::test]
    async fn garbage_is_refused() {
        let kb = SigningKey::from_bytes(&[2; 32]).unwrap();
        let b = NoiseIdentity::new(&kb, domain());
        // Random bytes instead of a handshake.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let b2 = b.clone();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accept(stream, &b2).await
        });
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(&[0x00, 0x20]).await.unwrap();
        raw.write_all(&[0xab; 32]).await.unwrap();
        raw.write_all(&[0xff; 64]).await.unwrap();
        assert!(server.await.unwrap().is_err());

        // After a good handshake: a flipped ciphertext byte, then a bad length.
        let ka = SigningKey::from_bytes(&[1; 32]).unwrap();
        let a = NoiseIdentity::new(&ka, domain());
        let (client, server) = pair(&a, &b, None).await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        let ct = {
            let mut out = vec![0u8; MAX_FRAME];
            let n = client.writer.transport.write_message(0, &Message::Ping(1).encode(), &mut out).unwrap();
            out.truncate(n);
            out[3] ^= 1;
            out
        };
        let mut frame = (ct.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&ct);
        client.writer.send_raw_for_testing(&frame).await.unwrap();
        assert!(matches!(server.reader.recv().await, Err(TransportError::Noise(_))));

        let (client, server) = pair(&a, &b, None).await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        client.writer.send_raw_for_testing(&[0xff, 0xff]).await.unwrap();
        assert!(matches!(server.reader.recv().await, Err(TransportError::BadFrameLength(65535))));

        // An encrypted frame that is not a message.
        let (client, server) = pair(&a, &b, None).await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        client.writer.send_encoded(&[0x7f, 1, 2, 3]).await.unwrap();
        client.writer.flush().await.unwrap();
        assert!(matches!(
            server.reader.recv().await,
            Err(TransportError::Wire(WireError::UnknownType(0x7f)))
        ));
    }
}
