//! `loft rollup ...`: a person's side of the optimistic rollup (deposit, withdraw, prove,
//! finalize, status) over JSON-RPC to the L1 and the L2, and a standalone replica that
//! derives the L2 from L1 alone.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use alloy::{eips::BlockNumberOrTag, providers::Provider, signers::local::PrivateKeySigner};
use alloy_primitives::{Address, B256, U256, utils::format_ether, utils::parse_ether};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use loft_l1::L1Client;
use loft_rollup::{
    bridge,
    replica::Replica,
    service::{RollupRecord, l2_node},
};
use loft_rpc::TxRoute;

/// Where `loft devnet` writes the rollup record.
pub const DEFAULT_RECORD: &str = "target/loft-devnet/rollup.json";

/// Where the rollup is.
#[derive(Args, Debug)]
pub struct Endpoints {
    /// The rollup record (parameters, L1 contracts, genesis) that `loft devnet` writes.
    #[arg(long, default_value = DEFAULT_RECORD)]
    rollup: PathBuf,
    /// The L1's JSON-RPC.
    #[arg(long, env = "LOFT_L1_RPC", default_value = "http://127.0.0.1:8545")]
    l1_rpc: String,
    /// The L2 sequencer's JSON-RPC.
    #[arg(long, env = "LOFT_L2_RPC", default_value = "http://127.0.0.1:9545")]
    l2_rpc: String,
    /// A replica's JSON-RPC (status; proofs of withdrawals come from the safe chain).
    #[arg(long, default_value = "http://127.0.0.1:9546")]
    replica_rpc: String,
    /// The signing key (default: dev account 0).
    #[arg(long, env = "LOFT_PRIVATE_KEY")]
    private_key: Option<String>,
}

/// `loft rollup` commands.
#[derive(Subcommand, Debug)]
pub enum RollupCommand {
    /// Heads of every layer (L1, sequencer, replica: latest, safe, finalized), the latest
    /// output root, and the account's balances.
    Status(Endpoints),
    /// Deposits ETH (or, with --token, an ERC-20) from L1 to L2.
    Deposit {
        #[command(flatten)]
        at: Endpoints,
        /// Amount in ETH (or whole tokens, 18 decimals).
        amount: String,
        /// L2 recipient (default: the signer).
        #[arg(long)]
        to: Option<Address>,
        /// The L1 ERC-20 to deposit (its L2 token is created on L2 when missing).
        #[arg(long)]
        token: Option<Address>,
    },
    /// Starts a withdrawal of ETH (or, with --token, of an L2 ERC-20) from L2 to L1.
    Withdraw {
        #[command(flatten)]
        at: Endpoints,
        /// Amount in ETH (or whole tokens, 18 decimals).
        amount: String,
        /// L1 recipient (default: the signer).
        #[arg(long)]
        to: Option<Address>,
        /// The L2 token to withdraw.
        #[arg(long)]
        token: Option<Address>,
    },
    /// Proves the withdrawal started by L2 transaction TX on L1 (waits for an output root).
    Prove {
        #[command(flatten)]
        at: Endpoints,
        /// The L2 transaction that started the withdrawal.
        tx: B256,
    },
    /// Finalizes the proven withdrawal started by L2 transaction TX (after the challenge
    /// window), paying it out on L1.
    Finalize {
        #[command(flatten)]
        at: Endpoints,
        /// The L2 transaction that started the withdrawal.
        tx: B256,
    },
    /// Runs a replica: derives the L2 from L1 alone (never asking the sequencer) and serves
    /// it over JSON-RPC, with the safe and finalized tags.
    Replica {
        /// The rollup record.
        #[arg(long, default_value = DEFAULT_RECORD)]
        rollup: PathBuf,
        /// The L1's JSON-RPC.
        #[arg(long, env = "LOFT_L1_RPC", default_value = "http://127.0.0.1:8545")]
        l1_rpc: String,
        /// Address to serve the replica's JSON-RPC on.
        #[arg(long, default_value = "127.0.0.1:9547")]
        addr: SocketAddr,
        /// Keep the derived chain here (it resumes from it); in memory when absent.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The sequencer that transactions sent to this replica are forwarded to (its answer,
        /// hash or error, is the replica's answer).
        #[arg(long, env = "LOFT_L2_RPC", default_value = "http://127.0.0.1:9545")]
        sequencer_rpc: String,
        /// Forward no transactions: the replica refuses them with an error.
        #[arg(long)]
        no_sequencer: bool,
    },
}

fn signer(key: &Option<String>) -> anyhow::Result<PrivateKeySigner> {
    match key {
        Some(k) => k.parse().context("--private-key is not a valid secp256k1 key"),
        None => Ok(loft_l1::dev_signers(1)?.remove(0)),
    }
}

struct Session {
    record: RollupRecord,
    l1: L1Client,
    l2: L1Client,
    replica: String,
}

async fn connect(at: &Endpoints) -> anyhow::Result<Session> {
    let record = RollupRecord::load(&at.rollup)?;
    let key = signer(&at.private_key)?;
    let l1 = L1Client::connect(&at.l1_rpc, key.clone()).await?;
    let l2 = L1Client::connect(&at.l2_rpc, key).await?;
    let l2_chain = l2.chain_id().await.context("reaching the L2 sequencer")?;
    if l2_chain != record.config.l2_chain_id {
        bail!("{} serves chain {l2_chain}, the rollup is chain {}", at.l2_rpc, record.config.l2_chain_id);
    }
    Ok(Session { record, l1, l2, replica: at.replica_rpc.clone() })
}

fn amount(text: &str) -> anyhow::Result<U256> {
    parse_ether(text).with_context(|| format!("{text:?} is not an amount (e.g. 1.5)"))
}

/// Runs a `loft rollup` command.
pub async fn run(command: RollupCommand) -> anyhow::Result<()> {
    match command {
        RollupCommand::Status(at) => status(&at).await,
        RollupCommand::Deposit { at, amount: text, to, token } => {
            let s = connect(&at).await?;
            let value = amount(&text)?;
            let to = to.unwrap_or(s.l1.address());
            let d = &s.record.deployment;
            match token {
                None => {
                    let r = bridge::deposit_eth(&s.l1, d, to, value).await?;
                    println!(
                        "deposited {text} ETH to {to} on L2 (L1 tx {}, block {:?})",
                        r.transaction_hash, r.block_number
                    );
                }
                Some(l1_token) => {
                    let l2_token = bridge::create_l2_token(&s.l2, l1_token, "Loft Token", "LOFT").await?;
                    let r = bridge::deposit_erc20(&s.l1, d, l1_token, l2_token, to, value).await?;
                    println!(
                        "deposited {text} of {l1_token} to {to} on L2 as {l2_token} (L1 tx {})",
                        r.transaction_hash
                    );
                }
            }
            println!("it reaches L2 with the L2 block that takes this L1 block as its origin");
            Ok(())
        }
        RollupCommand::Withdraw { at, amount: text, to, token } => {
            let s = connect(&at).await?;
            let value = amount(&text)?;
            let to = to.unwrap_or(s.l1.address());
            let (w, tx) = match token {
                None => bridge::withdraw_eth(&s.l2, to, value).await?,
                Some(l2_token) => bridge::withdraw_erc20(&s.l2, l2_token, to, value).await?,
            };
            let what = if token.is_some() { "tokens" } else { "ETH" };
            println!("withdrawal of {text} {what} to {to} started in L2 block {} (L2 tx {tx})", w.l2_block);
            println!(
                "next: loft rollup prove {tx}, then, after the challenge window, loft rollup finalize {tx}"
            );
            Ok(())
        }
        RollupCommand::Prove { at, tx } => {
            let s = connect(&at).await?;
            let w = bridge::withdrawal_of(&s.l2, tx).await?;
            println!("waiting for an output root covering L2 block {}", w.l2_block);
            let output =
                bridge::wait_for_output(&s.l1, &s.record.deployment, w.l2_block, Duration::from_secs(600))
                    .await?;
            // the proof comes from the replica (the safe chain) when one answers, else the sequencer
            let key = signer(&at.private_key)?;
            let source = match L1Client::connect(&s.replica, key).await {
                Ok(r) if r.chain_id().await.is_ok() => r,
                _ => s.l2.clone(),
            };
            let d = &s.record.deployment;
            let r = w.prove(&s.l1, d.portal, d.output_oracle, &source).await?;
            println!("proven against the output of L2 block {output} (L1 tx {})", r.transaction_hash);
            Ok(())
        }
        RollupCommand::Finalize { at, tx } => {
            let s = connect(&at).await?;
            let w = bridge::withdrawal_of(&s.l2, tx).await?;
            let r = w
                .finalize(&s.l1, s.record.deployment.portal)
                .await
                .context("finalizing (proven? past the challenge window? not finalized already?)")?;
            println!("finalized on L1 (tx {}): {} wei to {}", r.transaction_hash, w.value, w.target);
            Ok(())
        }
        RollupCommand::Replica { rollup, l1_rpc, addr, data_dir, sequencer_rpc, no_sequencer } => {
            let route = if no_sequencer {
                TxRoute::Refuse(
                    "this replica only derives the chain from L1 and knows no sequencer: send \
                     transactions to the sequencer"
                        .into(),
                )
            } else {
                TxRoute::Forward(sequencer_rpc)
            };
            replica(&rollup, &l1_rpc, addr, data_dir, route).await
        }
    }
}

async fn status(at: &Endpoints) -> anyhow::Result<()> {
    let s = connect(at).await?;
    let heads = |client: L1Client| async move {
        let mut out = Vec::new();
        for tag in [BlockNumberOrTag::Latest, BlockNumberOrTag::Safe, BlockNumberOrTag::Finalized] {
            let block = client.provider().get_block_by_number(tag).await?;
            out.push(block.map(|b| (b.header.number, b.header.hash)));
        }
        Ok::<_, anyhow::Error>(out)
    };
    let show = |h: &[Option<(u64, B256)>]| {
        let n = |i: usize| h.get(i).copied().flatten().map(|(n, _)| n.to_string()).unwrap_or("-".into());
        format!("latest {}, safe {}, finalized {}", n(0), n(1), n(2))
    };
    let l1 = heads(s.l1.clone()).await?;
    let seq = heads(s.l2.clone()).await?;
    println!("rollup     chain {} on L1 chain {}", s.record.config.l2_chain_id, s.record.config.l1_chain_id);
    println!("L1         {}", show(&l1));
    println!("sequencer  {}", show(&seq));
    match L1Client::connect(&s.replica, signer(&at.private_key)?).await {
        Ok(replica) => match heads(replica).await {
            Ok(rep) => {
                let safe = rep.get(1).copied().flatten();
                let agrees = match safe {
                    Some((n, hash)) => {
                        s.l2.provider()
                            .get_block_by_number(BlockNumberOrTag::Number(n))
                            .await?
                            .is_some_and(|b| b.header.hash == hash)
                    }
                    None => false,
                };
                let verdict =
                    if agrees { "same block as the sequencer" } else { "DIFFERS from the sequencer" };
                println!("replica    {} ({verdict} at its safe head)", show(&rep));
            }
            Err(e) => println!("replica    not reachable at {}: {e}", s.replica),
        },
        Err(e) => println!("replica    not reachable at {}: {e}", s.replica),
    }
    let output = bridge::latest_output_block(&s.l1, &s.record.deployment).await?;
    println!("outputs    latest output root covers L2 block {output}");
    let me = s.l1.address();
    println!(
        "account    {me}: {} ETH on L1, {} ETH on L2",
        format_ether(s.l1.balance(me).await?),
        format_ether(s.l2.balance(me).await?)
    );
    Ok(())
}

async fn replica(
    record: &std::path::Path,
    l1_rpc: &str,
    addr: SocketAddr,
    data_dir: Option<PathBuf>,
    route: TxRoute,
) -> anyhow::Result<()> {
    let record = RollupRecord::load(record)?;
    // A replica only reads L1: the key is never used to sign.
    let l1 = L1Client::connect(l1_rpc, loft_l1::dev_signers(1)?.remove(0)).await?;
    let node = l2_node(&record, data_dir)?;
    let forwards = match &route {
        TxRoute::Forward(url) => format!("transactions forwarded to the sequencer at {url}"),
        _ => "transactions refused (--no-sequencer)".to_string(),
    };
    node.set_tx_route(route);
    let server = loft_rpc::serve(node.clone(), addr, loft_rpc::Methods::Public)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let mut replica = Replica::new(record.config.clone(), node, l1).await?;
    println!("replica of rollup {} from L1 {l1_rpc}", record.config.l2_chain_id);
    println!("  JSON-RPC http://{} (safe and finalized tags; {forwards})", server.addr);
    println!("  starting at L2 block {}", replica.safe().number);
    let mut last = (u64::MAX, u64::MAX);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        match replica.step().await {
            Ok(report) => {
                if report.rewound > 0 {
                    println!("[replica]  L1 reorg: {} L2 blocks undone, deriving again", report.rewound);
                }
                let now = (replica.safe().number, replica.finalized());
                if now != last {
                    println!("[replica]  safe head {}, finalized {}", now.0, now.1);
                    last = now;
                }
            }
            Err(e) => println!("[error]    {e}"),
        }
    }
    let _ = server.handle.stop();
    server.handle.stopped().await;
    Ok(())
}
