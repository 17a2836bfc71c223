//! Bindings to `ChannelManager` and `SecretRegistry` (from the committed artifacts, so a node
//! needs no Solidity compiler), the deployment record, and the channel operations a
//! participant sends to L1.

use alloy::{providers::Provider, rpc::types::TransactionReceipt};
use alloy_primitives::{Address, B256, Bytes, U256};
use loft_channels::{ChannelDomain, LockList, Signature65, SignedBalanceProof};
use loft_l1::{L1Client, L1Error};
use serde::{Deserialize, Serialize};

alloy::sol!(
    #[sol(rpc, all_derives)]
    #[allow(missing_docs, clippy::too_many_arguments)]
    ChannelManager,
    "../../contracts/artifacts/ChannelManager.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[allow(missing_docs)]
    SecretRegistry,
    "../../contracts/artifacts/SecretRegistry.json"
);

alloy::sol! {
    #[sol(rpc)]
    #[allow(missing_docs)]
    interface IERC20 {
        function approve(address spender, uint256 amount) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
    }
}

/// Settle timeouts a devnet deployment allows, in blocks.
pub const DEVNET_SETTLE_TIMEOUT_MIN: u64 = 10;
/// The longest settle timeout a devnet deployment allows.
pub const DEVNET_SETTLE_TIMEOUT_MAX: u64 = 100_000;

/// Where the channel contracts of one L1 are (`target/loft-devnet/channels.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDeployment {
    /// The L1 chain id.
    pub chain_id: u64,
    /// The `ChannelManager`.
    pub channel_manager: Address,
    /// The `SecretRegistry`.
    pub secret_registry: Address,
    /// The shortest settle timeout.
    pub settle_timeout_min: u64,
    /// The longest settle timeout.
    pub settle_timeout_max: u64,
    /// The L1 block before the deployment (where log scans start).
    pub deploy_block: u64,
    /// An L1 block (number, hash) at or after the deployment: the deployment, and a node's
    /// store made for it, belongs to the L1 history that has this block. A new L1 whose
    /// contracts land at the same addresses (a restarted in-memory devnet) does not have it.
    #[serde(default)]
    pub bound_to: Option<(u64, B256)>,
}

impl loft_l1::binding::DeploymentRecord for ChannelDeployment {
    fn binding(&self) -> loft_l1::binding::Binding {
        loft_l1::binding::Binding {
            chain_id: self.chain_id,
            contract: self.channel_manager,
            bound_to: self.bound_to,
        }
    }
}

impl ChannelDeployment {
    /// The EIP-712 domain of balance proofs on this deployment.
    pub fn domain(&self) -> ChannelDomain {
        ChannelDomain::new(self.chain_id, self.channel_manager)
    }

    /// What a node's store for this deployment is bound to: chain id, manager and, for a
    /// record that has one, the bound block's hash.
    pub fn binding_id(&self) -> Vec<u8> {
        let mut id = self.chain_id.to_be_bytes().to_vec();
        id.extend_from_slice(self.channel_manager.as_slice());
        if let Some((_, hash)) = self.bound_to {
            id.extend_from_slice(hash.as_slice());
        }
        id
    }

    /// Writes the record as JSON, atomically.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        loft_l1::binding::save_record(path, self)
    }

    /// Reads a record written by [`Self::save`].
    pub fn load(path: &std::path::Path) -> std::io::Result<Self> {
        loft_l1::binding::load_record(path)
    }
}

/// An L1 call of the channel contracts failed.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The L1 client failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The contract call failed or reverted (the revert reason decoded where known).
    #[error("{0}")]
    Call(String),
}

impl From<alloy::contract::Error> for ContractError {
    fn from(e: alloy::contract::Error) -> Self {
        if let Some(reason) = e.as_decoded_interface_error::<ChannelManager::ChannelManagerErrors>() {
            return ContractError::Call(format!("ChannelManager reverted: {reason:?}"));
        }
        ContractError::Call(e.to_string())
    }
}

/// Deploys `SecretRegistry` and `ChannelManager` with `l1`'s account.
pub async fn deploy(
    l1: &L1Client,
    settle_timeout_min: u64,
    settle_timeout_max: u64,
) -> Result<ChannelDeployment, ContractError> {
    let chain_id = l1.chain_id().await?;
    let deploy_block = l1.block_number().await?;
    let registry = l1.deploy(SecretRegistry::BYTECODE.clone()).await?;
    let code = ChannelManager::deploy_builder(
        l1.provider().clone(),
        registry,
        settle_timeout_min,
        settle_timeout_max,
    )
    .calldata()
    .clone();
    let manager = l1.deploy(code).await?;
    Ok(ChannelDeployment {
        bound_to: Some(loft_l1::binding::head_block(l1).await?),
        chain_id,
        channel_manager: manager,
        secret_registry: registry,
        settle_timeout_min,
        settle_timeout_max,
        deploy_block,
    })
}

/// The `BalanceProof` struct of the contract's ABI.
pub fn abi_proof(p: &SignedBalanceProof) -> ChannelManager::BalanceProof {
    ChannelManager::BalanceProof {
        channelId: p.proof.channel_id,
        nonce: p.proof.nonce,
        transferredAmount: U256::from(p.proof.transferred),
        lockedAmount: U256::from(p.proof.locked),
        locksroot: p.proof.locksroot,
        messageHash: p.proof.message_hash,
    }
}

/// The `SettleData` of one participant from the newest proof of it that is on chain (all
/// zero when none is).
pub fn settle_data(participant: Address, proof: Option<&SignedBalanceProof>) -> ChannelManager::SettleData {
    match proof {
        Some(p) => ChannelManager::SettleData {
            participant,
            transferredAmount: U256::from(p.proof.transferred),
            lockedAmount: U256::from(p.proof.locked),
            locksroot: p.proof.locksroot,
        },
        None => ChannelManager::SettleData {
            participant,
            transferredAmount: U256::ZERO,
            lockedAmount: U256::ZERO,
            locksroot: B256::ZERO,
        },
    }
}

fn sig_bytes(sig: &Signature65) -> Bytes {
    Bytes::copy_from_slice(sig.as_bytes())
}

/// The channel operations of one participant (the account of `l1`).
#[derive(Clone)]
pub struct ChannelContracts {
    l1: L1Client,
    deployment: ChannelDeployment,
}

impl ChannelContracts {
    /// Operations on `deployment` with `l1`'s account.
    pub fn new(l1: &L1Client, deployment: ChannelDeployment) -> Self {
        Self { l1: l1.clone(), deployment }
    }

    fn manager(&self) -> ChannelManager::ChannelManagerInstance<alloy::providers::DynProvider> {
        ChannelManager::new(self.deployment.channel_manager, self.l1.provider().clone())
    }

    async fn send(
        &self,
        call: alloy::rpc::types::TransactionRequest,
    ) -> Result<TransactionReceipt, ContractError> {
        // Simulate first, so a revert comes back with its decoded reason.
        self.l1.provider().call(call.clone().from(self.l1.address())).await.map_err(|e| {
            let err = alloy::contract::Error::from(e);
            ContractError::from(err)
        })?;
        Ok(self.l1.send(call).await?)
    }

    /// Lets the `ChannelManager` pull up to `amount` of `token` from our account, unless it
    /// already may.
    pub async fn approve(&self, token: Address, amount: U256) -> Result<(), ContractError> {
        let erc20 = IERC20::new(token, self.l1.provider().clone());
        let allowed = erc20.allowance(self.l1.address(), self.deployment.channel_manager).call().await?;
        if allowed < amount {
            let call = erc20.approve(self.deployment.channel_manager, amount).into_transaction_request();
            self.send(call).await?;
        }
        Ok(())
    }

    /// Opens an ETH (`token == 0`) or ERC-20 channel with `partner` and deposits `deposit`
    /// (ERC-20: approved beforehand); returns the channel id and the receipt.
    pub async fn open_with_deposit(
        &self,
        partner: Address,
        token: Address,
        settle_timeout: u64,
        deposit: U256,
    ) -> Result<(u64, TransactionReceipt), ContractError> {
        let value = if token == Address::ZERO { deposit } else { U256::ZERO };
        let call = self
            .manager()
            .openChannelWithDeposit(partner, token, settle_timeout, deposit)
            .value(value)
            .into_transaction_request();
        let receipt = self.send(call).await?;
        let id = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<ChannelManager::ChannelOpened>().ok())
            .map(|log| log.inner.data.id)
            .ok_or_else(|| ContractError::Call("no ChannelOpened event".into()))?;
        Ok((id, receipt))
    }

    /// Raises `participant`'s total deposit to `total`, paying the difference from our
    /// account (`added` of ETH attached; ERC-20 approved beforehand).
    pub async fn set_total_deposit(
        &self,
        id: u64,
        participant: Address,
        total: U256,
        eth_added: U256,
    ) -> Result<TransactionReceipt, ContractError> {
        let call = self
            .manager()
            .setTotalDeposit(id, participant, total)
            .value(eth_added)
            .into_transaction_request();
        self.send(call).await
    }

    /// Submits a cooperative settlement with both signatures.
    pub async fn cooperative_settle(
        &self,
        id: u64,
        balance1: U256,
        balance2: U256,
        expiration: u64,
        sig1: &Signature65,
        sig2: &Signature65,
    ) -> Result<TransactionReceipt, ContractError> {
        let call = self
            .manager()
            .cooperativeSettle(id, balance1, balance2, expiration, sig_bytes(sig1), sig_bytes(sig2))
            .into_transaction_request();
        self.send(call).await
    }

    /// Closes unilaterally with the partner's newest proof (`None`: nothing received).
    pub async fn close(
        &self,
        id: u64,
        partner_proof: Option<&SignedBalanceProof>,
    ) -> Result<TransactionReceipt, ContractError> {
        let (proof, sig) = match partner_proof {
            Some(p) => (abi_proof(p), sig_bytes(&p.signature)),
            None => (
                ChannelManager::BalanceProof {
                    channelId: 0,
                    nonce: 0,
                    transferredAmount: U256::ZERO,
                    lockedAmount: U256::ZERO,
                    locksroot: B256::ZERO,
                    messageHash: B256::ZERO,
                },
                Bytes::new(),
            ),
        };
        let call = self.manager().closeChannel(id, proof, sig).into_transaction_request();
        self.send(call).await
    }

    /// Submits the closer's proof for `non_closer` (ourselves, or a client of our watchtower
    /// with its delegation signature).
    pub async fn update_non_closing(
        &self,
        id: u64,
        non_closer: Address,
        closer_proof: &SignedBalanceProof,
        delegation: Option<&Signature65>,
    ) -> Result<TransactionReceipt, ContractError> {
        let call = self
            .manager()
            .updateNonClosingBalanceProof(
                id,
                non_closer,
                abi_proof(closer_proof),
                sig_bytes(&closer_proof.signature),
                delegation.map(sig_bytes).unwrap_or_default(),
            )
            .into_transaction_request();
        self.send(call).await
    }

    /// Settles after the settle period with the values of both sides' proofs on chain.
    pub async fn settle(
        &self,
        id: u64,
        a: ChannelManager::SettleData,
        b: ChannelManager::SettleData,
    ) -> Result<TransactionReceipt, ContractError> {
        let call = self.manager().settleChannel(id, a, b).into_transaction_request();
        self.send(call).await
    }

    /// Unlocks `sender`'s pending locks of settled channel `id`.
    pub async fn unlock(
        &self,
        id: u64,
        sender: Address,
        locks: &LockList,
    ) -> Result<TransactionReceipt, ContractError> {
        let call = self.manager().unlock(id, sender, Bytes::from(locks.encode())).into_transaction_request();
        self.send(call).await
    }

    /// Unlocks `sender`'s settled `locks` if it is our turn: the receiver's when some lock is
    /// claimable (its secret registered by its expiration), the sender's when none is, so one
    /// side pays for the transaction and its outcome is the same. `None`: the other's turn,
    /// or nothing (left) to unlock.
    pub async fn unlock_when_ours(
        &self,
        id: u64,
        sender: Address,
        locks: &LockList,
        we_receive: bool,
    ) -> Result<Option<TransactionReceipt>, ContractError> {
        if self.manager().getUnlock(id, sender).call().await?.lockedAmount.is_zero() {
            return Ok(None);
        }
        let mut claimable = false;
        for lock in locks.iter() {
            let block = self.secret_reveal_block(lock.secrethash).await?;
            if block != 0 && block <= lock.expiration {
                claimable = true;
                break;
            }
        }
        if claimable != we_receive {
            return Ok(None);
        }
        self.unlock(id, sender, locks).await.map(Some)
    }

    /// Registers a secret in the `SecretRegistry`.
    pub async fn register_secret(&self, secret: B256) -> Result<TransactionReceipt, ContractError> {
        let registry = SecretRegistry::new(self.deployment.secret_registry, self.l1.provider().clone());
        let call = registry.registerSecret(secret).into_transaction_request();
        self.send(call).await
    }

    /// The block in which `secrethash`'s secret was registered (0: never).
    pub async fn secret_reveal_block(&self, secrethash: B256) -> Result<u64, ContractError> {
        let registry = SecretRegistry::new(self.deployment.secret_registry, self.l1.provider().clone());
        let block = registry.revealBlock(secrethash).call().await?;
        Ok(u64::try_from(block).unwrap_or(u64::MAX))
    }

    /// The channel's on-chain record.
    pub async fn channel(&self, id: u64) -> Result<ChannelManager::getChannelReturn, ContractError> {
        Ok(self.manager().getChannel(id).call().await?)
    }

    /// The current L1 block.
    pub async fn head(&self) -> Result<u64, ContractError> {
        Ok(self.l1.block_number().await?)
    }
}
