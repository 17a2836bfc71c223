//! `loft channel ...`: the state-channel network. `node` runs a node (its key from a keystore,
//! its store on disk, peers over Noise/TCP, the JSON-RPC API on loopback); `watchtower` runs a
//! watchtower; `keygen` makes a keystore; the other commands talk to a running node's API.
//!
//! Amounts are in ether units (18 decimals: `0.5` is 5·10^17 wei; an ERC-20 channel counts the
//! token's smallest unit the same way), or in wei with a `wei` suffix.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{
    Address, U256,
    utils::{format_ether, parse_ether},
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use loft_channel_node::{
    api::{HopView, NodeClient, OpenRequest, PayRequest, PayRouteRequest, serve},
    contracts::ChannelDeployment,
    node::{MediationConfig, Node, NodeConfig},
    watchtower::{Watchtower, WatchtowerConfig},
};
use loft_channels::{SigningKey, route::FeePolicy};

/// Where `loft devnet` writes the channel deployment (the default of `--deployment`).
pub const DEFAULT_DEPLOYMENT: &str = "target/loft-devnet/channels.json";

/// `loft channel ...`.
#[derive(Subcommand, Debug)]
pub enum ChannelCommand {
    /// Run a channel node until Ctrl-C (or SIGTERM).
    Node(NodeArgs),
    /// Run a watchtower until Ctrl-C (or SIGTERM): it keeps its clients' partners' newest
    /// proofs and submits one when that partner closes, paying the gas from its own key.
    Watchtower(WatchtowerArgs),
    /// Make a new key in an encrypted keystore file (Web3 Secret Storage, scrypt).
    Keygen {
        /// The directory to write it in.
        #[arg(long, default_value = "target/loft-channels/keys")]
        dir: PathBuf,
        /// The file's name (default: its UUID).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        password: Password,
    },
    /// The node's address, peer address, contracts, fees and L1 head.
    Info(Api),
    /// Connect to a peer (Noise XX over TCP; the peer proves its address).
    Connect {
        #[command(flatten)]
        api: Api,
        /// The peer, as ADDRESS@HOST:PORT.
        peer: String,
    },
    /// Open a channel with a deposit (one L1 transaction; an ERC-20 is approved first).
    Open {
        #[command(flatten)]
        api: Api,
        /// The partner's address.
        #[arg(long)]
        partner: Address,
        /// Our deposit.
        #[arg(long)]
        deposit: String,
        /// An ERC-20 token (default: ETH).
        #[arg(long)]
        token: Option<Address>,
        /// Blocks between a unilateral close and settlement.
        #[arg(long, default_value_t = 500)]
        settle_timeout: u64,
    },
    /// Raise our total deposit in a channel.
    Deposit {
        #[command(flatten)]
        api: Api,
        /// The channel id.
        #[arg(long)]
        channel: u64,
        /// The new total deposit.
        #[arg(long)]
        total: String,
    },
    /// Pay: directly to a partner; to anyone else through mediators with hash locks, along
    /// the cheapest route gossip knows (or the one given with `--via`, in order).
    Pay {
        #[command(flatten)]
        api: Api,
        /// Who gets the payment.
        #[arg(long)]
        to: Address,
        /// What they get.
        #[arg(long)]
        amount: String,
        /// Direct only: make this many payments of `amount`, pipelined.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// A mediator, as ADDRESS[:FEE_FLAT:FEE_PPM:EXPIRY_DELTA] (its published fee policy;
        /// default no fee and a 100-block delta); repeat for each hop, in order.
        #[arg(long)]
        via: Vec<String>,
    },
    /// The cheapest route to a node for an amount, from our channels and gossip.
    Route {
        #[command(flatten)]
        api: Api,
        /// The target.
        #[arg(long)]
        to: Address,
        /// What it should get.
        #[arg(long)]
        amount: String,
    },
    /// The node's channels with their balances.
    List(Api),
    /// The mediated payments the node sent, received or forwarded.
    Payments(Api),
    /// Close a channel: cooperatively (both sign, one L1 transaction pays both), or alone
    /// with the partner's newest balance proof (`--unilateral`; the settle period starts).
    Close {
        #[command(flatten)]
        api: Api,
        /// The channel id.
        #[arg(long)]
        channel: u64,
        /// Close without the partner.
        #[arg(long)]
        unilateral: bool,
    },
    /// Settle a closed channel after its settle period (the node also does so by itself).
    Settle {
        #[command(flatten)]
        api: Api,
        /// The channel id.
        #[arg(long)]
        channel: u64,
    },
}

/// How a command reaches the node.
#[derive(Args, Debug, Clone)]
pub struct Api {
    /// The node's API.
    #[arg(long = "api", env = "LOFT_CHANNEL_API", default_value = "http://127.0.0.1:7700")]
    url: String,
    /// Print the API's JSON answer instead of a summary.
    #[arg(long)]
    json: bool,
}

/// A keystore's password.
#[derive(Args, Debug, Clone)]
pub struct Password {
    /// A file holding the keystore's password (its first line).
    #[arg(long)]
    password_file: Option<PathBuf>,
}

impl Password {
    fn read(&self) -> anyhow::Result<String> {
        if let Some(path) = &self.password_file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            return Ok(text.lines().next().unwrap_or_default().to_string());
        }
        std::env::var("LOFT_KEYSTORE_PASSWORD")
            .context("give the keystore's password with --password-file or LOFT_KEYSTORE_PASSWORD")
    }
}

/// Where a node or watchtower gets its key.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// An encrypted keystore file (see `loft channel keygen`).
    #[arg(long, conflicts_with_all = ["private_key", "dev_account"])]
    keystore: Option<PathBuf>,
    #[command(flatten)]
    password: Password,
    /// The key in hex (development only: prefer a keystore).
    #[arg(long, env = "LOFT_CHANNEL_KEY", conflicts_with = "dev_account")]
    private_key: Option<String>,
    /// Use the devnet's dev account N as the key.
    #[arg(long)]
    dev_account: Option<u32>,
}

impl KeyArgs {
    fn key(&self) -> anyhow::Result<SigningKey> {
        let signer = match (&self.keystore, &self.private_key, self.dev_account) {
            (Some(path), _, _) => {
                let password = self.password.read()?;
                PrivateKeySigner::decrypt_keystore(path, password).with_context(|| {
                    format!("cannot open the keystore {} (wrong password?)", path.display())
                })?
            }
            (None, Some(hex), _) => hex.parse().context("--private-key is not a valid secp256k1 key")?,
            (None, None, Some(n)) => loft_l1::dev_signers(n + 1)?.remove(n as usize),
            (None, None, None) => bail!("give the key: --keystore FILE (or --private-key, --dev-account N)"),
        };
        SigningKey::from_bytes(&signer.to_bytes().0).context("the key is not a valid secp256k1 key")
    }
}

/// What a node and a watchtower both need: a key, a store, the L1 and its contracts.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The store (default: target/loft-channels/ADDRESS, or watchtower-ADDRESS).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The L1's JSON-RPC.
    #[arg(long, env = "LOFT_L1_RPC", default_value = "http://127.0.0.1:8545")]
    l1_rpc: String,
    /// The channel deployment record (written by `loft devnet`).
    #[arg(long, default_value = DEFAULT_DEPLOYMENT)]
    deployment: PathBuf,
    /// How often to poll L1, in milliseconds.
    #[arg(long, default_value_t = 250)]
    l1_poll_ms: u64,
}

/// A service's key, deployment and store, resolved.
struct Service {
    key: SigningKey,
    deployment: ChannelDeployment,
    data_dir: PathBuf,
    l1_poll: Duration,
}

impl ServiceArgs {
    fn resolve(&self, dir_prefix: &str) -> anyhow::Result<Service> {
        let key = self.key.key()?;
        let deployment = ChannelDeployment::load(&self.deployment).with_context(|| {
            format!("reading the channel deployment {} (run `loft devnet` first)", self.deployment.display())
        })?;
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("target/loft-channels/{dir_prefix}{}", key.address())));
        Ok(Service { key, deployment, data_dir, l1_poll: Duration::from_millis(self.l1_poll_ms.max(10)) })
    }
}

/// Options of `loft channel watchtower`.
#[derive(Args, Debug)]
pub struct WatchtowerArgs {
    /// Where clients connect.
    #[arg(long, default_value = "127.0.0.1:7900")]
    listen: SocketAddr,
    #[command(flatten)]
    service: ServiceArgs,
}

/// Options of `loft channel node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Where peers connect.
    #[arg(long, default_value = "127.0.0.1:7800")]
    listen: SocketAddr,
    /// Where the JSON-RPC API listens (keep it on loopback: it spends the node's funds).
    #[arg(long, default_value = "127.0.0.1:7700")]
    api: SocketAddr,
    #[command(flatten)]
    service: ServiceArgs,
    /// Flat fee to forward a payment.
    #[arg(long, default_value = "0")]
    fee_flat: String,
    /// Proportional fee to forward a payment, in millionths.
    #[arg(long, default_value_t = 0)]
    fee_ppm: u32,
    /// Blocks we need between an incoming and the outgoing lock's expiration.
    #[arg(long, default_value_t = MediationConfig::default().policy.expiry_delta)]
    expiry_delta: u64,
    /// A lock must leave at least this many blocks to learn and use its secret.
    #[arg(long, default_value_t = MediationConfig::default().reveal_timeout)]
    reveal_timeout: u64,
    /// Peers to connect to at start, as ADDRESS@HOST:PORT.
    #[arg(long)]
    peer: Vec<String>,
    /// A watchtower, as ADDRESS@HOST:PORT: it gets every partner's newest proof, to submit
    /// if the partner closes while this node is offline.
    #[arg(long)]
    watchtower: Option<String>,
    /// Blocks an L1 event must be below the head before the node acts on it, so that an open
    /// or deposit a reorg removes never counts (default: 0 on a dev chain, chain id 31337,
    /// which mines only for transactions; 5 elsewhere).
    #[arg(long)]
    l1_confirmations: Option<u64>,
}

/// The chain id of `loft devnet` (and anvil).
const DEV_CHAIN_ID: u64 = 31337;

pub async fn run(command: ChannelCommand) -> anyhow::Result<()> {
    match command {
        ChannelCommand::Node(args) => run_node(args).await,
        ChannelCommand::Watchtower(args) => run_watchtower(args).await,
        ChannelCommand::Keygen { dir, name, password } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let password = password.read()?;
            let key = PrivateKeySigner::random();
            let (signer, uuid) = PrivateKeySigner::encrypt_keystore(
                &dir,
                &mut rand08::thread_rng(),
                key.to_bytes(),
                password,
                name.as_deref(),
            )
            .context("writing the keystore")?;
            let file = dir.join(name.unwrap_or(uuid));
            println!("address   {}", signer.address());
            println!("keystore  {}", file.display());
            Ok(())
        }
        ChannelCommand::Info(api) => {
            let info = client(&api)?.info().await?;
            if api.json {
                return print_json(&info);
            }
            println!("address      {}", info.address);
            println!("peers        {}", info.listen);
            println!(
                "contracts    ChannelManager {} on chain {}",
                info.deployment.channel_manager, info.deployment.chain_id
            );
            println!(
                "fees         {} + {} ppm, expiry delta {} blocks",
                eth(info.policy.fee_flat),
                info.policy.fee_ppm,
                info.policy.expiry_delta
            );
            println!("L1 head      {}", info.l1_head);
            Ok(())
        }
        ChannelCommand::Connect { api, peer } => {
            let (address, at) = parse_peer(&peer)?;
            client(&api)?.connect(address, at).await?;
            println!("connected to {address} at {at}");
            Ok(())
        }
        ChannelCommand::Open { api, partner, deposit, token, settle_timeout } => {
            let request = OpenRequest {
                partner,
                token: token.unwrap_or(Address::ZERO),
                deposit: wei(&deposit)?,
                settle_timeout,
            };
            let opened = client(&api)?.open(&request).await?;
            if api.json {
                return print_json(&opened);
            }
            println!(
                "channel {} with {partner} opened with {} (tx {}, {} gas)",
                opened.channel,
                eth(request.deposit),
                opened.tx,
                opened.gas_used
            );
            Ok(())
        }
        ChannelCommand::Deposit { api, channel, total } => {
            let total = wei(&total)?;
            let tx = client(&api)?.deposit(channel, total).await?;
            if api.json {
                return print_json(&tx);
            }
            println!("channel {channel}: our deposit is {} (tx {}, {} gas)", eth(total), tx.tx, tx.gas_used);
            Ok(())
        }
        ChannelCommand::Pay { api, to, amount, count, via } => {
            let amount = wei(&amount)?;
            let node = client(&api)?;
            if via.is_empty() {
                let paid = node.pay(&PayRequest { to, amount, count }).await?;
                if api.json {
                    return print_json(&paid);
                }
                if paid.mediated {
                    let route = paid.route.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" -> ");
                    println!(
                        "paid {to} {} along {route} for {} in fees, in {:.1} ms",
                        eth(amount),
                        eth(paid.fee),
                        paid.elapsed_ms
                    );
                    return Ok(());
                }
                let rate = paid.count as f64 / (paid.elapsed_ms / 1000.0).max(1e-9);
                println!(
                    "paid {to} {} x {} in {:.1} ms ({rate:.0} payments/s), each on both disks",
                    paid.count,
                    eth(amount),
                    paid.elapsed_ms
                );
                return Ok(());
            }
            if count != 1 {
                bail!("--count is for direct payments; a mediated payment is made once");
            }
            let mut route = via.iter().map(|h| parse_hop(h)).collect::<anyhow::Result<Vec<_>>>()?;
            route.push(HopView { node: to, policy: Default::default() });
            let paid = node.pay_route(&PayRouteRequest { route, amount }).await?;
            if api.json {
                return print_json(&paid);
            }
            println!(
                "paid {to} {} through {} mediator(s) for {} in fees, in {:.1} ms",
                eth(amount),
                via.len(),
                eth(paid.fee),
                paid.elapsed_ms
            );
            Ok(())
        }
        ChannelCommand::Route { api, to, amount } => {
            let amount = wei(&amount)?;
            let route = client(&api)?.route(to, amount).await?;
            if api.json {
                return print_json(&route);
            }
            let Some(route) = route else {
                println!("no route to {to} with capacity for {}", eth(amount));
                return Ok(());
            };
            let hops = loft_channels::route::plan(
                amount,
                0,
                0,
                &route
                    .iter()
                    .map(|h| loft_channels::route::RouteHop { node: h.node, policy: h.policy.into() })
                    .collect::<Vec<_>>(),
            )?;
            println!("{} hop(s), {} in fees:", route.len(), eth(hops.fees(amount)));
            for (i, h) in route.iter().enumerate() {
                if i + 1 == route.len() {
                    println!("  {}  (target)", h.node);
                } else {
                    println!(
                        "  {}  fee {} + {} ppm, expiry delta {}",
                        h.node,
                        eth(h.policy.fee_flat),
                        h.policy.fee_ppm,
                        h.policy.expiry_delta
                    );
                }
            }
            Ok(())
        }
        ChannelCommand::List(api) => {
            let channels = client(&api)?.list().await?;
            if api.json {
                return print_json(&channels);
            }
            if channels.is_empty() {
                println!("no channels");
            }
            for c in channels {
                let token = if c.token == Address::ZERO { "ETH".to_string() } else { c.token.to_string() };
                let settle =
                    c.settle_block.map(|b| format!(" (settleable after block {b})")).unwrap_or_default();
                println!("channel {} with {} in {token}: {}{settle}", c.id, c.partner, c.status);
                let side = |who: &str, deposit, balance, sent, locked, nonce| {
                    println!(
                        "  {who:<8} deposit {}, may send {} ETH, sent {}, locked {}, nonce {nonce}",
                        eth(deposit),
                        ether(balance),
                        eth(sent),
                        eth(locked)
                    )
                };
                side("ours", c.our_deposit, c.our_balance, c.sent, c.our_locked, c.our_nonce);
                side(
                    "partner",
                    c.partner_deposit,
                    c.partner_balance,
                    c.received,
                    c.partner_locked,
                    c.partner_nonce,
                );
                if let Some(nonce) = c.watchtower_nonce {
                    println!("  watchtower holds the partner's proof up to nonce {nonce}");
                }
            }
            Ok(())
        }
        ChannelCommand::Payments(api) => {
            let payments = client(&api)?.payments().await?;
            if api.json {
                return print_json(&payments);
            }
            if payments.is_empty() {
                println!("no mediated payments");
            }
            for p in payments {
                println!(
                    "{} {:?} {:?} {} fee {} with {} (block {})",
                    p.secrethash,
                    p.role,
                    p.status,
                    eth(p.amount),
                    eth(p.fee),
                    p.counterparty,
                    p.block
                );
            }
            Ok(())
        }
        ChannelCommand::Close { api, channel, unilateral } => {
            let tx = client(&api)?.close(channel, unilateral).await?;
            if api.json {
                return print_json(&tx);
            }
            let how = if unilateral { "closed alone; the settle period runs" } else { "closed and settled" };
            println!("channel {channel} {how} (tx {}, {} gas)", tx.tx, tx.gas_used);
            Ok(())
        }
        ChannelCommand::Settle { api, channel } => {
            let tx = client(&api)?.settle(channel).await?;
            if api.json {
                return print_json(&tx);
            }
            println!("channel {channel} settled (tx {}, {} gas)", tx.tx, tx.gas_used);
            Ok(())
        }
    }
}

async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let Service { key, deployment, data_dir, l1_poll } = args.service.resolve("")?;
    let watchtower = match &args.watchtower {
        Some(t) => Some(resolve_peer(t).await?),
        None => None,
    };
    let mediation = MediationConfig {
        policy: FeePolicy {
            fee_flat: wei(&args.fee_flat)?,
            fee_ppm: args.fee_ppm,
            expiry_delta: args.expiry_delta,
        },
        reveal_timeout: args.reveal_timeout,
        ..MediationConfig::default()
    };
    let l1_confirmations =
        args.l1_confirmations.unwrap_or(if deployment.domain().chain_id() == DEV_CHAIN_ID { 0 } else { 5 });
    let node = Node::start(NodeConfig {
        listen: args.listen,
        l1_poll,
        l1_confirmations,
        mediation,
        watchtower,
        ..NodeConfig::new(key, deployment, data_dir.clone(), &args.service.l1_rpc)
    })
    .await
    .context("starting the channel node")?;
    let handle = node.handle();
    let (api, server) =
        serve(handle.clone(), args.api).await.with_context(|| format!("serving the API on {}", args.api))?;
    println!("channel node {}", handle.address());
    println!("  peers      {}", handle.listen_addr());
    println!("  api        http://{api}");
    println!("  store      {}", data_dir.display());
    println!(
        "  L1         {} (ChannelManager {}, acting on events {l1_confirmations} block(s) deep)",
        args.service.l1_rpc, deployment.channel_manager
    );
    for peer in &args.peer {
        let (address, addr) = resolve_peer(peer).await?;
        match handle.connect(address, addr).await {
            Ok(()) => println!("  connected  {address} at {addr}"),
            // the peer may start later: it dials us, or a later `loft channel connect` does
            Err(e) => println!("  peer       {address} at {addr} not reached: {e}"),
        }
    }
    println!("ready");
    wait_for_stop().await?;
    println!("stopping");
    let _ = server.stop();
    node.shutdown().await;
    Ok(())
}

async fn run_watchtower(args: WatchtowerArgs) -> anyhow::Result<()> {
    let Service { key, deployment, data_dir, l1_poll } = args.service.resolve("watchtower-")?;
    let tower = Watchtower::start(WatchtowerConfig {
        key,
        deployment,
        data_dir: data_dir.clone(),
        listen: args.listen,
        l1_url: args.service.l1_rpc.clone(),
        l1_poll,
    })
    .await
    .context("starting the watchtower")?;
    println!("watchtower {}", tower.address());
    println!("  clients    {}@{} (loft channel node --watchtower ...)", tower.address(), tower.listen_addr());
    println!("  store      {}", data_dir.display());
    println!("  monitors   {} channel(s)", tower.monitored().len());
    println!("  L1         {} (ChannelManager {})", args.service.l1_rpc, deployment.channel_manager);
    println!("ready");
    wait_for_stop().await?;
    println!("stopping");
    tower.shutdown().await;
    Ok(())
}

async fn wait_for_stop() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

/// `ADDRESS@HOST:PORT` with the host resolved.
async fn resolve_peer(text: &str) -> anyhow::Result<(Address, SocketAddr)> {
    let (address, at) = parse_peer(text)?;
    let addr = tokio::net::lookup_host(at).await?.next().with_context(|| format!("{at}: no address"))?;
    Ok((address, addr))
}

fn client(api: &Api) -> anyhow::Result<NodeClient> {
    Ok(NodeClient::new(&api.url)?)
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `ADDRESS@HOST:PORT`.
fn parse_peer(text: &str) -> anyhow::Result<(Address, &str)> {
    let (address, at) = text.split_once('@').with_context(|| format!("{text:?} is not ADDRESS@HOST:PORT"))?;
    let address = address.parse().with_context(|| format!("{address:?} is not an address"))?;
    Ok((address, at))
}

/// `ADDRESS[:FEE_FLAT:FEE_PPM:EXPIRY_DELTA]`.
fn parse_hop(text: &str) -> anyhow::Result<HopView> {
    let mut parts = text.split(':');
    let node = parts.next().unwrap_or_default();
    let node = node.parse().with_context(|| format!("{node:?} is not an address"))?;
    let default = MediationConfig::default().policy;
    let mut policy = loft_channel_node::api::FeePolicyView::from(default);
    let rest: Vec<&str> = parts.collect();
    match rest.as_slice() {
        [] => {}
        [flat, ppm, delta] => {
            policy.fee_flat = wei(flat)?;
            policy.fee_ppm = ppm.parse().with_context(|| format!("{ppm:?} is not a fee in ppm"))?;
            policy.expiry_delta = delta.parse().with_context(|| format!("{delta:?} is not a block count"))?;
        }
        _ => bail!("{text:?} is not ADDRESS[:FEE_FLAT:FEE_PPM:EXPIRY_DELTA]"),
    }
    Ok(HopView { node, policy })
}

/// An amount in ether units, or in wei with a `wei` suffix.
fn wei(text: &str) -> anyhow::Result<u128> {
    let v: U256 = match text.strip_suffix("wei") {
        Some(w) => w.trim().parse().with_context(|| format!("{text:?} is not an amount of wei"))?,
        None => {
            parse_ether(text).with_context(|| format!("{text:?} is not an amount (e.g. 1.5, or 100wei)"))?
        }
    };
    u128::try_from(v).context("amount too large")
}

fn eth(v: u128) -> String {
    format!("{} ETH", ether(U256::from(v)))
}

/// `v` wei in ether, without trailing zeros.
fn ether(v: U256) -> String {
    let text = format_ether(v);
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_hops_and_peers_parse_or_say_why() {
        assert_eq!(wei("1.5").expect("ether"), 1_500_000_000_000_000_000);
        assert_eq!(wei("42wei").expect("wei"), 42);
        assert!(wei("-1").is_err());
        assert!(wei("lots").is_err());
        assert_eq!(eth(1_500_000_000_000_000_000), "1.5 ETH");
        assert_eq!(eth(0), "0 ETH");
        assert_eq!(eth(2_000_000_000_000_000_000), "2 ETH");
        let a = Address::repeat_byte(0xab);
        let hop = parse_hop(&format!("{a}:0.001:250:40")).expect("hop");
        assert_eq!(
            (hop.node, hop.policy.fee_flat, hop.policy.fee_ppm, hop.policy.expiry_delta),
            (a, 1_000_000_000_000_000, 250, 40)
        );
        assert_eq!(parse_hop(&a.to_string()).expect("hop").policy.expiry_delta, 100);
        assert!(parse_hop(&format!("{a}:1:2")).is_err());
        assert!(parse_hop("nobody").is_err());
        assert_eq!(parse_peer(&format!("{a}@127.0.0.1:7800")).expect("peer"), (a, "127.0.0.1:7800"));
        assert!(parse_peer("127.0.0.1:7800").is_err());
    }
}
