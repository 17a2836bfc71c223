//! What a chain is made of before its first block: its parameters and its genesis accounts,
//! including contracts predeployed from their creation code.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, Bytes, TxKind, U256};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{CfgEnv, TxEnv, result::ExecutionResult},
    database::EmptyDB,
    primitives::hardfork::SpecId,
};

use crate::{
    error::ChainError,
    l1_fee::{L1FeeConfig, L1Prices},
    pool::PoolConfig,
};

/// One pre-funded account (or pre-deployed contract) at genesis.
#[derive(Clone, Debug, Default)]
pub struct GenesisAccount {
    /// The account.
    pub address: Address,
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Runtime code (empty for an EOA).
    pub code: Bytes,
    /// Creation code to run once at genesis, on an empty state and with no constructor
    /// arguments, for the runtime code (in place of `code`): a well-known contract then lands
    /// byte for byte as its own deployment left it.
    pub initcode: Option<Bytes>,
    /// Storage slots.
    pub storage: Vec<(U256, U256)>,
}

/// Parameters of a chain.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// EVM rules.
    pub spec: SpecId,
    /// Gas limit of every block.
    pub block_gas_limit: u64,
    /// Base fee of the first block after genesis.
    pub genesis_base_fee: u64,
    /// Genesis timestamp (seconds).
    pub genesis_timestamp: u64,
    /// Smallest priority fee the pool accepts.
    pub min_tip: u128,
    /// Who receives priority fees.
    pub coinbase: Address,
    /// `extraData` of every block.
    pub extra_data: Bytes,
    /// Pool limits.
    pub pool: PoolConfig,
    /// Pre-funded accounts.
    pub alloc: Vec<GenesisAccount>,
    /// A rollup's L1 data fee rule; `None` on an L1.
    pub l1_fee: Option<L1FeeConfig>,
    /// Whether blob transactions (type 3) are accepted: on an L1, not on a rollup (its
    /// batches carry transactions without sidecars, so no replica could check the blobs).
    pub blob_txs: bool,
    /// Which blocks the `safe` and `finalized` tags name.
    pub finality: Finality,
    /// Reads the L1 prices a rollup block charged from its first transaction (the L1-info
    /// deposit's input), so that receipts can report each transaction's L1 data fee.
    pub l1_prices_reader: Option<L1PricesReader>,
}

/// Reads the L1 prices from an L1-info deposit's input.
pub type L1PricesReader = fn(&[u8]) -> Option<L1Prices>;

/// Which blocks a chain calls safe and finalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finality {
    /// A fixed depth below the head, as a proof-of-stake L1 reports them (anvil: 32 and 64
    /// blocks, one and two epochs).
    Depth {
        /// Blocks below the head that are safe.
        safe: u64,
        /// Blocks below the head that are finalized.
        finalized: u64,
    },
    /// Set from outside with [`Chain::set_forkchoice`] (a rollup's derivation from L1);
    /// genesis until then. Recorded in the store, so it survives restarts.
    External,
}

impl Finality {
    /// Anvil's rule: safe one epoch (32 slots) below the head, finalized two.
    pub const ANVIL: Self = Self::Depth { safe: 32, finalized: 64 };
}

impl ChainConfig {
    /// A development chain: Prague rules, 30M gas blocks, 1 gwei initial base fee.
    pub fn dev(chain_id: u64, alloc: Vec<GenesisAccount>) -> Self {
        Self {
            chain_id,
            spec: SpecId::PRAGUE,
            block_gas_limit: 30_000_000,
            genesis_base_fee: 1_000_000_000,
            genesis_timestamp: unix_now(),
            min_tip: 0,
            coinbase: Address::ZERO,
            extra_data: Bytes::from_static(b"loft"),
            pool: PoolConfig::default(),
            alloc,
            l1_fee: None,
            blob_txs: true,
            finality: Finality::ANVIL,
            l1_prices_reader: None,
        }
    }
}

/// How many blocks back state queries (`eth_call`, `eth_getBalance` at a block) can go.
pub const MAX_HISTORY: u64 = 100_000;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

impl GenesisAccount {
    /// A contract predeployed at `address` from its creation code (see
    /// [`GenesisAccount::initcode`]).
    pub fn from_initcode(address: Address, initcode: Bytes) -> Self {
        Self { address, initcode: Some(initcode), nonce: 1, ..Default::default() }
    }

    /// The account's runtime code: [`GenesisAccount::code`], or what its creation code returns.
    pub(crate) fn runtime_code(&self) -> Result<Bytes, ChainError> {
        let Some(initcode) = &self.initcode else {
            return Ok(self.code.clone());
        };
        let mut evm = Context::mainnet()
            .with_db(EmptyDB::default())
            .with_cfg(CfgEnv::new_with_spec(SpecId::PRAGUE))
            .build_mainnet();
        let tx = TxEnv {
            kind: TxKind::Create,
            data: initcode.clone(),
            gas_limit: 10_000_000,
            ..Default::default()
        };
        match evm.transact(tx).map_err(|e| ChainError::Evm(e.to_string()))?.result {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            other => Err(ChainError::Evm(format!("the creation code of {} failed: {other:?}", self.address))),
        }
    }
}
