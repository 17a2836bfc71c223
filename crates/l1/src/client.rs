//! One client for any Ethereum JSON-RPC node, over alloy's provider: the embedded devnet,
//! anvil and geth are reached by the same code.

use std::{sync::Arc, time::Duration};

use alloy::eips::eip2718::Encodable2718;
use alloy::{
    consensus::{SidecarBuilder, SimpleCoder},
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder, TransactionBuilder4844},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B256, Bytes, U256};

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

/// Fee caps for a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
    /// `maxFeePerBlobGas` (blob transactions only).
    pub max_fee_per_blob_gas: u128,
}

impl Fees {
    /// The fees a replacement must offer: geth and anvil want every cap raised by at least
    /// 10% (blob pools 100% for the blob fee); this raises them by 12.5% and doubles the blob fee.
    pub fn bumped(self, than: Fees) -> Fees {
        let up = |v: u128| v.saturating_add(v / 8).saturating_add(1);
        Fees {
            max_fee_per_gas: self.max_fee_per_gas.max(up(than.max_fee_per_gas)),
            max_priority_fee_per_gas: self.max_priority_fee_per_gas.max(up(than.max_priority_fee_per_gas)),
            max_fee_per_blob_gas: self.max_fee_per_blob_gas.max(than.max_fee_per_blob_gas.saturating_mul(2)),
        }
    }
}

/// A connection to an L1 node with a signing account.
#[derive(Clone)]
pub struct L1Client {
    provider: DynProvider,
    signer: PrivateKeySigner,
    url: String,
    /// Held from reading the nonce to the node's acceptance of the transaction, so that two
    /// tasks sending from this client (and its clones) never take the same nonce.
    sending: Arc<tokio::sync::Mutex<()>>,
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
        Ok(Self { provider: provider.erased(), signer, url: url.to_string(), sending: Default::default() })
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
        let pending = {
            let _nonce = self.sending.lock().await;
            self.provider.send_transaction(tx.with_from(self.address())).await?
        };
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

    /// Current fees for a transaction: (max fee per gas, max priority fee per gas, max fee per
    /// blob gas), each with headroom for a few blocks of base fee growth.
    pub async fn fees(&self) -> Result<Fees, L1Error> {
        let estimate = self.provider.estimate_eip1559_fees().await?;
        let blob = self.provider.get_blob_base_fee().await.unwrap_or(1);
        Ok(Fees {
            max_fee_per_gas: estimate.max_fee_per_gas,
            max_priority_fee_per_gas: estimate.max_priority_fee_per_gas,
            max_fee_per_blob_gas: blob.saturating_mul(2).max(1),
        })
    }

    /// The account's nonce counting only mined transactions.
    pub async fn mined_nonce(&self) -> Result<u64, L1Error> {
        Ok(self.provider.get_transaction_count(self.address()).latest().await?)
    }

    /// Signs a fully specified transaction (nonce, gas, fees and chain id set by the caller)
    /// and returns its EIP-2718 network encoding (blob sidecar included) and hash, without
    /// sending it: a caller that records it first can broadcast the very same bytes again
    /// after a crash or an L1 reorg, so that it is included at most once.
    pub async fn sign(&self, tx: TransactionRequest) -> Result<(Bytes, B256), L1Error> {
        let wallet = EthereumWallet::from(self.signer.clone());
        let envelope = tx
            .with_from(self.address())
            .build(&wallet)
            .await
            .map_err(|e| L1Error::Config(format!("cannot sign the transaction: {e}")))?;
        Ok((envelope.encoded_2718().into(), *envelope.tx_hash()))
    }

    /// Broadcasts a signed transaction. A node that already has it (in its pool or mined)
    /// is not an error.
    pub async fn broadcast(&self, raw: &[u8]) -> Result<(), L1Error> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let msg = e.to_string().to_lowercase();
                if msg.contains("already known") || msg.contains("already imported") {
                    Ok(())
                } else {
                    Err(L1Error::Rpc(e.to_string()))
                }
            }
        }
    }

    /// The receipt of a mined transaction, if the node's canonical chain has it.
    pub async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, L1Error> {
        Ok(self.provider.get_transaction_receipt(hash).await?)
    }

    /// Sends ether.
    pub async fn transfer(&self, to: Address, value: U256) -> Result<TransactionReceipt, L1Error> {
        self.send(TransactionRequest::default().with_to(to).with_value(value)).await
    }
}
