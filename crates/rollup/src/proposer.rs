//! Output roots, the proposer that posts them to the L2 output oracle, and withdrawals
//! proven against them.

use std::sync::Arc;

use alloy::{
    eips::BlockNumberOrTag,
    providers::Provider,
    rpc::types::TransactionReceipt,
    sol_types::{SolEvent, SolValue},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use loft_chain::{Chain, ChainError};
use loft_l1::{L1Client, L1Error};
use loft_node::Node;

use crate::{
    config::L2_TO_L1_MESSAGE_PASSER,
    contracts::{L2OutputOracle, L2ToL1MessagePasser, RollupPortal},
    sequencer::NodeError,
};

/// Waits for a sent transaction's receipt; a revert is an error.
async fn confirm(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
) -> Result<TransactionReceipt, NodeError> {
    let receipt = pending.get_receipt().await.map_err(|e| L1Error::Rpc(e.to_string()))?;
    if !receipt.status() {
        return Err(L1Error::Reverted(receipt.transaction_hash).into());
    }
    Ok(receipt)
}

/// An L2 block's output root and its preimage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// The L2 block.
    pub block_number: u64,
    /// Its state root.
    pub state_root: B256,
    /// The message passer's storage root in that state.
    pub message_passer_storage_root: B256,
    /// The block's hash.
    pub block_hash: B256,
    /// `keccak256(abi.encode(0, stateRoot, messagePasserStorageRoot, blockHash))`.
    pub root: B256,
}

/// The output root of L2 block `number`.
pub fn output_at(chain: &Chain, number: u64) -> Result<Output, ChainError> {
    let header =
        chain.header_by_number(number)?.ok_or_else(|| ChainError::NotFound(format!("block {number}")))?;
    let (message_passer_storage_root, _) = chain.storage_proofs_at(&L2_TO_L1_MESSAGE_PASSER, &[], number)?;
    let state_root = header.header.state_root;
    let root =
        keccak256((B256::ZERO, state_root, message_passer_storage_root, header.hash).abi_encode_params());
    Ok(Output {
        block_number: number,
        state_root,
        message_passer_storage_root,
        block_hash: header.hash,
        root,
    })
}

/// Posts output roots of the safe chain (`node`, a replica's) to the oracle.
pub struct Proposer {
    node: Arc<Node>,
    l1: L1Client,
    oracle: Address,
}

impl Proposer {
    /// A proposer signing with `l1`'s account (the oracle's proposer).
    pub fn new(node: Arc<Node>, l1: L1Client, oracle: Address) -> Self {
        Self { node, l1, oracle }
    }

    /// Posts the next output if its L2 block is safe and already in L1's past; returns it.
    pub async fn step(&mut self) -> Result<Option<Output>, NodeError> {
        let oracle = L2OutputOracle::new(self.oracle, self.l1.provider().clone());
        let next: u64 = oracle.nextBlockNumber().call().await.map_err(L1Error::from)?.to();
        let safe = self.node.with_chain(|ch| ch.head().header.number);
        if safe < next {
            return Ok(None);
        }
        let (output, l2_time) = self.node.with_chain(|ch| {
            let output = output_at(ch, next)?;
            let time = ch.header_by_number(next)?.map(|h| h.header.timestamp).unwrap_or_default();
            Ok::<_, ChainError>((output, time))
        })?;
        let Some(l1_head) =
            self.l1.provider().get_block_by_number(BlockNumberOrTag::Latest).await.map_err(L1Error::from)?
        else {
            return Ok(None);
        };
        if l2_time >= l1_head.header.timestamp {
            return Ok(None); // the oracle only takes outputs of L2 blocks in L1's past
        }
        let call = oracle.proposeL2Output(
            output.root,
            U256::from(next),
            l1_head.header.hash,
            U256::from(l1_head.header.number),
        );
        confirm(call.send().await.map_err(L1Error::from)?).await?;
        Ok(Some(output))
    }
}

/// An L2 chain that can give an output root and a proof of a message passer slot at a block.
pub trait L2State {
    /// The output root of L2 block `block` and the compact SMT proof of the message passer's
    /// storage `slot` in that block's state.
    fn output_and_proof(
        &self,
        block: u64,
        slot: U256,
    ) -> impl std::future::Future<Output = Result<(Output, Bytes), NodeError>> + Send;
}

impl L2State for Node {
    async fn output_and_proof(&self, block: u64, slot: U256) -> Result<(Output, Bytes), NodeError> {
        Ok(self.with_chain(|ch| {
            let output = output_at(ch, block)?;
            let (_, proofs) = ch.storage_proofs_at(&L2_TO_L1_MESSAGE_PASSER, &[slot], block)?;
            Ok::<_, ChainError>((
                output,
                proofs.into_iter().next().map(|(_, _, p)| p.encode()).unwrap_or_default().into(),
            ))
        })?)
    }
}

impl<T: L2State + Send + Sync + ?Sized> L2State for Arc<T> {
    async fn output_and_proof(&self, block: u64, slot: U256) -> Result<(Output, Bytes), NodeError> {
        self.as_ref().output_and_proof(block, slot).await
    }
}

/// A loft L2 over JSON-RPC (`eth_getBlockByNumber` and `loft_getStorageProof`).
impl L2State for L1Client {
    async fn output_and_proof(&self, block: u64, slot: U256) -> Result<(Output, Bytes), NodeError> {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct SlotProof {
            proof: CompactProof,
        }
        #[derive(Debug, serde::Deserialize)]
        struct CompactProof {
            compact: Bytes,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct StorageProofs {
            storage_hash: B256,
            storage_proof: Vec<SlotProof>,
        }
        let header = self
            .provider()
            .get_block_by_number(BlockNumberOrTag::Number(block))
            .await
            .map_err(L1Error::from)?
            .ok_or(NodeError::Chain(ChainError::NotFound(format!("L2 block {block}"))))?
            .header;
        let at = BlockNumberOrTag::Number(block);
        let proofs: StorageProofs = self
            .provider()
            .raw_request("loft_getStorageProof".into(), (L2_TO_L1_MESSAGE_PASSER, [slot], at))
            .await
            .map_err(L1Error::from)?;
        let message_passer_storage_root = proofs.storage_hash;
        let root = keccak256(
            (B256::ZERO, header.state_root, message_passer_storage_root, header.hash).abi_encode_params(),
        );
        let output = Output {
            block_number: block,
            state_root: header.state_root,
            message_passer_storage_root,
            block_hash: header.hash,
            root,
        };
        let proof = proofs.storage_proof.into_iter().next().map(|p| p.proof.compact).unwrap_or_default();
        Ok((output, proof))
    }
}

/// A withdrawal initiated on L2, as the message passer recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    /// The message passer's nonce.
    pub nonce: U256,
    /// Who sent it on L2.
    pub sender: Address,
    /// Who it calls on L1.
    pub target: Address,
    /// Wei it carries.
    pub value: U256,
    /// Gas of the L1 call.
    pub gas_limit: U256,
    /// Calldata of the L1 call.
    pub data: Bytes,
    /// The L2 block it is in.
    pub l2_block: u64,
}

impl Withdrawal {
    /// The withdrawals in an L2 receipt's logs.
    pub fn from_receipt(receipt: &loft_chain::ReceiptInfo) -> Vec<Withdrawal> {
        Self::from_logs(receipt.receipt.logs(), receipt.block.header.number)
    }

    /// The withdrawals in an L2 receipt read over JSON-RPC.
    pub fn from_rpc_receipt(receipt: &TransactionReceipt) -> Vec<Withdrawal> {
        let logs: Vec<alloy_primitives::Log> = receipt.inner.logs().iter().map(|l| l.inner.clone()).collect();
        Self::from_logs(&logs, receipt.block_number.unwrap_or_default())
    }

    /// The withdrawals among the logs of a transaction in L2 block `l2_block`.
    pub fn from_logs(logs: &[alloy_primitives::Log], l2_block: u64) -> Vec<Withdrawal> {
        logs.iter()
            .filter(|log| log.address == L2_TO_L1_MESSAGE_PASSER)
            .filter_map(|log| L2ToL1MessagePasser::MessagePassed::decode_log_data(&log.data).ok())
            .map(|e| {
                (
                    Withdrawal {
                        nonce: e.nonce,
                        sender: e.sender,
                        target: e.target,
                        value: e.value,
                        gas_limit: e.gasLimit,
                        data: e.data,
                        l2_block,
                    },
                    e.withdrawalHash,
                )
            })
            // the message passer's own hash must be ours, or no proof could ever match
            .filter(|(w, hash)| w.hash() == *hash)
            .map(|(w, _)| w)
            .collect()
    }

    /// `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`.
    pub fn hash(&self) -> B256 {
        keccak256(
            (self.nonce, self.sender, self.target, self.value, self.gas_limit, self.data.clone())
                .abi_encode_params(),
        )
    }

    /// The message passer's storage slot that records it.
    pub fn storage_slot(&self) -> U256 {
        U256::from_be_bytes(keccak256((self.hash(), U256::ZERO).abi_encode_params()).0)
    }

    fn as_call(&self) -> RollupPortal::WithdrawalTransaction {
        RollupPortal::WithdrawalTransaction {
            nonce: self.nonce,
            sender: self.sender,
            target: self.target,
            value: self.value,
            gasLimit: self.gas_limit,
            data: self.data.clone(),
        }
    }

    /// Proves the withdrawal on L1 against the first output at or after its L2 block, with
    /// a storage proof from `l2` (a chain that has that output's block: a node in this
    /// process, or any loft L2 over JSON-RPC).
    pub async fn prove<S: L2State + ?Sized>(
        &self,
        l1: &L1Client,
        portal: Address,
        oracle: Address,
        l2: &S,
    ) -> Result<TransactionReceipt, NodeError> {
        let oracle = L2OutputOracle::new(oracle, l1.provider().clone());
        let index =
            oracle.getL2OutputIndexAfter(U256::from(self.l2_block)).call().await.map_err(L1Error::from)?;
        let posted = oracle.getL2Output(index).call().await.map_err(L1Error::from)?;
        let output_block = u64::try_from(posted.l2BlockNumber).unwrap_or(u64::MAX);
        let (output, proof) = l2.output_and_proof(output_block, self.storage_slot()).await?;
        if output.root != posted.outputRoot {
            return Err(NodeError::Batch(format!(
                "the output posted for L2 block {output_block} is {}, this node computes {}",
                posted.outputRoot, output.root
            )));
        }
        let proof_fields = RollupPortal::OutputRootProof {
            version: B256::ZERO,
            stateRoot: output.state_root,
            messagePasserStorageRoot: output.message_passer_storage_root,
            latestBlockhash: output.block_hash,
        };
        let portal = RollupPortal::new(portal, l1.provider().clone());
        let pending = portal
            .proveWithdrawalTransaction(self.as_call(), index, proof_fields, proof)
            .send()
            .await
            .map_err(L1Error::from)?;
        confirm(pending).await
    }

    /// Finalizes the proven withdrawal on L1 (after the challenge window). A call that
    /// failed (the portal keeps the withdrawal open for another try) is
    /// [`NodeError::WithdrawalCallFailed`].
    pub async fn finalize(&self, l1: &L1Client, portal: Address) -> Result<TransactionReceipt, NodeError> {
        let portal_address = portal;
        let portal = RollupPortal::new(portal, l1.provider().clone());
        let pending =
            portal.finalizeWithdrawalTransaction(self.as_call()).send().await.map_err(L1Error::from)?;
        let receipt = confirm(pending).await?;
        let withdrawal = self.hash();
        let succeeded = receipt.inner.logs().iter().any(|log| {
            log.address() == portal_address
                && log
                    .log_decode::<RollupPortal::WithdrawalFinalized>()
                    .is_ok_and(|e| e.inner.withdrawalHash == withdrawal && e.inner.success)
        });
        if !succeeded {
            return Err(NodeError::WithdrawalCallFailed {
                withdrawal,
                transaction: receipt.transaction_hash,
            });
        }
        Ok(receipt)
    }
}
