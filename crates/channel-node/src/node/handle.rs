//! The handle the API and the CLI drive a node with: each call is an [`Api`] message to the
//! core task and an answer on a oneshot channel.

use super::*;

pub(super) enum Api {
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

/// A handle to a running node.
#[derive(Clone)]
pub struct NodeHandle {
    pub(super) address: Address,
    pub(super) listen: SocketAddr,
    pub(super) events: mpsc::UnboundedSender<Event>,
    /// Opens and deposits go to L1 from the handle: they need no core state, and the core
    /// learns their outcome from the L1 watcher like any other channel event.
    pub(super) contracts: ChannelContracts,
    pub(super) deployment: ChannelDeployment,
    pub(super) mediation: MediationConfig,
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
