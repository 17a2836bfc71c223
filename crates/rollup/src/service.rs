//! The rollup's roles run together as background tasks: sequencer (with the L2 JSON-RPC),
//! batcher, replica (with its own JSON-RPC) and proposer, against any L1 reached through the
//! alloy client. `loft devnet` runs this beside the embedded L1. Progress is reported as
//! [`RollupEvent`]s.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::{eips::BlockNumberOrTag, providers::Provider, signers::local::PrivateKeySigner};
use alloy_primitives::{Address, U256};
use loft_chain::{Chain, Store};
use loft_l1::{L1Client, L1Error};
use loft_node::{MiningMode, Node, TxRoute};
use loft_rpc::RpcServer;
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    batcher::{Batcher, BatcherStore, DataMode, PostReport},
    channel_policy::ChannelPolicy,
    config::{L1Anchor, RollupConfig},
    contracts::{RollupDeployParams, RollupDeployment, deploy},
    genesis::l2_chain_config,
    proposer::{Output, Proposer},
    replica::Replica,
    sequencer::{NodeError, Sequenced, Sequencer},
};

/// How to run the rollup.
#[derive(Clone, Debug)]
pub struct RollupServiceConfig {
    /// The L1's JSON-RPC URL.
    pub l1_url: String,
    /// Deploys the L1 contracts.
    pub deployer: PrivateKeySigner,
    /// Posts batches.
    pub batcher: PrivateKeySigner,
    /// Posts output roots.
    pub proposer: PrivateKeySigner,
    /// L1 accounts that each deposit [`RollupServiceConfig::l2_funding`] to their own L2
    /// address through the portal when a new rollup is deployed (not on a resume), so that
    /// well-known accounts hold ETH on L2 that the portal backs; one with too little ETH on
    /// L1 is skipped. The L2 genesis funds nobody.
    pub fund_on_l2: Vec<PrivateKeySigner>,
    /// What each of [`RollupServiceConfig::fund_on_l2`] deposits, in wei.
    pub l2_funding: U256,
    /// The sequencer's JSON-RPC address.
    pub sequencer_addr: SocketAddr,
    /// The replica's JSON-RPC address.
    pub replica_addr: SocketAddr,
    /// Seconds between L2 blocks.
    pub block_time: u64,
    /// L2 blocks between output roots.
    pub output_interval: u64,
    /// The withdrawal challenge window, seconds.
    pub finalization_period: u64,
    /// When the batcher closes a channel and how it posts it (calldata, blobs or the
    /// cheaper); its maximum duration must stay under half the sequencing window.
    pub channel_policy: ChannelPolicy,
    /// L1 blocks on top of an L1 block before the sequencer takes it as an origin.
    pub sequencer_l1_confs: u64,
    /// Where the L2 chains are kept; in memory when `None`.
    pub data_dir: Option<PathBuf>,
}

/// What the rollup's roles report.
#[derive(Clone, Debug)]
pub enum RollupEvent {
    /// The sequencer built a block.
    Sequenced {
        /// Its number.
        number: u64,
        /// Sequenced (non-deposit) transactions.
        transactions: usize,
        /// Deposits from L1 (the L1-info deposit excluded).
        deposits: usize,
        /// Its epoch.
        epoch: u64,
    },
    /// L1 reorganised the sequencer's origin: it undid its blocks back to one whose origin L1
    /// still has.
    SequencerRewound {
        /// Blocks undone.
        undone: u64,
        /// The block it continues from.
        to: u64,
    },
    /// The batcher posted blocks.
    Posted(PostReport),
    /// The replica derived blocks from L1.
    Derived {
        /// Its safe head.
        safe: u64,
        /// Its finalized head.
        finalized: u64,
        /// Whether its block hash equals the sequencer's at that height.
        agrees: bool,
    },
    /// The proposer posted an output root.
    Proposed(Output),
    /// A role failed (it retries).
    Error(String),
}

/// The running rollup.
pub struct RunningRollup {
    /// Whether an existing rollup was resumed from the data directory.
    pub resumed: bool,
    /// The accounts whose funding deposits ([`RollupServiceConfig::fund_on_l2`]) were made
    /// and have arrived on L2.
    pub funded_on_l2: Vec<Address>,
    /// What another node needs to join this rollup (`loft rollup replica`) and what a user's
    /// commands need (`loft rollup deposit` ...).
    pub record: RollupRecord,
    /// Consensus parameters.
    pub config: RollupConfig,
    /// The L1 contracts.
    pub deployment: RollupDeployment,
    /// The sequencer's node.
    pub sequencer: Arc<Node>,
    /// The replica's node.
    pub replica: Arc<Node>,
    /// The sequencer's JSON-RPC server.
    pub sequencer_rpc: RpcServer,
    /// The replica's JSON-RPC server.
    pub replica_rpc: RpcServer,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningRollup {
    /// Stops every role and server.
    pub async fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
        for rpc in [self.sequencer_rpc, self.replica_rpc] {
            let _ = rpc.handle.stop();
            rpc.handle.stopped().await;
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// What `loft devnet` deposits to L2 for each dev account: 1,000 ETH.
pub const DEVNET_L2_FUNDING_WEI: u128 = 1_000 * 1_000_000_000_000_000_000;

/// How long the funding deposits of a new rollup may take to arrive on L2.
const FUNDING_TIMEOUT: Duration = Duration::from_secs(120);

/// Each of `cfg.fund_on_l2` with enough ETH on L1 deposits `cfg.l2_funding` to itself on L2
/// through the portal; returns once every deposit is in the sequencer's chain.
async fn fund_on_l2(
    cfg: &RollupServiceConfig,
    deployment: &RollupDeployment,
    sequencer: &Node,
) -> Result<Vec<Address>, NodeError> {
    let mut funded = Vec::new();
    // What a deposit's L1 transaction may cost on top of its value.
    let gas_margin = U256::from(10u64).pow(U256::from(17));
    for key in &cfg.fund_on_l2 {
        let l1 = L1Client::connect(&cfg.l1_url, key.clone()).await?;
        if l1.balance(key.address()).await? < cfg.l2_funding + gas_margin {
            continue;
        }
        crate::bridge::deposit_eth(&l1, deployment, key.address(), cfg.l2_funding).await?;
        funded.push(key.address());
    }
    let deadline = tokio::time::Instant::now() + FUNDING_TIMEOUT;
    while !funded.iter().all(|a| sequencer.with_chain(|c| c.state().balance(a)) >= cfg.l2_funding) {
        if tokio::time::Instant::now() > deadline {
            return Err(NodeError::Funding(format!(
                "the deposits of {} account(s) did not arrive on L2 within {FUNDING_TIMEOUT:?}",
                funded.len()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(funded)
}

/// An L2 node of the rollup `record` describes (its genesis), kept in `dir` (in memory when
/// `None`), mining only when told (the sequencer or derivation builds its blocks).
pub fn l2_node(record: &RollupRecord, dir: Option<PathBuf>) -> Result<Arc<Node>, NodeError> {
    let store = match dir {
        Some(d) => Store::open(&d)?,
        None => Store::in_memory()?,
    };
    // No account holds ETH at genesis: every wei on L2 comes from a deposit into the portal.
    let chain =
        Chain::open(l2_chain_config(&record.config, vec![], record.deployment.l1_standard_bridge), store)?;
    Ok(Node::new(chain, MiningMode::Manual, vec![]))
}

/// What a data directory remembers of the rollup it ran: its consensus parameters and L1
/// contracts, so that a restart resumes the same rollup.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RollupRecord {
    /// Consensus parameters.
    pub config: RollupConfig,
    /// The L1 contracts.
    pub deployment: RollupDeployment,
}

impl RollupRecord {
    /// Reads a record written by [`RollupRecord::save`] (or by `loft devnet`).
    pub fn load(path: &std::path::Path) -> Result<Self, NodeError> {
        loft_l1::binding::load_record(path).map_err(|e| {
            NodeError::L1(L1Error::Config(format!("cannot read the rollup record {}: {e}", path.display())))
        })
    }

    /// Writes the record atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<(), NodeError> {
        Ok(loft_l1::binding::save_record(path, self).map_err(L1Error::Io)?)
    }
}

impl loft_l1::binding::DeploymentRecord for RollupRecord {
    fn binding(&self) -> loft_l1::binding::Binding {
        let anchor = &self.config.l1_anchor;
        loft_l1::binding::Binding {
            chain_id: self.config.l1_chain_id,
            contract: self.deployment.portal,
            bound_to: Some((anchor.number, anchor.hash)),
        }
    }
}

const RECORD_FILE: &str = "rollup.json";

/// Deploys the L1 contracts and the rollup's parameters, or, when `cfg.data_dir` holds a
/// rollup already, checks that L1 still has its contracts and anchor block and resumes it;
/// `true` when resumed.
async fn deploy_or_resume(
    cfg: &RollupServiceConfig,
    l1: &L1Client,
) -> Result<(RollupRecord, bool), NodeError> {
    let Some(dir) = &cfg.data_dir else {
        return Ok((deploy_rollup(cfg, l1).await?, false));
    };
    let path = dir.join(RECORD_FILE);
    let recorded = loft_l1::binding::recorded::<RollupRecord>(l1, &path).await?;
    if let loft_l1::binding::Recorded::Foreign(_) = recorded {
        return Err(NodeError::L1(L1Error::Config(format!(
            "{} records a rollup whose L1 contracts or anchor block this L1 does not have (a new L1?); \
             remove that directory to start a new rollup",
            dir.display()
        ))));
    }
    let (record, deployed) = loft_l1::binding::deploy_or_resume(
        &path,
        recorded,
        async || deploy_rollup(cfg, l1).await,
        |e| NodeError::L1(L1Error::Io(e)),
    )
    .await?;
    Ok((record, !deployed))
}

/// Deploys the L1 contracts on `l1` and makes the rollup's parameters, anchored at L1's head.
async fn deploy_rollup(cfg: &RollupServiceConfig, l1: &L1Client) -> Result<RollupRecord, NodeError> {
    let l1_chain_id = l1.chain_id().await?;
    let anchor = l1
        .provider()
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(L1Error::from)?
        .ok_or(NodeError::MissingL1Block(0))?;
    let deployment = deploy(
        l1,
        &RollupDeployParams {
            proposer: cfg.proposer.address(),
            challenger: cfg.deployer.address(),
            submission_interval: cfg.output_interval,
            l2_block_time: cfg.block_time,
            l2_genesis_time: anchor.header.timestamp,
            finalization_period: cfg.finalization_period,
        },
    )
    .await?;
    let l1_anchor = L1Anchor {
        number: anchor.header.number,
        hash: anchor.header.hash,
        timestamp: anchor.header.timestamp,
    };
    let config = RollupConfig {
        l1_chain_id,
        block_time: cfg.block_time,
        ..RollupConfig::devnet(l1_anchor, cfg.batcher.address(), deployment.portal)
    };
    Ok(RollupRecord { config, deployment })
}

/// Starts both L2 nodes and every role (deploying the L1 contracts first, unless
/// `cfg.data_dir` holds a rollup to resume); events go to `events`.
pub async fn start(
    cfg: RollupServiceConfig,
    events: mpsc::UnboundedSender<RollupEvent>,
) -> Result<RunningRollup, NodeError> {
    let l1 = L1Client::connect(&cfg.l1_url, cfg.deployer.clone()).await?;
    let (record, resumed) = deploy_or_resume(&cfg, &l1).await?;
    // A channel must reach L1 well within the sequencing window of its first block's epoch.
    if cfg.channel_policy.max_duration.saturating_mul(2) >= record.config.sequencing_window {
        return Err(NodeError::Batch(format!(
            "a maximum channel duration of {} L1 blocks is not under half the sequencing window ({} blocks)",
            cfg.channel_policy.max_duration, record.config.sequencing_window
        )));
    }
    let (config, deployment) = (record.config.clone(), record.deployment);
    let dir = |name: &str| cfg.data_dir.as_ref().map(|d| d.join(name));
    let sequencer_node = l2_node(&record, dir("l2-sequencer"))?;
    let replica_node = l2_node(&record, dir("l2-replica"))?;
    let serve = |node: Arc<Node>, addr: SocketAddr| async move {
        loft_rpc::serve(node, addr, loft_rpc::Methods::Public)
            .await
            .map_err(|e| NodeError::L1(L1Error::Config(format!("cannot listen on {addr}: {e}"))))
    };
    let sequencer_rpc = serve(sequencer_node.clone(), cfg.sequencer_addr).await?;
    let replica_rpc = serve(replica_node.clone(), cfg.replica_addr).await?;
    // The replica never includes a transaction itself: it hands it to the sequencer.
    replica_node.set_tx_route(TxRoute::Forward(format!("http://{}", sequencer_rpc.addr)));

    let mut tasks = Vec::new();
    // Sequencer: a block every block_time seconds.
    let mut sequencer = Sequencer::new(config.clone(), sequencer_node.clone(), l1.clone())?
        .with_l1_confs(cfg.sequencer_l1_confs);
    let tx = events.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            match sequencer.step_report(unix_now()).await {
                Ok(Sequenced::Block(block)) => {
                    let deposits = block.receipts.iter().filter(|r| r.deposit_nonce().is_some()).count();
                    let _ = tx.send(RollupEvent::Sequenced {
                        number: block.header.header.number,
                        transactions: block.tx_hashes.len() - deposits,
                        deposits: deposits.saturating_sub(1),
                        epoch: sequencer.head().epoch,
                    });
                    continue;
                }
                Ok(Sequenced::Rewound { undone, to }) => {
                    let _ = tx.send(RollupEvent::SequencerRewound { undone, to });
                    continue;
                }
                Ok(Sequenced::Waiting) => {}
                Err(e) => {
                    let _ = tx.send(RollupEvent::Error(format!("sequencer: {e}")));
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }));
    // Batcher: every 2 s, everything not yet posted.
    let batcher_l1 = L1Client::connect(&cfg.l1_url, cfg.batcher.clone()).await?;
    let batcher_store = match &cfg.data_dir {
        Some(d) => BatcherStore::open(&d.join("batcher.redb"))?,
        None => BatcherStore::in_memory()?,
    };
    let mut batcher =
        Batcher::new(config.clone(), sequencer_node.clone(), batcher_l1, batcher_store, 0, DataMode::Blobs)?
            .with_policy(cfg.channel_policy);
    let tx = events.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            match batcher.post(500).await {
                Ok(report)
                    if report.blocks.is_some() || report.reorged + report.bumped + report.abandoned > 0 =>
                {
                    let _ = tx.send(RollupEvent::Posted(report));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(RollupEvent::Error(format!("batcher: {e}")));
                }
            }
        }
    }));
    // Replica: follows L1 every second.
    let mut replica = Replica::new(config.clone(), replica_node.clone(), l1.clone()).await?;
    let tx = events.clone();
    let seq = sequencer_node.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match replica.step().await {
                Ok(report) if report.derived == 0 && report.rewound == 0 => {}
                Ok(report) => {
                    if report.rewound > 0 {
                        let _ = tx.send(RollupEvent::Error(format!(
                            "replica: L1 reorg undid {} L2 blocks; deriving again",
                            report.rewound
                        )));
                    }
                    let safe = replica.safe();
                    let finalized = replica.finalized();
                    let agrees = seq
                        .with_chain(|c| c.header_by_number(safe.number))
                        .ok()
                        .flatten()
                        .is_some_and(|h| h.hash == safe.hash);
                    // The sequencer's safe and finalized tags follow the replica's, while the
                    // two chains agree (as op-node's do, from its own derivation).
                    if agrees && let Err(e) = seq.with_chain(|c| c.set_forkchoice(safe.number, finalized)) {
                        let _ = tx.send(RollupEvent::Error(format!("sequencer forkchoice: {e}")));
                    }
                    let _ = tx.send(RollupEvent::Derived { safe: safe.number, finalized, agrees });
                }
                Err(e) => {
                    let _ = tx.send(RollupEvent::Error(format!("replica: {e}")));
                }
            }
        }
    }));
    // Proposer: outputs of the replica's (safe) chain.
    let proposer_l1 = L1Client::connect(&cfg.l1_url, cfg.proposer.clone()).await?;
    let mut proposer = Proposer::new(replica_node.clone(), proposer_l1, deployment.output_oracle);
    let tx = events;
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            match proposer.step().await {
                Ok(Some(output)) => {
                    let _ = tx.send(RollupEvent::Proposed(output));
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.send(RollupEvent::Error(format!("proposer: {e}")));
                }
            }
        }
    }));
    let funded_on_l2 = if resumed { vec![] } else { fund_on_l2(&cfg, &deployment, &sequencer_node).await? };
    Ok(RunningRollup {
        resumed,
        funded_on_l2,
        record: record.clone(),
        config,
        deployment,
        sequencer: sequencer_node,
        replica: replica_node,
        sequencer_rpc,
        replica_rpc,
        tasks,
    })
}
