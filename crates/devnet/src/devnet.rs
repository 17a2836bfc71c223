//! The embedded L1 devnet: loft's chain engine with a miner, served over Ethereum JSON-RPC.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::U256;
use loft_chain::{Chain, ChainConfig, ChainError, GenesisAccount, Store};
use loft_l1::{L1Error, dev_signers};
use loft_rpc::{MiningMode, Node, RpcServer};

/// The devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The dev accounts could not be derived.
    #[error(transparent)]
    Accounts(#[from] L1Error),
    /// The chain could not be opened (a store of another chain, a corrupt store).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The JSON-RPC address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// Opening the chain did not finish (its task panicked or was cancelled).
    #[error("opening the chain: {0}")]
    Open(String),
}

/// How to run the devnet.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// JSON-RPC address (HTTP and WebSocket).
    pub addr: SocketAddr,
    /// Chain id.
    pub chain_id: u64,
    /// Where the chain is stored; `None` keeps it in memory.
    pub data_dir: Option<PathBuf>,
    /// Instant, interval or manual mining.
    pub mining: MiningMode,
    /// How many dev accounts to fund.
    pub accounts: u32,
    /// Balance of each dev account in ether.
    pub balance_eth: u64,
    /// Gas per block (`None`: the chain's default, 30,000,000).
    pub block_gas_limit: Option<u64>,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            chain_id: 31337,
            data_dir: None,
            mining: MiningMode::Instant,
            accounts: 10,
            balance_eth: 10_000,
            block_gas_limit: None,
        }
    }
}

/// A running embedded devnet.
pub struct Devnet {
    /// The node (chain, pool, miner state).
    pub node: Arc<Node>,
    /// The JSON-RPC server.
    pub rpc: RpcServer,
    /// The funded dev accounts.
    pub accounts: Vec<PrivateKeySigner>,
    miner: tokio::task::JoinHandle<()>,
}

impl Devnet {
    /// Opens (or creates) the chain and starts serving it.
    pub async fn start(config: DevnetConfig) -> Result<Self, DevnetError> {
        let accounts = dev_signers(config.accounts)?;
        let balance = U256::from(config.balance_eth) * U256::from(10u64).pow(U256::from(18));
        let mut alloc: Vec<GenesisAccount> = accounts
            .iter()
            .map(|s| GenesisAccount { address: s.address(), balance, ..Default::default() })
            .collect();
        alloc.push(crate::predeploys::multicall3());
        let mut chain_config = ChainConfig::dev(config.chain_id, alloc);
        if let Some(gas) = config.block_gas_limit {
            chain_config.block_gas_limit = gas;
        }
        let store = match &config.data_dir {
            Some(dir) => Store::open(dir)?,
            None => Store::in_memory()?,
        };
        let chain = tokio::task::spawn_blocking(move || Chain::open(chain_config, store))
            .await
            .map_err(|e| DevnetError::Open(e.to_string()))??;
        let node = Node::new(chain, config.mining, accounts.clone());
        let rpc = loft_rpc::serve(node.clone(), config.addr, loft_rpc::Methods::WithDevControls)
            .await
            .map_err(|error| DevnetError::Listen { addr: config.addr, error })?;
        let miner = node.spawn_miner();
        Ok(Self { node, rpc, accounts, miner })
    }

    /// The HTTP URL of the JSON-RPC server.
    pub fn url(&self) -> String {
        format!("http://{}", self.rpc.addr)
    }

    /// The WebSocket URL of the JSON-RPC server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc.addr)
    }

    /// Stops serving and mining.
    pub async fn stop(self) {
        self.miner.abort();
        let _ = self.rpc.handle.stop();
        self.rpc.handle.stopped().await;
    }
}
