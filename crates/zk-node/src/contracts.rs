//! Bindings to the ZK rollup's L1 contracts (from the committed artifacts), the rollup's
//! configuration and genesis, and deployment.

use alloy_primitives::{Address, B256, U256};
use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use loft_l1::{L1Client, L1Error};
use loft_zk::{
    block::BlockShape,
    state::{Params, State, StateError},
};
use serde::{Deserialize, Serialize};

use crate::keys::RollupKeys;

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs, clippy::too_many_arguments)]
    ZkRollup,
    "../../contracts/artifacts/ZkRollup.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    Groth16Verifier,
    "../../contracts/artifacts/Groth16Verifier.json"
);

/// The parameters of one ZK rollup: they fix its circuits, keys and contract.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RollupConfig {
    /// Depth of the account tree.
    pub account_depth: usize,
    /// Depth of each balance tree.
    pub balance_depth: usize,
    /// Wide slots per block.
    pub wide_slots: usize,
    /// Transfer slots per block.
    pub transfer_slots: usize,
    /// The operator's fee account (opened at genesis for the operator's address).
    pub fee_account: u64,
    /// L1 blocks a priority request may wait, past its place in the queue, before exodus can
    /// be activated.
    pub priority_expiration_blocks: u64,
    /// The operator's capacity: L1 blocks it needs per block (each retiring up to
    /// `wide_slots` priority requests), proving and inclusion included. Each request's
    /// deadline counts the queue ahead of it at this rate (docs/zk.md, "The priority queue").
    pub block_interval: u64,
    /// The smallest ETH deposit, in wei.
    pub min_deposit: u128,
}

impl RollupConfig {
    /// A small rollup for devnets and tests: quick to set up and prove.
    pub fn devnet() -> Self {
        Self {
            account_depth: 24,
            balance_depth: 3,
            wide_slots: 2,
            transfer_slots: 4,
            fee_account: 0,
            priority_expiration_blocks: 600,
            block_interval: 10,
            min_deposit: 1_000_000_000_000,
        }
    }

    /// The tree depths.
    pub fn params(&self) -> Params {
        Params { account_depth: self.account_depth, balance_depth: self.balance_depth }
    }

    /// The block shape.
    pub fn shape(&self) -> BlockShape {
        BlockShape { wide: self.wide_slots, transfers: self.transfer_slots }
    }

    /// The state before block 1: the operator's fee account and nothing else.
    pub fn genesis(&self, operator: Address) -> Result<State, StateError> {
        let mut state = State::new(self.params());
        state.create_account(operator.into_array())?;
        Ok(state)
    }
}

/// Where a ZK rollup lives on an L1.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id of the L1.
    pub chain_id: u64,
    /// The `ZkRollup` contract.
    pub rollup: Address,
    /// The block circuit's verifier.
    pub block_verifier: Address,
    /// The exit circuit's verifier.
    pub exit_verifier: Address,
    /// The operator (validator and governor).
    pub operator: Address,
    /// The L1 block the rollup was deployed in (logs are read from there).
    pub deployed_at: u64,
    /// An L1 block (number, hash) at or after the deployment: the deployment, and every
    /// record made for it, belongs to the L1 history that has this block. A new L1 whose
    /// contract lands at the same address (a restarted in-memory devnet) does not have it.
    #[serde(default)]
    pub bound_to: Option<(u64, B256)>,
    /// The parameters.
    pub config: RollupConfig,
}

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The L1 refused or failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// A contract call failed.
    #[error("contract: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// The configuration is out of range.
    #[error("configuration: {0}")]
    Config(String),
    /// The genesis state.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A field element as a big-endian word.
pub fn fr_word(f: &Fr) -> B256 {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    B256::from(out)
}

async fn deploy_verifier(l1: &L1Client, keys: &loft_zk::groth16::Keys) -> Result<Address, DeployError> {
    let words = loft_zk::solidity::verifier_key_words(&keys.verifying)
        .ok_or_else(|| DeployError::Config("a verifying key with one public input".into()))?;
    let vk = words.map(U256::from_be_bytes);
    let code = Groth16Verifier::deploy_builder(l1.provider().clone(), vk).calldata().clone();
    Ok(l1.deploy(code).await?)
}

/// Deploys both verifiers (from `keys`) and the rollup, with `l1`'s account as operator and
/// governor.
pub async fn deploy(
    l1: &L1Client,
    config: &RollupConfig,
    keys: &RollupKeys,
) -> Result<Deployment, DeployError> {
    let narrow = |what: &str, v: usize, max: usize| {
        if v > max { Err(DeployError::Config(format!("{what} {v} is above {max}"))) } else { Ok(v) }
    };
    narrow("account depth", config.account_depth, 24)?;
    narrow("balance depth", config.balance_depth, 8)?;
    narrow("wide slots", config.wide_slots, u16::MAX as usize)?;
    narrow("transfer slots", config.transfer_slots, u16::MAX as usize)?;
    if config.block_interval == 0 || config.block_interval >= config.priority_expiration_blocks {
        return Err(DeployError::Config(format!(
            "block interval {} must be at least 1 and below the priority expiration {} (a request \
             could expire before an operator at capacity reached it)",
            config.block_interval, config.priority_expiration_blocks
        )));
    }
    let chain_id = l1.chain_id().await?;
    let deployed_at = l1.block_number().await?;
    let block_verifier = deploy_verifier(l1, &keys.block).await?;
    let exit_verifier = deploy_verifier(l1, &keys.exit).await?;
    let genesis = config.genesis(l1.address())?;
    let code = ZkRollup::deploy_builder(
        l1.provider().clone(),
        block_verifier,
        exit_verifier,
        fr_word(&genesis.root()),
        l1.address(),
        l1.address(),
        config.wide_slots as u16,
        config.transfer_slots as u16,
        config.balance_depth as u8,
        config.account_depth as u8,
        config.priority_expiration_blocks,
        config.block_interval,
        config.min_deposit,
    )
    .calldata()
    .clone();
    let rollup = l1.deploy(code).await?;
    Ok(Deployment {
        bound_to: Some(loft_l1::binding::head_block(l1).await?),
        chain_id,
        rollup,
        block_verifier,
        exit_verifier,
        operator: l1.address(),
        deployed_at,
        config: config.clone(),
    })
}

/// Registers the ERC-20 `token` in the rollup with `l1`'s account (which must be the
/// governor), unless it is registered already; returns its token id either way.
pub async fn add_token(l1: &L1Client, d: &Deployment, token: Address) -> Result<u64, DeployError> {
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    let known = rollup.tokenIds(token).call().await?;
    if known != 0 {
        return Ok(u64::from(known));
    }
    let receipt =
        rollup.addToken(token).send().await?.get_receipt().await.map_err(alloy::contract::Error::from)?;
    if !receipt.status() {
        return Err(DeployError::Config(format!("registering token {token} reverted")));
    }
    Ok(u64::from(rollup.tokenIds(token).call().await?))
}

impl loft_l1::binding::DeploymentRecord for Deployment {
    fn binding(&self) -> loft_l1::binding::Binding {
        loft_l1::binding::Binding { chain_id: self.chain_id, contract: self.rollup, bound_to: self.bound_to }
    }
}

impl Deployment {
    /// Writes the record as JSON, atomically.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        loft_l1::binding::save_record(path, self)
    }

    /// What a record made for this deployment is bound to: chain id, rollup address and
    /// bound block, as text.
    pub fn binding_text(&self) -> String {
        match self.bound_to {
            Some((number, hash)) => {
                format!("chain {} rollup {} block {number} {hash}", self.chain_id, self.rollup)
            }
            None => format!("chain {} rollup {}", self.chain_id, self.rollup),
        }
    }

    /// Reads a record written by [`Deployment::save`].
    pub fn load(path: &std::path::Path) -> std::io::Result<Self> {
        loft_l1::binding::load_record(path)
    }
}
