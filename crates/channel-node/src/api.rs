//! The node's JSON-RPC API (HTTP, on loopback by default) and its client. Amounts are wei as
//! decimal strings (JSON numbers lose precision above 2^53).
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `channel_info` | `[]` | the node's address, peer address, deployment, fee policy, L1 head |
//! | `channel_connect` | `[address, "host:port"]` | null once the Noise handshake is done |
//! | `channel_open` | `[{partner, token?, deposit, settleTimeout}]` | `{channel, tx, gasUsed}` once the node has seen it on L1 |
//! | `channel_deposit` | `[channel, total]` | `{tx, gasUsed}` |
//! | `channel_pay` | `[{to, amount, count?}]` | `{count, mediated, fee, route, elapsedMs}`: direct payments to a partner, each on both disks; to anyone else one payment along the cheapest route gossip knows (another tried when a hop fails) |
//! | `channel_route` | `[to, amount]` | the cheapest route: `[{node, policy}]`, or null |
//! | `channel_payRoute` | `[{route, amount}]` | `{fee, elapsedMs}`: a mediated payment along `route` |
//! | `channel_list` | `[]` | every channel with balances, locks and status |
//! | `channel_payments` | `[]` | the mediated payments we took part in |
//! | `channel_close` | `[channel, unilateral?]` | `{tx, gasUsed}` |
//! | `channel_settle` | `[channel]` | `{tx, gasUsed}` |

use std::{net::SocketAddr, time::Duration};

use alloy_primitives::{Address, B256};
use jsonrpsee::{
    RpcModule,
    core::client::ClientT,
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
    server::Server,
    types::ErrorObjectOwned,
};
use loft_channels::{
    ChannelStatus,
    route::{FeePolicy, RouteHop},
};
use serde::{Deserialize, Serialize};

use crate::{
    contracts::ChannelDeployment,
    node::{ChannelInfo, L1Receipt, NodeError, NodeHandle, PaymentRecord},
};

pub use jsonrpsee::server::ServerHandle;

/// The error code of a refused call (bad input, or the protocol's refusal).
pub const REFUSED: i32 = -32000;
/// The error code of a node failure (store, L1, stopped).
pub const FAILED: i32 = -32603;

/// Amounts as decimal strings: serialized with `Display`, parsed from a string (or a small
/// JSON number) with `FromStr`.
pub mod decimal {
    use std::{fmt::Display, str::FromStr};

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes `v` as a decimal string.
    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads a decimal string or a JSON number.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(u64),
        }
        let text = match Repr::deserialize(d)? {
            Repr::Text(t) => t,
            Repr::Number(n) => n.to_string(),
        };
        text.parse().map_err(|e| D::Error::custom(format!("amount {text:?}: {e}")))
    }
}

/// What `channel_info` answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// The node's address.
    pub address: Address,
    /// Where it accepts peers.
    pub listen: SocketAddr,
    /// The channel contracts.
    pub deployment: ChannelDeployment,
    /// What it charges to forward.
    pub policy: FeePolicyView,
    /// The newest L1 block it has seen.
    pub l1_head: u64,
}

/// A fee policy on the wire.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FeePolicyView {
    /// Flat fee per forwarded payment, in wei.
    #[serde(with = "decimal")]
    pub fee_flat: u128,
    /// Proportional fee in millionths.
    pub fee_ppm: u32,
    /// Blocks between the incoming and the outgoing lock's expiration.
    pub expiry_delta: u64,
}

impl From<FeePolicy> for FeePolicyView {
    fn from(p: FeePolicy) -> Self {
        Self { fee_flat: p.fee_flat, fee_ppm: p.fee_ppm, expiry_delta: p.expiry_delta }
    }
}

impl From<FeePolicyView> for FeePolicy {
    fn from(p: FeePolicyView) -> Self {
        Self { fee_flat: p.fee_flat, fee_ppm: p.fee_ppm, expiry_delta: p.expiry_delta }
    }
}

/// `channel_open`'s parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OpenRequest {
    /// The partner.
    pub partner: Address,
    /// The token (absent or zero: ETH).
    #[serde(default)]
    pub token: Address,
    /// Our deposit, in wei (or the token's base unit).
    #[serde(with = "decimal")]
    pub deposit: u128,
    /// Blocks between a unilateral close and settlement.
    pub settle_timeout: u64,
}

/// What `channel_open` answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Opened {
    /// The channel id.
    pub channel: u64,
    /// The opening transaction.
    pub tx: B256,
    /// Its gas.
    pub gas_used: u64,
}

/// An L1 transaction the node sent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TxView {
    /// Its hash.
    pub tx: B256,
    /// Its gas.
    pub gas_used: u64,
}

impl From<L1Receipt> for TxView {
    fn from(r: L1Receipt) -> Self {
        Self { tx: r.tx, gas_used: r.gas_used }
    }
}

/// `channel_pay`'s parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    /// The partner paid.
    pub to: Address,
    /// The amount of each payment.
    #[serde(with = "decimal")]
    pub amount: u128,
    /// How many payments (default 1), pipelined.
    #[serde(default = "one")]
    pub count: u64,
}

fn one() -> u64 {
    1
}

/// What `channel_pay` answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Paid {
    /// Payments made, each on the partner's disk.
    pub count: u64,
    /// Whether it went through mediators (`to` is not a partner), found by routing.
    #[serde(default)]
    pub mediated: bool,
    /// Fees paid to the mediators.
    #[serde(with = "decimal", default)]
    pub fee: u128,
    /// The route, when mediated: the nodes after us, the target last.
    #[serde(default)]
    pub route: Vec<Address>,
    /// From the first payment to the acknowledgement of the last, in milliseconds.
    pub elapsed_ms: f64,
}

/// One node of a route after the payer: a mediator with its fees, or (last) the target.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HopView {
    /// The node.
    pub node: Address,
    /// Its fee policy (ignored for the target).
    #[serde(default)]
    pub policy: FeePolicyView,
}

/// `channel_payRoute`'s parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PayRouteRequest {
    /// The nodes after us, the target last.
    pub route: Vec<HopView>,
    /// What the target gets.
    #[serde(with = "decimal")]
    pub amount: u128,
}

/// What `channel_payRoute` answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoutePaid {
    /// Fees paid to the mediators.
    #[serde(with = "decimal")]
    pub fee: u128,
    /// From the start to our unlock, in milliseconds.
    pub elapsed_ms: f64,
}

/// A channel as `channel_list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    /// The on-chain id.
    pub id: u64,
    /// The token (zero: ETH).
    pub token: Address,
    /// The partner.
    pub partner: Address,
    /// `opened`, `closing`, `closed` or `settled`.
    pub status: String,
    /// Closed: the last block of the settle period.
    pub settle_block: Option<u64>,
    /// Blocks between a unilateral close and settlement.
    pub settle_timeout: u64,
    /// Our total deposit.
    #[serde(with = "decimal")]
    pub our_deposit: u128,
    /// The partner's total deposit.
    #[serde(with = "decimal")]
    pub partner_deposit: u128,
    /// What we may still send.
    #[serde(with = "decimal")]
    pub our_balance: alloy_primitives::U256,
    /// What the partner may still send.
    #[serde(with = "decimal")]
    pub partner_balance: alloy_primitives::U256,
    /// Everything we paid the partner.
    #[serde(with = "decimal")]
    pub sent: u128,
    /// Everything the partner paid us.
    #[serde(with = "decimal")]
    pub received: u128,
    /// Our pending locks' sum.
    #[serde(with = "decimal")]
    pub our_locked: u128,
    /// The partner's pending locks' sum.
    #[serde(with = "decimal")]
    pub partner_locked: u128,
    /// The nonce of our newest proof.
    pub our_nonce: u64,
    /// The nonce of the partner's newest proof.
    pub partner_nonce: u64,
    /// Reliable messages to the partner not yet acknowledged.
    pub unacked: u64,
    /// The nonce of the partner's proof our watchtower holds (none: no watchtower, or no
    /// acknowledgement since the node started).
    pub watchtower_nonce: Option<u64>,
}

impl From<&ChannelInfo> for ChannelView {
    fn from(info: &ChannelInfo) -> Self {
        let c = &info.channel;
        let (status, settle_block) = match c.status {
            ChannelStatus::Opened => ("opened", None),
            ChannelStatus::Closing { .. } => ("closing", None),
            ChannelStatus::Closed { settle_block, .. } => ("closed", Some(settle_block)),
            ChannelStatus::Settled => ("settled", None),
        };
        Self {
            id: c.id,
            token: c.token,
            partner: c.partner,
            status: status.to_string(),
            settle_block,
            settle_timeout: c.settle_timeout,
            our_deposit: c.ours.deposit,
            partner_deposit: c.theirs.deposit,
            our_balance: c.our_distributable(),
            partner_balance: c.partner_distributable(),
            sent: c.ours.transferred(),
            received: c.theirs.transferred(),
            our_locked: c.ours.locked(),
            partner_locked: c.theirs.locked(),
            our_nonce: c.ours.nonce(),
            partner_nonce: c.theirs.nonce(),
            unacked: info.unacked,
            watchtower_nonce: info.watchtower_nonce,
        }
    }
}

fn error(e: NodeError) -> ErrorObjectOwned {
    let code = match e {
        NodeError::Store(_) | NodeError::Io(_) | NodeError::Stopped => FAILED,
        _ => REFUSED,
    };
    ErrorObjectOwned::owned(code, e.to_string(), None::<()>)
}

fn refused(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(REFUSED, message, None::<()>)
}

fn module(node: NodeHandle) -> Result<RpcModule<NodeHandle>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(node);
    m.register_async_method("channel_info", |_, node, _| async move {
        let l1_head = node.head().await.map_err(error)?;
        Ok::<_, ErrorObjectOwned>(NodeInfo {
            address: node.address(),
            listen: node.listen_addr(),
            deployment: *node.deployment(),
            policy: node.mediation().policy.into(),
            l1_head,
        })
    })?;
    m.register_async_method("channel_connect", |p, node, _| async move {
        let (peer, addr): (Address, String) = p.parse()?;
        let addr = tokio::net::lookup_host(&addr)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| refused(format!("{addr:?} is not a host:port")))?;
        node.connect(peer, addr).await.map_err(error)
    })?;
    m.register_async_method("channel_open", |p, node, _| async move {
        let (r,): (OpenRequest,) = p.parse()?;
        let (channel, receipt) =
            node.open(r.partner, r.token, r.deposit, r.settle_timeout).await.map_err(error)?;
        Ok::<_, ErrorObjectOwned>(Opened { channel, tx: receipt.tx, gas_used: receipt.gas_used })
    })?;
    m.register_async_method("channel_deposit", |p, node, _| async move {
        let (channel, total): (u64, DecimalU128) = p.parse()?;
        node.deposit(channel, total.0).await.map(TxView::from).map_err(error)
    })?;
    m.register_async_method("channel_pay", |p, node, _| async move {
        let (r,): (PayRequest,) = p.parse()?;
        if r.count == 0 {
            return Err(refused("count must be at least 1".into()));
        }
        let partner = node
            .channels()
            .await
            .map_err(error)?
            .iter()
            .any(|c| c.channel.partner == r.to && c.channel.status == ChannelStatus::Opened);
        let direct = |count, elapsed| Paid {
            count,
            mediated: false,
            fee: 0,
            route: Vec::new(),
            elapsed_ms: ms(elapsed),
        };
        if !partner && r.count == 1 {
            // Not a partner: the cheapest route gossip knows, another if a hop fails.
            let paid = node.pay_routed(r.to, r.amount).await.map_err(error)?;
            return Ok(Paid {
                count: 1,
                mediated: true,
                fee: paid.report.fee,
                route: paid.route,
                elapsed_ms: ms(paid.report.elapsed),
            });
        }
        if r.count == 1 {
            let started = std::time::Instant::now();
            node.pay(r.to, r.amount).await.map_err(error)?;
            return Ok(direct(1, started.elapsed()));
        }
        let report = node.pay_many(r.to, r.amount, r.count).await.map_err(error)?;
        Ok(direct(report.count, report.elapsed))
    })?;
    m.register_async_method("channel_route", |p, node, _| async move {
        let (to, amount): (Address, DecimalU128) = p.parse()?;
        let route = node.route(to, amount.0, &[]).await.map_err(error)?;
        Ok::<_, ErrorObjectOwned>(
            route.map(|r| {
                r.iter().map(|h| HopView { node: h.node, policy: h.policy.into() }).collect::<Vec<_>>()
            }),
        )
    })?;
    m.register_async_method("channel_payRoute", |p, node, _| async move {
        let (r,): (PayRouteRequest,) = p.parse()?;
        let route = r.route.iter().map(|h| RouteHop { node: h.node, policy: h.policy.into() }).collect();
        let report = node.pay_route(route, r.amount).await.map_err(error)?;
        Ok::<_, ErrorObjectOwned>(RoutePaid { fee: report.fee, elapsed_ms: ms(report.elapsed) })
    })?;
    m.register_async_method("channel_list", |_, node, _| async move {
        let channels = node.channels().await.map_err(error)?;
        Ok::<_, ErrorObjectOwned>(channels.iter().map(ChannelView::from).collect::<Vec<_>>())
    })?;
    m.register_async_method(
        "channel_payments",
        |_, node, _| async move { node.payments().await.map_err(error) },
    )?;
    m.register_async_method("channel_close", |p, node, _| async move {
        let mut params = p.sequence();
        let channel: u64 = params.next()?;
        let unilateral: Option<bool> = params.optional_next()?;
        let receipt = if unilateral.unwrap_or(false) {
            node.close_unilateral(channel).await
        } else {
            node.close(channel).await
        };
        receipt.map(TxView::from).map_err(error)
    })?;
    m.register_async_method("channel_settle", |p, node, _| async move {
        let (channel,): (u64,) = p.parse()?;
        node.settle(channel).await.map(TxView::from).map_err(error)
    })?;
    Ok(m)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `u128` parameter given as a decimal string.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct DecimalU128(#[serde(with = "decimal")] u128);

/// Serves the API on `addr`; returns the address it listens on and the server's handle.
pub async fn serve(node: NodeHandle, addr: SocketAddr) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let server = Server::builder().build(addr).await?;
    let bound = server.local_addr()?;
    let module = module(node).map_err(std::io::Error::other)?;
    Ok((bound, server.start(module)))
}

/// A client of a node's API.
#[derive(Clone, Debug)]
pub struct NodeClient {
    url: String,
    http: HttpClient,
}

/// A client failure, or the node's refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request got no answer.
    #[error("channel node at {url}: {message}")]
    Unreachable {
        /// The node's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The node refused or failed (its message).
    #[error("{message}")]
    Refused {
        /// The JSON-RPC error code.
        code: i32,
        /// Why.
        message: String,
    },
}

impl NodeClient {
    /// A client of the node at `url` (e.g. `http://127.0.0.1:7700`). Calls may take long
    /// (thousands of payments, an L1 transaction), so requests time out after ten minutes.
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let http = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(600))
            .build(url)
            .map_err(|e| ClientError::Unreachable { url: url.to_string(), message: e.to_string() })?;
        Ok(Self { url: url.to_string(), http })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<T, ClientError> {
        self.http.request(method, params).await.map_err(|e| match e {
            jsonrpsee::core::ClientError::Call(e) => {
                ClientError::Refused { code: e.code(), message: e.message().to_string() }
            }
            other => ClientError::Unreachable { url: self.url.clone(), message: other.to_string() },
        })
    }

    /// The node's identity, deployment, policy and L1 head.
    pub async fn info(&self) -> Result<NodeInfo, ClientError> {
        self.call("channel_info", rpc_params![]).await
    }

    /// Dials `peer` at `addr` (`host:port`).
    pub async fn connect(&self, peer: Address, addr: &str) -> Result<(), ClientError> {
        self.call("channel_connect", rpc_params![peer, addr]).await
    }

    /// Opens a channel.
    pub async fn open(&self, request: &OpenRequest) -> Result<Opened, ClientError> {
        self.call("channel_open", rpc_params![request]).await
    }

    /// Raises our total deposit in `channel` to `total`.
    pub async fn deposit(&self, channel: u64, total: u128) -> Result<TxView, ClientError> {
        self.call("channel_deposit", rpc_params![channel, DecimalU128(total)]).await
    }

    /// Direct payments.
    pub async fn pay(&self, request: &PayRequest) -> Result<Paid, ClientError> {
        self.call("channel_pay", rpc_params![request]).await
    }

    /// The cheapest route to `to` for `amount` the node knows.
    pub async fn route(&self, to: Address, amount: u128) -> Result<Option<Vec<HopView>>, ClientError> {
        self.call("channel_route", rpc_params![to, DecimalU128(amount)]).await
    }

    /// A mediated payment along a route.
    pub async fn pay_route(&self, request: &PayRouteRequest) -> Result<RoutePaid, ClientError> {
        self.call("channel_payRoute", rpc_params![request]).await
    }

    /// Every channel.
    pub async fn list(&self) -> Result<Vec<ChannelView>, ClientError> {
        self.call("channel_list", rpc_params![]).await
    }

    /// The mediated payments the node took part in.
    pub async fn payments(&self) -> Result<Vec<PaymentRecord>, ClientError> {
        self.call("channel_payments", rpc_params![]).await
    }

    /// Closes `channel` cooperatively, or alone (`unilateral`).
    pub async fn close(&self, channel: u64, unilateral: bool) -> Result<TxView, ClientError> {
        self.call("channel_close", rpc_params![channel, unilateral]).await
    }

    /// Settles a closed `channel` after its settle period.
    pub async fn settle(&self, channel: u64) -> Result<TxView, ClientError> {
        self.call("channel_settle", rpc_params![channel]).await
    }
}
