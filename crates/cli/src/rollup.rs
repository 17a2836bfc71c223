//! The optimistic rollup inside `loft devnet`: starts every role, prints what they do, and
//! runs a short demo (deposit, L2 transfers, an ERC-20 deployment, a withdrawal round trip).

use std::{net::SocketAddr, time::Duration};

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use alloy_primitives::{Address, Bytes, U256};
use anyhow::{Context, bail};
use loft_l1::{L1Client, contracts};
use loft_rollup::{
    bridge,
    channel_policy::{ChannelPolicy, DataChoice},
    service::{RollupEvent, RollupServiceConfig, RunningRollup, start},
};
use tokio::sync::mpsc;

const ETH: u128 = 1_000_000_000_000_000_000;

/// How `loft devnet` runs the rollup.
pub struct RollupOptions {
    /// Where the sequencer's and replica's JSON-RPC listen.
    pub host: std::net::IpAddr,
    /// The sequencer's port.
    pub l2_port: u16,
    /// The replica's port.
    pub replica_port: u16,
    /// Batches as the cheaper of blobs and calldata (else calldata).
    pub blobs: bool,
    /// L1 blocks a channel may stay open before it is posted.
    pub max_channel_duration: u64,
    /// Where the rollup is kept (in memory when `None`).
    pub data_dir: Option<std::path::PathBuf>,
    /// The sequencer's L1 confirmation depth for origins.
    pub l1_confs: u64,
}

/// Starts the rollup against the L1 at `l1_url`; dev accounts 0-2 deploy, batch and propose,
/// and each of `keys` deposits 1,000 ETH to its own L2 address.
pub async fn run(
    l1_url: &str,
    keys: &[PrivateKeySigner],
    options: RollupOptions,
) -> anyhow::Result<RunningRollup> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let blobs = options.blobs;
    let options_duration = options.max_channel_duration;
    let cfg = RollupServiceConfig {
        l1_url: l1_url.to_string(),
        deployer: keys[0].clone(),
        batcher: keys[1].clone(),
        proposer: keys[2].clone(),
        fund_on_l2: keys.to_vec(),
        l2_funding: U256::from(loft_rollup::service::DEVNET_L2_FUNDING_WEI),
        sequencer_addr: SocketAddr::new(options.host, options.l2_port),
        replica_addr: SocketAddr::new(options.host, options.replica_port),
        block_time: 1,
        output_interval: 10,
        finalization_period: 12,
        channel_policy: ChannelPolicy {
            max_duration: options.max_channel_duration,
            data: if blobs { DataChoice::Cheaper } else { DataChoice::Calldata },
            ..ChannelPolicy::DEFAULT
        },
        sequencer_l1_confs: options.l1_confs,
        data_dir: options.data_dir,
    };
    let rollup = start(cfg, tx).await.context("starting the optimistic rollup")?;
    println!();
    println!("optimistic rollup (chain id {})", rollup.config.l2_chain_id);
    println!("  sequencer  http://{} (L2 JSON-RPC, blocks every 1 s)", rollup.sequencer_rpc.addr);
    println!("  replica    http://{} (derived from L1 only: the safe chain)", rollup.replica_rpc.addr);
    println!("  portal     {}", rollup.deployment.portal);
    println!(
        "  oracle     {} (outputs every 10 L2 blocks, 12 s challenge window)",
        rollup.deployment.output_oracle
    );
    println!(
        "  trust      output roots are trusted: no fault proof checks them yet, and the challenger \
         (dev account 0) may delete any output without a proof"
    );
    println!("  L1 bridge  {}", rollup.deployment.l1_standard_bridge);
    println!(
        "  batches    to {} as {}, a channel per {} KB of compressed data or {} L1 blocks",
        rollup.config.batch_inbox,
        if blobs { "the cheaper of blobs and calldata" } else { "calldata" },
        ChannelPolicy::DEFAULT.target_bytes / 1000,
        options_duration
    );
    if !rollup.funded_on_l2.is_empty() {
        println!(
            "  L2 funds   dev accounts {} deposited {} ETH each through the portal (the genesis funds nobody)",
            dev_indexes(keys, &rollup.funded_on_l2),
            loft_rollup::service::DEVNET_L2_FUNDING_WEI / ETH
        );
    }
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                RollupEvent::Sequenced { number, transactions, deposits, epoch }
                    if transactions + deposits > 0 =>
                {
                    println!(
                        "[L2]       block {number}: {transactions} txs, {deposits} deposits (L1 origin {epoch})"
                    )
                }
                RollupEvent::Sequenced { .. } => {}
                RollupEvent::Posted(r) => {
                    if let Some((a, b)) = r.blocks {
                        let blob_gas = if r.l1_blob_gas > 0 {
                            format!(" + {} blob gas", r.l1_blob_gas)
                        } else {
                            String::new()
                        };
                        println!(
                            "[batcher]  L2 blocks {a}-{b}: {} txs, {} B -> {} B compressed, {} L1 tx(s), {} L1 gas{blob_gas}",
                            r.transactions, r.raw_bytes, r.compressed_bytes, r.l1_transactions, r.l1_gas
                        );
                    }
                    if r.reorged + r.bumped + r.abandoned > 0 {
                        println!(
                            "[batcher]  {} transaction(s) re-sent after an L1 reorg, {} replaced with higher fees, \
                             {} channel(s) of replaced blocks abandoned",
                            r.reorged, r.bumped, r.abandoned
                        );
                    }
                }
                RollupEvent::Derived { safe, finalized, agrees } => println!(
                    "[replica]  safe head {safe}, finalized {finalized} {}",
                    if agrees { "(same block as the sequencer)" } else { "(DIFFERS from the sequencer)" }
                ),
                RollupEvent::SequencerRewound { undone, to } => println!(
                    "[L2]       L1 reorganised the sequencer's origin: {undone} blocks undone, continuing from {to}"
                ),
                RollupEvent::Proposed(o) => {
                    println!("[proposer] output root of L2 block {}: {}", o.block_number, o.root)
                }
                RollupEvent::Error(e) => println!("[error]    {e}"),
            }
        }
    });
    Ok(rollup)
}

/// "0-9", or the list, of the dev accounts among `funded`.
fn dev_indexes(keys: &[PrivateKeySigner], funded: &[Address]) -> String {
    let indexes: Vec<usize> =
        keys.iter().enumerate().filter(|(_, k)| funded.contains(&k.address())).map(|(i, _)| i).collect();
    match (indexes.first(), indexes.last()) {
        (Some(first), Some(last)) if last - first + 1 == indexes.len() => format!("{first}-{last}"),
        _ => indexes.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
    }
}

async fn wait_for<F, Fut>(what: &str, secs: u64, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    for _ in 0..secs * 4 {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("timed out waiting for {what}")
}

/// The demo workload, as dev account 3.
pub async fn demo(l1_url: &str, rollup: &RunningRollup, user: PrivateKeySigner) -> anyhow::Result<()> {
    let l2_url = format!("http://{}", rollup.sequencer_rpc.addr);
    let l1 = L1Client::connect(l1_url, user.clone()).await?;
    let l2 = L1Client::connect(&l2_url, user.clone()).await?;
    let me = user.address();
    println!("\ndemo as {me}");

    // 1. Deposit through the portal.
    let before = l2.balance(me).await?;
    bridge::deposit_eth(&l1, &rollup.deployment, me, U256::from(5 * ETH)).await?;
    println!("[demo]     deposited 5 ETH on L1; waiting for it on L2");
    wait_for("the deposit on L2", 60, || async { Ok(l2.balance(me).await? >= before + U256::from(5 * ETH)) })
        .await?;
    println!("[demo]     deposit arrived: L2 balance {} ETH", l2.balance(me).await? / U256::from(ETH));

    // 2. L2 transfers and a contract deployment, with the L1 data fee.
    let bob = Address::repeat_byte(0xb0);
    for _ in 0..3 {
        l2.transfer(bob, U256::from(ETH / 100)).await?;
    }
    let fee: U256 = l2.provider().raw_request("loft_getL1Fee".into(), (Bytes::from(vec![1u8; 110]),)).await?;
    println!("[demo]     3 L2 transfers mined; L1 data fee of a ~110-byte transaction now: {fee} wei");
    let token = contracts::deploy_all(&l2).await?.loft_token;
    println!("[demo]     LoftToken deployed on L2 at {token}");

    // 3. Withdrawal: initiate on L2, wait for an output, prove, wait, finalize.
    let (withdrawal, _) = bridge::withdraw_eth(&l2, me, U256::from(ETH)).await?;
    println!(
        "[demo]     withdrawal of 1 ETH initiated in L2 block {}; waiting for an output",
        withdrawal.l2_block
    );
    bridge::wait_for_output(&l1, &rollup.deployment, withdrawal.l2_block, Duration::from_secs(120)).await?;
    withdrawal.prove(&l1, rollup.deployment.portal, rollup.deployment.output_oracle, &rollup.replica).await?;
    println!("[demo]     withdrawal proven on L1; finalizing after the 12 s challenge window");
    let l1_before = l1.balance(me).await?;
    let mut finalized = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if withdrawal.finalize(&l1, rollup.deployment.portal).await.is_ok() {
            finalized = true;
            break;
        }
    }
    if !finalized {
        bail!("the withdrawal could not be finalized");
    }
    let l1_after = l1.balance(me).await?;
    println!(
        "[demo]     withdrawal finalized: L1 balance +{:.4} ETH (1 ETH less L1 gas)",
        (l1_after.saturating_sub(l1_before)).to::<u128>() as f64 / ETH as f64
    );
    println!("[demo]     done\n");
    Ok(())
}
