//! The embedded L1 devnet: loft's chain engine with a miner, served over Ethereum JSON-RPC.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use alloy_primitives::U256;
use loft_chain::{Chain, ChainConfig, GenesisAccount, Store};
use loft_rpc::{MiningMode, Node, RpcServer};

use crate::client::L1Error;

/// The well-known test mnemonic (anvil's and hardhat's): its accounts are funded at genesis.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

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

/// The first `count` accounts of [`DEV_MNEMONIC`] (BIP-44 path m/44'/60'/0'/0/i).
pub fn dev_signers(count: u32) -> Result<Vec<PrivateKeySigner>, L1Error> {
    (0..count)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(i)
                .and_then(|b| b.build())
                .map_err(|e| L1Error::Config(format!("dev account {i}: {e}")))
        })
        .collect()
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
    pub async fn start(config: DevnetConfig) -> Result<Self, L1Error> {
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
            .map_err(|e| L1Error::Config(e.to_string()))??;
        let node = Node::new(chain, config.mining, accounts.clone());
        let rpc = loft_rpc::serve(node.clone(), config.addr, loft_rpc::Methods::WithDevControls)
            .await
            .map_err(|e| L1Error::Config(format!("cannot listen on {}: {e}", config.addr)))?;
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
