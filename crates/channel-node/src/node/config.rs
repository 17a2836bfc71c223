//! What a node is configured with and what it reports: its configuration, its errors, the
//! cheat hooks of adversarial tests, and the records its API returns.

use super::*;

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

/// Ways a node can be told to cheat, so that tests can show the others lose nothing. Only a
/// build with the `test-utils` feature (the crate's own tests) acts on them: elsewhere every
/// node is [`Misbehaviour::None`], whatever its configuration says.
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

/// An L1 transaction the node sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Receipt {
    /// Its hash.
    pub tx: B256,
    /// Its gas.
    pub gas_used: u64,
}

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

pub(super) fn l1_error(e: crate::contracts::ContractError) -> NodeError {
    NodeError::L1(e.to_string())
}
