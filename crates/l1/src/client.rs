//! One client for any Ethereum JSON-RPC node, over alloy's provider: the embedded devnet,
//! anvil and geth are reached by the same code.

use std::time::Duration;

use alloy::{
    consensus::{SidecarBuilder, SimpleCoder},
    network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, Bytes, U256};

/// Errors talking to L1.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The node refused or failed a request.
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// A transaction was mined but reverted.
    #[error("L1 transaction {0} reverted")]
    Reverted(alloy_primitives::B256),
    /// Waiting for a receipt timed out.
    #[error("L1 transaction {0} was not mined in time")]
    Timeout(alloy_primitives::B256),
    /// Bad configuration (URL, keys, ports).
    #[error("{0}")]
    Config(String),
    /// The embedded chain failed.
    #[error(transparent)]
    Chain(#[from] loft_chain::ChainError),
    /// Files (deployment records).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<alloy::transports::TransportError> for L1Error {
    fn from(e: alloy::transports::TransportError) -> Self {
        L1Error::Rpc(e.to_string())
    }
}

impl From<alloy::contract::Error> for L1Error {
    fn from(e: alloy::contract::Error) -> Self {
        L1Error::Rpc(e.to_string())
    }
}

/// A connection to an L1 node with a signing account.
#[derive(Clone)]
pub struct L1Client {
    provider: DynProvider,
    signer: PrivateKeySigner,
    url: String,
}

impl L1Client {
    /// Connects to `url` (http(s) or ws(s)), signing with `signer`.
    pub async fn connect(url: &str, signer: PrivateKeySigner) -> Result<Self, L1Error> {
        let wallet = EthereumWallet::from(signer.clone());
        // Nonces are read from the node for every transaction (not cached): a transaction
        // that fails before it is sent (a revert found by gas estimation) must not burn a
        // nonce and leave every later one stuck behind a gap.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .filler(alloy::providers::fillers::BlobGasFiller::default())
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(wallet)
            .connect(url)
            .await
            .map_err(|e| L1Error::Config(format!("cannot connect to L1 at {url}: {e}")))?;
        Ok(Self { provider: provider.erased(), signer, url: url.to_string() })
    }

    /// The alloy provider, for contract bindings.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The signing account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<u64, L1Error> {
        Ok(self.provider.get_chain_id().await?)
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64, L1Error> {
        Ok(self.provider.get_block_number().await?)
    }

    /// An account's balance.
    pub async fn balance(&self, address: Address) -> Result<U256, L1Error> {
        Ok(self.provider.get_balance(address).await?)
    }

    /// Sends a transaction (fees, nonce and gas filled in) and waits for its successful receipt.
    pub async fn send(&self, tx: TransactionRequest) -> Result<TransactionReceipt, L1Error> {
        let pending = self.provider.send_transaction(tx.with_from(self.address())).await?;
        let hash = *pending.tx_hash();
        let receipt =
            pending.with_timeout(Some(Duration::from_secs(60))).get_receipt().await.map_err(|e| match e {
                alloy::providers::PendingTransactionError::TxWatcher(_) => L1Error::Timeout(hash),
                other => L1Error::Rpc(other.to_string()),
            })?;
        if !receipt.status() {
            return Err(L1Error::Reverted(hash));
        }
        Ok(receipt)
    }

    /// Deploys a contract from creation code (constructor arguments appended) and returns its address.
    pub async fn deploy(&self, creation_code: Bytes) -> Result<Address, L1Error> {
        let tx = TransactionRequest::default().with_deploy_code(creation_code);
        let receipt = self.send(tx).await?;
        receipt.contract_address.ok_or_else(|| {
            L1Error::Rpc(format!("deployment {} has no contract address", receipt.transaction_hash))
        })
    }

    /// Posts `data` as EIP-4844 blobs in one type-3 transaction to `to` and waits for its
    /// receipt. The data is packed with alloy's `SimpleCoder` (31 bytes per field element),
    /// so `decode_blobs` gives it back byte for byte. Nodes that already run EIP-7594 (Osaka:
    /// cell proofs in the sidecar) refuse the 4844 form; the same blobs are then sent again
    /// with cell proofs.
    pub async fn send_blobs(&self, to: Address, data: &[u8]) -> Result<TransactionReceipt, L1Error> {
        let builder = || SidecarBuilder::<SimpleCoder>::from_slice(data);
        let blob_error = |e: alloy::eips::eip4844::c_kzg::Error| L1Error::Rpc(format!("building blobs: {e}"));
        let legacy = builder().build_4844().map_err(blob_error)?;
        match self.send(TransactionRequest::default().with_to(to).with_blob_sidecar_4844(legacy)).await {
            Err(L1Error::Rpc(msg)) if msg.contains("7594") || msg.to_lowercase().contains("cell") => {
                let cells = builder().build_7594().map_err(blob_error)?;
                self.send(TransactionRequest::default().with_to(to).with_blob_sidecar_7594(cells)).await
            }
            other => other,
        }
    }

    /// Sends ether.
    pub async fn transfer(&self, to: Address, value: U256) -> Result<TransactionReceipt, L1Error> {
        self.send(TransactionRequest::default().with_to(to).with_value(value)).await
    }
}
