//! `loft devnet`: the embedded L1 (or an external node) with loft's contracts deployed.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use clap::Args;
use loft_devnet::{Devnet, DevnetConfig};
use loft_l1::{L1Client, binding, contracts};
use loft_rpc::MiningMode;

/// Options of `loft devnet`.
#[derive(Args, Debug)]
pub struct DevnetArgs {
    /// Address to serve JSON-RPC (HTTP and WebSocket) on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port to serve JSON-RPC on.
    #[arg(long, short, default_value_t = 8545)]
    port: u16,
    /// Keep the chain in this directory (it survives restarts); in memory when absent.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Mine a block every N seconds instead of one per transaction.
    #[arg(long, short)]
    block_time: Option<f64>,
    /// Mine only on evm_mine.
    #[arg(long, conflicts_with = "block_time")]
    no_mining: bool,
    /// Chain id.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// Number of funded dev accounts.
    #[arg(long, default_value_t = 10)]
    accounts: u32,
    /// Use this external L1 node (anvil, geth) instead of the embedded devnet.
    #[arg(long, env = "LOFT_L1_RPC")]
    l1_rpc: Option<String>,
    /// Key that deploys contracts on an external L1 (default: dev account 0).
    #[arg(long, env = "LOFT_PRIVATE_KEY")]
    private_key: Option<String>,
    /// Exit after start-up and deployment (and the demo) instead of running until Ctrl-C.
    #[arg(long)]
    exit_after_deploy: bool,
    /// Do not start the optimistic rollup.
    #[arg(long)]
    no_rollup: bool,
    /// Do not run the rollup demo workload.
    #[arg(long)]
    no_demo: bool,
    /// Port of the rollup sequencer's JSON-RPC.
    #[arg(long, default_value_t = 9545)]
    l2_port: u16,
    /// Port of the rollup replica's JSON-RPC.
    #[arg(long, default_value_t = 9546)]
    replica_port: u16,
    /// Post rollup batches as calldata rather than blobs.
    #[arg(long)]
    calldata: bool,
    /// Do not start the ZK rollup (its circuits' keys are set up on first use, which takes a
    /// while in a debug build).
    #[arg(long)]
    no_zk: bool,
    /// Port of the ZK rollup operator's JSON-RPC.
    #[arg(long, default_value_t = 7545)]
    zk_port: u16,
    /// Depth of the ZK rollup's account tree (2^depth accounts; a smaller tree makes smaller
    /// circuits, set up and proven faster). Used when the ZK rollup is first deployed.
    #[arg(long, default_value_t = 24)]
    zk_account_depth: usize,
    /// Depth of the ZK rollup's balance trees (2^depth token slots in every account).
    #[arg(long, default_value_t = 3)]
    zk_balance_depth: usize,
    /// Transfer slots in each ZK rollup block (fewer make a smaller circuit).
    #[arg(long, default_value_t = 4)]
    zk_transfers: usize,
    /// L1 blocks on top of an L1 block before the sequencer takes it as an L1 origin (a
    /// shallower L1 reorg then never takes an origin away).
    #[arg(long, default_value_t = 2)]
    sequencer_l1_confs: u64,
    /// L1 blocks a batcher channel may stay open before it is posted (it is posted sooner
    /// once it holds about a blob of compressed data): bounds how far the safe head lags.
    #[arg(long, default_value_t = 5)]
    max_channel_duration: u64,
}

pub async fn run(args: DevnetArgs) -> anyhow::Result<()> {
    let deployer: PrivateKeySigner = match &args.private_key {
        Some(k) => k.parse().context("--private-key is not a valid secp256k1 key")?,
        None => loft_l1::dev_signers(1)?.remove(0),
    };
    let (devnet, url) = match &args.l1_rpc {
        Some(url) => (None, url.clone()),
        None => {
            let mining = match (args.block_time, args.no_mining) {
                (Some(secs), _) if secs > 0.0 => MiningMode::Interval(Duration::from_secs_f64(secs)),
                (_, true) => MiningMode::Manual,
                _ => MiningMode::Instant,
            };
            let config = DevnetConfig {
                addr: SocketAddr::new(args.host, args.port),
                chain_id: args.chain_id,
                data_dir: args.data_dir.clone(),
                mining,
                accounts: args.accounts,
                ..Default::default()
            };
            let devnet = Devnet::start(config).await?;
            let url = devnet.url();
            // A rollup needs L1 time to pass while nobody sends L1 transactions (its L1
            // origins, channel durations and windows count L1 blocks), as on a real L1.
            let idle = (!args.no_rollup && mining == MiningMode::Instant).then_some(IDLE_BLOCK_TIME);
            devnet.node.set_idle_block_time(idle);
            print_banner(&devnet, mining, idle, args.data_dir.as_deref());
            (Some(devnet), url)
        }
    };
    let client = L1Client::connect(&url, deployer).await?;
    let chain_id = client.chain_id().await?;
    let head = client.block_number().await?;
    println!("L1           {url} (chain id {chain_id}, head block {head})");

    let record = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/loft-devnet"))
        .join(format!("deployments-{chain_id}.json"));
    let (deployments, deployed) = binding::deploy_or_resume(
        &record,
        binding::recorded(&client, &record).await?,
        async || contracts::deploy_all(&client).await.context("deploying loft's contracts"),
        |e| anyhow::anyhow!("writing {}: {e}", record.display()),
    )
    .await?;
    if !deployed {
        println!("contracts    already deployed (from {})", record.display());
    }
    println!("LoftToken    {} (ERC-20)", deployments.loft_token);
    println!("deployments  {}", record.display());
    let channels = channel_deployment(&client, args.data_dir.as_deref(), chain_id).await?;
    println!(
        "channels     ChannelManager {}, SecretRegistry {} (settle timeouts {}..={} blocks)",
        channels.channel_manager,
        channels.secret_registry,
        channels.settle_timeout_min,
        channels.settle_timeout_max
    );
    println!("  record     {} (for `loft channel node`)", crate::channel_cmd::DEFAULT_DEPLOYMENT);
    let rollup = if args.no_rollup {
        None
    } else {
        // Dev accounts 0-2 deploy, batch and propose; all ten are funded on L2 by deposits.
        let keys = loft_l1::dev_signers(10)?;
        // blobs need a node that serves their contents (loft's loft_getBlob)
        let blobs = !args.calldata && devnet.is_some();
        let rollup_dir = args.data_dir.as_ref().map(|d| d.join("rollup"));
        let options = crate::rollup::RollupOptions {
            host: args.host,
            l2_port: args.l2_port,
            replica_port: args.replica_port,
            blobs,
            data_dir: rollup_dir,
            l1_confs: args.sequencer_l1_confs,
            max_channel_duration: args.max_channel_duration,
        };
        let rollup = crate::rollup::run(&url, &keys, options).await?;
        // For `loft rollup ...` (its default --rollup path).
        let record_path = PathBuf::from(crate::rollup_cmd::DEFAULT_RECORD);
        rollup.record.save(&record_path).context("writing the rollup record")?;
        println!("  record     {} (for `loft rollup ...`)", record_path.display());
        if rollup.resumed {
            println!("rollup       resumed from the data directory (no demo)");
        } else if !args.no_demo {
            crate::rollup::demo(&url, &rollup, keys[3].clone()).await.context("rollup demo")?;
        }
        Some(rollup)
    };
    let zk = if args.no_zk {
        None
    } else {
        println!();
        let dev = loft_l1::dev_signers(crate::zk_cmd::DEVNET_OPERATOR_KEY + 1)?;
        let key = &dev[crate::zk_cmd::DEVNET_OPERATOR_KEY as usize];
        let zk_args = crate::zk_cmd::OperatorArgs {
            l1_rpc: url.clone(),
            private_key: Some(alloy_primitives::hex::encode(key.to_bytes())),
            data_dir: args.data_dir.clone().unwrap_or_else(|| PathBuf::from("target/loft-devnet")).join("zk"),
            listen: SocketAddr::new(args.host, args.zk_port),
            block_time: 1.0,
            l1_confirmations: 0,
            block_keys: None,
            exit_keys: None,
            wide: 2,
            transfers: args.zk_transfers,
            account_depth: args.zk_account_depth,
            balance_depth: args.zk_balance_depth,
            priority_expiration: 600,
            block_interval: 10,
            tokens: vec![deployments.loft_token],
        };
        let running = crate::zk_cmd::start_operator(&zk_args).await.context("starting the ZK rollup")?;
        // for `loft zk ...` (its default --deployment path)
        running.deployment.save(&PathBuf::from(crate::zk_cmd::DEFAULT_DIR).join("zk.json"))?;
        if !args.no_demo {
            crate::zk_cmd::demo(&url, &running, &client, deployments.loft_token)
                .await
                .context("ZK rollup demo")?;
        }
        Some(running)
    };
    if args.exit_after_deploy {
        println!("\nready; exiting (--exit-after-deploy)");
    } else {
        println!("\nready; Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
        println!("stopping");
    }
    if let Some(z) = zk {
        z.task.abort();
        let _ = z.server.stop();
    }
    if let Some(r) = rollup {
        r.stop().await;
    }
    if let Some(d) = devnet {
        d.stop().await;
    }
    Ok(())
}

/// The channel contracts: those of an earlier run when this L1 holds the deployment its record
/// is bound to (chain, code and bound block), else new ones. The record goes to the data directory (with the chain) and to the default
/// path of `loft channel node --deployment`.
async fn channel_deployment(
    client: &L1Client,
    data_dir: Option<&std::path::Path>,
    chain_id: u64,
) -> anyhow::Result<loft_channel_node::contracts::ChannelDeployment> {
    use loft_channel_node::contracts::{self as channels, ChannelDeployment};
    let record = data_dir
        .map(|d| d.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("target/loft-devnet"))
        .join(format!("channels-{chain_id}.json"));
    let (d, _) = binding::deploy_or_resume(
        &record,
        binding::recorded::<ChannelDeployment>(client, &record).await?,
        async || {
            channels::deploy(client, channels::DEVNET_SETTLE_TIMEOUT_MIN, channels::DEVNET_SETTLE_TIMEOUT_MAX)
                .await
                .context("deploying the channel contracts")
        },
        |e| anyhow::anyhow!("writing {}: {e}", record.display()),
    )
    .await?;
    d.save(std::path::Path::new(crate::channel_cmd::DEFAULT_DEPLOYMENT))?;
    Ok(d)
}

/// With the rollup on an instant-mining devnet, an empty L1 block after this long without one.
const IDLE_BLOCK_TIME: Duration = Duration::from_secs(2);

fn print_banner(
    devnet: &Devnet,
    mining: MiningMode,
    idle: Option<Duration>,
    data_dir: Option<&std::path::Path>,
) {
    println!("loft devnet: embedded L1 (loft chain engine, revm)\n");
    println!("Dev accounts (mnemonic \"{}\"), 10000 ETH each:", loft_l1::DEV_MNEMONIC);
    for (i, s) in devnet.accounts.iter().enumerate() {
        println!("  ({i}) {}  key 0x{}", s.address(), alloy_primitives::hex::encode(s.to_bytes()));
    }
    let mining = match mining {
        MiningMode::Instant => match idle {
            Some(d) => {
                format!("instant (a block per transaction, and an empty one after {}s without)", d.as_secs())
            }
            None => "instant (a block per transaction)".to_string(),
        },
        MiningMode::Interval(d) => format!("every {:?}", d),
        MiningMode::Manual => "manual (evm_mine)".to_string(),
    };
    println!();
    println!("JSON-RPC     {} (HTTP) and {} (WebSocket)", devnet.url(), devnet.ws_url());
    println!("mining       {mining}");
    match data_dir {
        Some(d) => println!("data dir     {}", d.display()),
        None => println!("data dir     none (in memory; use --data-dir to persist)"),
    }
}
