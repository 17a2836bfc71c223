//! `loft zk ...`: the ZK rollup. `operator` runs the operator (deploying the rollup on first
//! start); `deposit`, `register`, `transfer`, `withdraw`, `status` are a person's side of it;
//! `exit` takes a user's funds out through exodus mode, from L1 alone, when the operator has
//! stopped serving the priority queue.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{
    Address, U256,
    aliases::U24,
    utils::{format_ether, format_units, parse_ether, parse_units},
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use loft_l1::{L1Client, contracts::LoftToken};
use loft_zk::amount::{AMOUNT, FEE};
use loft_zk_node::{
    api::OperatorClient,
    contracts::{Deployment, RollupConfig, ZkRollup, add_token},
    keys::RollupKeys,
    operator::OperatorConfig,
    service::{self, Recorded},
    wallet,
};

/// Where the operator keeps its record, keys and deployment by default.
pub const DEFAULT_DIR: &str = "target/loft-zk";

/// How a person reaches the rollup.
#[derive(Args, Debug, Clone)]
pub struct Endpoints {
    /// The operator's JSON-RPC.
    #[arg(long, env = "LOFT_ZK_OPERATOR", default_value = "http://127.0.0.1:7545")]
    operator: String,
    /// The L1's JSON-RPC.
    #[arg(long, env = "LOFT_L1_RPC", default_value = "http://127.0.0.1:8545")]
    l1_rpc: String,
    /// The deployment record (read when the operator does not answer, as in exodus).
    #[arg(long, default_value = "target/loft-zk/zk.json")]
    deployment: PathBuf,
    /// The signing key (default: dev account 1).
    #[arg(long, env = "LOFT_PRIVATE_KEY")]
    private_key: Option<String>,
}

/// Options of `loft zk operator`.
#[derive(Args, Debug, Clone)]
pub struct OperatorArgs {
    /// The L1's JSON-RPC.
    #[arg(long, env = "LOFT_L1_RPC", default_value = "http://127.0.0.1:8545")]
    pub l1_rpc: String,
    /// The operator's key (default: dev account 0).
    #[arg(long, env = "LOFT_PRIVATE_KEY")]
    pub private_key: Option<String>,
    /// Record, keys and deployment live here.
    #[arg(long, default_value = DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Address of the JSON-RPC API.
    #[arg(long, default_value = "127.0.0.1:7545")]
    pub listen: SocketAddr,
    /// Seal a block at the latest this long after its first operation (seconds).
    #[arg(long, default_value_t = 2.0)]
    pub block_time: f64,
    /// L1 confirmations before a priority request is taken.
    #[arg(long, default_value_t = 0)]
    pub l1_confirmations: u64,
    /// The block circuit's proving key (an MPC ceremony's output); default: the devnet's
    /// deterministic setup, cached in the data directory.
    #[arg(long, requires = "exit_keys")]
    pub block_keys: Option<PathBuf>,
    /// The exit circuit's proving key.
    #[arg(long, requires = "block_keys")]
    pub exit_keys: Option<PathBuf>,
    /// Wide slots per block (deposits, withdrawals, exits, key changes, transfers to new).
    #[arg(long, default_value_t = 2)]
    pub wide: usize,
    /// Transfer slots per block.
    #[arg(long, default_value_t = 4)]
    pub transfers: usize,
    /// Account tree depth.
    #[arg(long, default_value_t = 24)]
    pub account_depth: usize,
    /// Balance tree depth (2^depth token slots in every account).
    #[arg(long, default_value_t = 3)]
    pub balance_depth: usize,
    /// L1 blocks a priority request may wait, past its place in the queue, before anyone can
    /// freeze the rollup.
    #[arg(long, default_value_t = 600)]
    pub priority_expiration: u64,
    /// The operator's capacity: L1 blocks it needs to prove and land a block (each serving
    /// up to `--wide` priority requests). A request's deadline counts the queue ahead of it at
    /// this rate, so a flood of requests can not force exodus on an operator that keeps it.
    #[arg(long, default_value_t = 10)]
    pub block_interval: u64,
    /// An ERC-20 token to register in the rollup (the operator is its governor); repeat for
    /// more. Tokens registered before are kept.
    #[arg(long = "token")]
    pub tokens: Vec<Address>,
}

/// `loft zk` commands.
#[derive(Subcommand, Debug)]
pub enum ZkCommand {
    /// Runs the operator (deploys the rollup on first start).
    Operator(OperatorArgs),
    /// Deposits ETH or a registered ERC-20 from L1 (a priority request the operator must
    /// serve).
    Deposit {
        #[command(flatten)]
        at: Endpoints,
        /// Amount in ETH (or in the token's units, e.g. 2.5).
        amount: String,
        /// The ERC-20 token (default: ETH); approved for the amount, then pulled.
        #[arg(long)]
        token: Option<Address>,
        /// L2 owner (default: the signer).
        #[arg(long)]
        to: Option<Address>,
    },
    /// Registers the L2 key derived from the signer's Ethereum key (change-key).
    Register {
        #[command(flatten)]
        at: Endpoints,
    },
    /// Transfers ETH or a registered ERC-20 on L2.
    Transfer {
        #[command(flatten)]
        at: Endpoints,
        /// Amount (rounded down to what the public data can carry).
        amount: String,
        /// Recipient address (its account is opened if it has none).
        #[arg(long)]
        to: Address,
        /// The ERC-20 token (default: ETH).
        #[arg(long)]
        token: Option<Address>,
        /// Fee, in the transferred asset (rounded up).
        #[arg(long, default_value = "0.00001")]
        fee: String,
    },
    /// Withdraws ETH or a registered ERC-20 to L1: waits until L1 executed the block, then
    /// pays it out.
    Withdraw {
        #[command(flatten)]
        at: Endpoints,
        /// Amount.
        amount: String,
        /// The ERC-20 token (default: ETH).
        #[arg(long)]
        token: Option<Address>,
        /// L1 recipient (default: the signer).
        #[arg(long)]
        to: Option<Address>,
        /// Fee, in the withdrawn asset (rounded up).
        #[arg(long, default_value = "0.00001")]
        fee: String,
    },
    /// The operator's blocks and the signer's account.
    Status {
        #[command(flatten)]
        at: Endpoints,
    },
    /// Exodus: freezes the rollup if a priority request is overdue, refunds the deposits
    /// L1 never executed, rebuilds the state from L1 alone, proves the signer's balance of
    /// every asset it holds and takes it all out on L1.
    Exit {
        #[command(flatten)]
        at: Endpoints,
        /// Where the exit circuit's proving key is cached (or --exit-keys).
        #[arg(long, default_value = DEFAULT_DIR)]
        data_dir: PathBuf,
        /// The exit circuit's proving key file.
        #[arg(long)]
        exit_keys: Option<PathBuf>,
    },
}

fn signer(key: &Option<String>, default: u32) -> anyhow::Result<PrivateKeySigner> {
    match key {
        Some(k) => k.parse().context("--private-key is not a valid secp256k1 key"),
        None => Ok(loft_l1::dev_signers(default + 1)?.remove(default as usize)),
    }
}

fn wei(text: &str) -> anyhow::Result<u128> {
    let v: U256 = parse_ether(text).with_context(|| format!("{text:?} is not an amount (e.g. 1.5)"))?;
    u128::try_from(v).context("amount too large")
}

fn eth(v: u128) -> String {
    format_ether(U256::from(v))
}

/// What an amount is counted in: ETH (token id 0) or a registered ERC-20.
struct Asset {
    id: u64,
    token: Option<Address>,
    decimals: u8,
    symbol: String,
}

impl Asset {
    fn eth() -> Self {
        Self { id: 0, token: None, decimals: 18, symbol: "ETH".into() }
    }

    /// The asset `token` (ETH when `None`), checked to be registered in the rollup.
    async fn of(l1: &L1Client, d: &Deployment, token: Option<Address>) -> anyhow::Result<Self> {
        let Some(token) = token else { return Ok(Self::eth()) };
        let id = wallet::token_id(l1, d, token).await?.with_context(|| {
            format!("{token} is not registered in the rollup (the operator registers tokens: --token)")
        })?;
        Self::registered(l1, id, token).await
    }

    /// The registered token `token` of id `id`.
    async fn registered(l1: &L1Client, id: u64, token: Address) -> anyhow::Result<Self> {
        let erc20 = LoftToken::new(token, l1.provider().clone());
        let decimals = erc20.decimals().call().await.with_context(|| format!("{token} is not an ERC-20"))?;
        let symbol = erc20.symbol().call().await.unwrap_or_else(|_| format!("token{id}"));
        Ok(Self { id, token: Some(token), decimals, symbol })
    }

    /// Every asset of the rollup: ETH, then the registered tokens.
    async fn all(l1: &L1Client, d: &Deployment) -> anyhow::Result<Vec<Self>> {
        let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
        let mut all = vec![Self::eth()];
        for id in 1..=rollup.tokenCount().call().await? {
            let token = rollup.tokenAddresses(id).call().await?;
            all.push(Self::registered(l1, u64::from(id), token).await?);
        }
        Ok(all)
    }

    /// `text` (e.g. "2.5") in the asset's smallest unit.
    fn parse(&self, text: &str) -> anyhow::Result<u128> {
        let v = parse_units(text, self.decimals)
            .with_context(|| format!("{text:?} is not an amount of {} (e.g. 1.5)", self.symbol))?;
        u128::try_from(v.get_absolute()).context("amount too large")
    }

    /// `v` smallest units, with the symbol.
    fn show(&self, v: u128) -> String {
        let units = format_units(U256::from(v), self.decimals).unwrap_or_else(|_| v.to_string());
        format!("{units} {}", self.symbol)
    }
}

struct Session {
    signer: PrivateKeySigner,
    l1: L1Client,
    api: OperatorClient,
    deployment: Deployment,
}

async fn connect(at: &Endpoints) -> anyhow::Result<Session> {
    let signer = signer(&at.private_key, 1)?;
    let l1 = L1Client::connect(&at.l1_rpc, signer.clone()).await?;
    let api = OperatorClient::new(&at.operator);
    let deployment = match api.deployment().await {
        Ok(d) => d,
        Err(e) => Deployment::load(&at.deployment).with_context(|| {
            format!("the operator ({e}) nor {} tell where the rollup is", at.deployment.display())
        })?,
    };
    Ok(Session { signer, l1, api, deployment })
}

/// Runs one `loft zk` command.
pub async fn run(command: ZkCommand) -> anyhow::Result<()> {
    match command {
        ZkCommand::Operator(args) => {
            let running = start_operator(&args).await?;
            println!("ready; Ctrl-C to stop");
            tokio::select! {
                r = running.task => r??,
                _ = tokio::signal::ctrl_c() => println!("stopping"),
            }
            Ok(())
        }
        ZkCommand::Deposit { at, amount, token, to } => {
            let s = connect(&at).await?;
            let asset = Asset::of(&s.l1, &s.deployment, token).await?;
            let to = to.unwrap_or(s.signer.address());
            let value = asset.parse(&amount)?;
            let tx = match asset.token {
                None => {
                    let rollup = ZkRollup::new(s.deployment.rollup, s.l1.provider().clone());
                    let receipt =
                        rollup.depositETH(to).value(U256::from(value)).send().await?.get_receipt().await?;
                    if !receipt.status() {
                        bail!("the deposit reverted");
                    }
                    receipt.transaction_hash
                }
                Some(token) => wallet::deposit_erc20(&s.l1, &s.deployment, token, value, to).await?,
            };
            println!("deposited {} for {to} (L1 tx {tx})", asset.show(value));
            println!("the operator credits it in its next block");
            Ok(())
        }
        ZkCommand::Register { at } => {
            let s = connect(&at).await?;
            let account =
                s.api.account(s.signer.address()).await?.context("no L2 account yet: deposit first")?;
            let key = wallet::derive_l2_key(&s.signer, &s.deployment).await?;
            let op = wallet::change_key(&s.signer, &s.deployment, account.index, &key, account.nonce, 0, 0)
                .await?;
            let accepted = s.api.submit(&op).await?;
            println!(
                "L2 key {} registered for account {} (operation {})",
                alloy_primitives::hex::encode(loft_zk_node::wire::encode_key(&key.public())),
                account.index,
                accepted.seq
            );
            Ok(())
        }
        ZkCommand::Transfer { at, amount, to, token, fee } => {
            let s = connect(&at).await?;
            let asset = Asset::of(&s.l1, &s.deployment, token).await?;
            let account = s.api.account(s.signer.address()).await?.context("no L2 account: deposit first")?;
            let key = wallet::derive_l2_key(&s.signer, &s.deployment).await?;
            let amount = AMOUNT.round_down(asset.parse(&amount)?);
            let fee = FEE.round_up(asset.parse(&fee)?).context("fee too large")?;
            let op = wallet::transfer(&key, account.index, to, asset.id, amount, fee, account.nonce);
            let accepted = s.api.submit(&op).await?;
            println!(
                "sent {} to {to}, fee {} (operation {})",
                asset.show(amount),
                asset.show(fee),
                accepted.seq
            );
            Ok(())
        }
        ZkCommand::Withdraw { at, amount, token, to, fee } => {
            let s = connect(&at).await?;
            let asset = Asset::of(&s.l1, &s.deployment, token).await?;
            let account = s.api.account(s.signer.address()).await?.context("no L2 account: deposit first")?;
            let key = wallet::derive_l2_key(&s.signer, &s.deployment).await?;
            let to = to.unwrap_or(s.signer.address());
            let amount = asset.parse(&amount)?;
            let fee = FEE.round_up(asset.parse(&fee)?).context("fee too large")?;
            let op = wallet::withdraw(&key, account.index, asset.id, amount, fee, account.nonce, to);
            s.api.submit(&op).await?;
            println!("withdrawing {} to {to}: waiting for L1 to execute the block", asset.show(amount));
            let rollup = ZkRollup::new(s.deployment.rollup, s.l1.provider().clone());
            let id = asset.id as u16; // token ids are below 2^8
            loop {
                let pending = rollup.pendingBalances(to, id).call().await?;
                if pending >= U256::from(amount) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let receipt = rollup.withdrawPending(to, id, amount).send().await?.get_receipt().await?;
            if !receipt.status() {
                bail!("the payout reverted");
            }
            println!("paid {} to {to} on L1 (tx {})", asset.show(amount), receipt.transaction_hash);
            Ok(())
        }
        ZkCommand::Status { at } => status(&at).await,
        ZkCommand::Exit { at, data_dir, exit_keys } => exit(&at, &data_dir, exit_keys).await,
    }
}

async fn status(at: &Endpoints) -> anyhow::Result<()> {
    let s = connect(at).await?;
    let rollup = ZkRollup::new(s.deployment.rollup, s.l1.provider().clone());
    println!("rollup        {} (chain {})", s.deployment.rollup, s.deployment.chain_id);
    println!("L1 executed   block {}", rollup.lastExecutedBlock().call().await?);
    println!("exodus mode   {}", rollup.exodusMode().call().await?);
    match s.api.status().await {
        Ok(st) => {
            println!(
                "operator      sealed {}, executed {}, {} operations open",
                st.last_sealed, st.last_submitted, st.open_ops
            );
            println!("state root    {} (executed), {} (latest)", st.state_root, st.latest_root);
        }
        Err(e) => println!("operator      not answering ({e})"),
    }
    let me = s.signer.address();
    let assets = Asset::all(&s.l1, &s.deployment).await?;
    match s.api.account(me).await {
        Ok(Some(a)) => {
            let held: Vec<String> = assets
                .iter()
                .filter_map(|x| {
                    let v: u128 = a.balances.get(x.id as usize)?.to();
                    (x.id == 0 || v > 0).then(|| x.show(v))
                })
                .collect();
            println!(
                "account       {} of {me}: {}, nonce {}, {}",
                a.index,
                held.join(", "),
                a.nonce,
                if a.has_key { "key registered" } else { "no key yet (loft zk register)" }
            );
        }
        Ok(None) => println!("account       none for {me}"),
        Err(_) => {}
    }
    let rollup = ZkRollup::new(s.deployment.rollup, s.l1.provider().clone());
    for x in &assets {
        let v: u128 = rollup.pendingBalances(me, x.id as u16).call().await?.to();
        if x.id == 0 || v > 0 {
            println!("withdrawable  {} on L1", x.show(v));
        }
    }
    for x in assets.iter().skip(1) {
        println!("token         {} = {} (id {})", x.symbol, x.token.unwrap_or_default(), x.id);
    }
    Ok(())
}

async fn exit(at: &Endpoints, data_dir: &std::path::Path, exit_keys: Option<PathBuf>) -> anyhow::Result<()> {
    let signer = signer(&at.private_key, 1)?;
    let owner = signer.address();
    let l1 = L1Client::connect(&at.l1_rpc, signer.clone()).await?;
    let d =
        Deployment::load(&at.deployment).with_context(|| format!("reading {}", at.deployment.display()))?;
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    if !rollup.exodusMode().call().await? {
        let receipt = rollup.activateExodusMode().send().await.context(
            "the rollup is not frozen, and no priority request is overdue (exits only work in exodus mode)",
        )?;
        receipt.get_receipt().await?;
        println!("exodus mode activated: a priority request missed its deadline");
    }
    // deposits L1 never executed are refunded (anyone's: the queue is settled in order)
    while rollup.firstPriorityRequestId().call().await? < rollup.totalPriorityRequests().call().await? {
        let receipt = rollup.cancelOutstandingDeposits(64).send().await?.get_receipt().await?;
        if !receipt.status() {
            bail!("refunding the outstanding deposits reverted");
        }
        println!("refunded the deposits L1 had not executed (tx {})", receipt.transaction_hash);
    }
    let assets = Asset::all(&l1, &d).await?;
    println!("rebuilding the state from L1's calldata");
    let state = wallet::rebuild_state(&l1, &d).await?;
    let keys = match exit_keys {
        Some(path) => loft_zk::groth16::Keys::load(&path)?,
        None => RollupKeys::devnet_exit(&data_dir.join("keys"), &d.config)?,
    };
    // every account of the address: an operator may have opened more than one (the circuit
    // does not stop it), and each exits on its own
    let accounts = state.indices_of(&owner.into_array());
    if accounts.is_empty() {
        println!("{owner} has no account at the last executed root");
    }
    for index in accounts {
        for x in &assets {
            let id = x.id as u16;
            if rollup.exited(U24::from(index), id).call().await? {
                println!("account {index} has exited its {} already", x.symbol);
                continue;
            }
            let (exit, proof) = wallet::exit_proof(&keys, &state, index, x.id)?;
            if exit.amount == 0 {
                continue;
            }
            let receipt = rollup
                .exit(U24::from(index), id, exit.amount, owner, proof)
                .send()
                .await?
                .get_receipt()
                .await?;
            if !receipt.status() {
                bail!("the exit of {} reverted", x.symbol);
            }
            println!("exited {} from account {index}", x.show(exit.amount));
        }
    }
    let mut paid = 0;
    for x in &assets {
        let pending: u128 = rollup.pendingBalances(owner, x.id as u16).call().await?.to();
        if pending == 0 {
            continue;
        }
        let receipt = rollup.withdrawPending(owner, x.id as u16, pending).send().await?.get_receipt().await?;
        if !receipt.status() {
            bail!("the payout of {} reverted", x.symbol);
        }
        println!("paid {} to {owner} on L1", x.show(pending));
        paid += 1;
    }
    if paid == 0 {
        bail!("nothing to take out for {owner}");
    }
    Ok(())
}

pub use loft_zk_node::service::RunningOperator;

/// Starts the operator: keys (cached or from files), deployment (recorded, or made now), the
/// record, the API and the loop (`loft_zk_node::service`), saying what it did.
pub async fn start_operator(args: &OperatorArgs) -> anyhow::Result<RunningOperator> {
    let signer = signer(&args.private_key, 0)?;
    let l1 = L1Client::connect(&args.l1_rpc, signer).await?;
    let wanted = RollupConfig {
        account_depth: args.account_depth,
        balance_depth: args.balance_depth,
        wide_slots: args.wide,
        transfer_slots: args.transfers,
        priority_expiration_blocks: args.priority_expiration,
        block_interval: args.block_interval,
        ..RollupConfig::devnet()
    };
    let record = args.data_dir.join("zk.json");
    let recorded = service::recorded(&l1, &record).await?;
    let config = match &recorded {
        Recorded::Ours(d) => d.config.clone(),
        Recorded::Foreign(d) => {
            println!(
                "zk record    {} names a rollup this L1 does not have ({}): deploying a new one",
                record.display(),
                d.binding_text()
            );
            wanted
        }
        Recorded::Absent => wanted,
    };
    println!("zk keys      {} (setting up the circuits on first use)", args.data_dir.join("keys").display());
    let keys = Arc::new(match (&args.block_keys, &args.exit_keys) {
        (Some(b), Some(e)) => RollupKeys::from_files(b, e)?,
        _ => {
            let dir = args.data_dir.join("keys");
            let config = config.clone();
            tokio::task::spawn_blocking(move || RollupKeys::devnet(&dir, &config)).await??
        }
    });
    let (deployment, deployed) = service::deploy_or_resume(&l1, &record, recorded, &config, &keys).await?;
    if deployed {
        println!("zk rollup    {} deployed (record {})", deployment.rollup, record.display());
    } else {
        println!("zk rollup    {} (from {})", deployment.rollup, record.display());
    }
    for token in &args.tokens {
        let id = add_token(&l1, &deployment, *token)
            .await
            .with_context(|| format!("registering token {token}"))?;
        println!("zk token     {token} (id {id})");
    }
    // The operator's record is bound to this deployment (chain, contract, L1 block): a new
    // L1 that put a new rollup at the same address never replays an old record.
    let (store, path, set_aside) = service::open_store(&args.data_dir, &deployment)?;
    if let Some(aside) = set_aside {
        println!(
            "zk record    {} was made for another deployment: set aside as {}",
            path.display(),
            aside.display()
        );
    }
    let op_config = OperatorConfig {
        deployment,
        block_time: Duration::from_secs_f64(args.block_time.max(0.05)),
        l1_confirmations: args.l1_confirmations,
    };
    let running = service::run(op_config, l1, keys, store, args.listen).await?;
    println!(
        "zk operator  http://{} ({} wide + {} transfer slots, account depth {})",
        running.api, config.wide_slots, config.transfer_slots, config.account_depth
    );
    Ok(running)
}

/// The dev account the devnet's ZK operator uses (the optimistic rollup's roles use 0-3).
pub const DEVNET_OPERATOR_KEY: u32 = 5;

/// `loft devnet`'s ZK rollup demo: two users deposit (ETH, and LOFT, an ERC-20 that
/// `treasury` holds), register their L2 keys, one pays the other in both, who withdraws ETH
/// to L1; balances are printed at each step.
pub async fn demo(
    l1_rpc: &str,
    running: &RunningOperator,
    treasury: &L1Client,
    loft_token: Address,
) -> anyhow::Result<()> {
    let keys = loft_l1::dev_signers(8)?;
    let (alice, bob) = (keys[6].clone(), keys[7].clone());
    let d = &running.deployment;
    let api = OperatorClient::new(&format!("http://{}", running.api));
    let wait = |what: &'static str| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        what
    };
    println!("\nZK rollup demo (every block proven with Groth16 and verified on L1):");
    for (who, signer, amount) in [("alice", &alice, "1"), ("bob", &bob, "0.5")] {
        let l1 = L1Client::connect(l1_rpc, signer.clone()).await?;
        let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
        let receipt = rollup
            .depositETH(signer.address())
            .value(U256::from(wei(amount)?))
            .send()
            .await?
            .get_receipt()
            .await?;
        if !receipt.status() {
            bail!("{who}'s deposit reverted");
        }
        println!("  {who} deposits {amount} ETH on L1 ({})", signer.address());
    }
    let lofts = wei("100")?;
    let funding = LoftToken::new(loft_token, treasury.provider().clone())
        .transfer(alice.address(), U256::from(lofts))
        .send()
        .await?
        .get_receipt()
        .await?;
    if !funding.status() {
        bail!("funding alice with LOFT reverted");
    }
    let alice_l1 = L1Client::connect(l1_rpc, alice.clone()).await?;
    wallet::deposit_erc20(&alice_l1, d, loft_token, lofts, alice.address()).await?;
    let loft_id = wallet::token_id(&alice_l1, d, loft_token).await?.context("LOFT is not registered")?;
    println!("  alice deposits 100 LOFT (ERC-20 {loft_token}, token {loft_id})");
    let account = async |who: Address| -> anyhow::Result<loft_zk_node::operator::AccountInfo> {
        loop {
            if let Some(a) = api.account(who).await? {
                return Ok(a);
            }
            wait("deposit").await;
        }
    };
    let (a, b) = (account(alice.address()).await?, account(bob.address()).await?);
    for (who, signer, acc) in [("alice", &alice, &a), ("bob", &bob, &b)] {
        let key = wallet::derive_l2_key(signer, d).await?;
        api.submit(&wallet::change_key(signer, d, acc.index, &key, acc.nonce, 0, 0).await?).await?;
        println!("  {who} registers the L2 key derived from their Ethereum key (account {})", acc.index);
    }
    let ka = wallet::derive_l2_key(&alice, d).await?;
    let amount = wei("0.1")?;
    let fee = wei("0.0001")?;
    api.submit(&wallet::transfer(&ka, a.index, bob.address(), 0, amount, fee, a.nonce + 1)).await?;
    println!("  alice pays bob 0.1 ETH on L2 (fee 0.0001 ETH)");
    let loft_fee = wei("0.01")?;
    while api
        .account(alice.address())
        .await?
        .is_none_or(|x| x.balances[loft_id as usize].to::<u128>() < lofts)
    {
        wait("LOFT deposit").await;
    }
    api.submit(&wallet::transfer(&ka, a.index, bob.address(), loft_id, wei("25")?, loft_fee, a.nonce + 2))
        .await?;
    println!("  alice pays bob 25 LOFT on L2 (fee 0.01 LOFT)");
    let kb = wallet::derive_l2_key(&bob, d).await?;
    let out = wei("0.2")?;
    api.submit(&wallet::withdraw(&kb, b.index, 0, out, fee, b.nonce + 1, bob.address())).await?;
    println!("  bob withdraws 0.2 ETH to L1; waiting for the operator to prove and submit the blocks");
    let l1 = L1Client::connect(l1_rpc, bob.clone()).await?;
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    let start = std::time::Instant::now();
    while rollup.pendingBalances(bob.address(), 0).call().await? < U256::from(out) {
        wait("withdrawal").await;
    }
    let before = l1.balance(bob.address()).await?;
    let receipt = rollup.withdrawPending(bob.address(), 0, out).send().await?.get_receipt().await?;
    if !receipt.status() {
        bail!("the payout reverted");
    }
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let paid = l1.balance(bob.address()).await? + gas - before;
    let status = api.status().await?;
    println!(
        "  L1 executed {} blocks ({:.1} s after the withdrawal was sent); bob is paid {} ETH on L1",
        status.last_submitted,
        start.elapsed().as_secs_f64(),
        format_ether(paid)
    );
    for (who, addr) in [("alice", alice.address()), ("bob", bob.address())] {
        if let Some(acc) = api.account(addr).await? {
            let lofts =
                format_units(U256::from(acc.balances[loft_id as usize].to::<u128>()), 18).unwrap_or_default();
            println!("  {who} holds {} ETH and {lofts} LOFT on L2", eth(acc.balances[0].to()));
        }
    }
    Ok(())
}
