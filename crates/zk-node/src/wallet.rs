//! What a user of the ZK rollup does, without trusting the operator: derive the L2 key from
//! an Ethereum signature (so a wallet can always recover it), sign operations, authorise a
//! key change, and, when the operator is gone, rebuild the state from the public data on L1
//! and prove an exit.

use alloy::{consensus::Transaction as _, providers::Provider, signers::Signer, sol_types::SolCall};
use alloy_primitives::{Address, Bytes, U128, U256, keccak256};
use ark_bn254::Fr;
use loft_l1::L1Client;
use loft_zk::{
    eddsa::SecretKey,
    exit::{Exit, ExitCircuit},
    groth16,
    ops::{Transfer, Withdraw},
    replay::apply_block,
    solidity::ProofWords,
    state::State,
};

use crate::{
    contracts::{Deployment, ZkRollup, fr_word},
    operator::{KeyChange, change_key_digest},
    wire::{WireOp, encode_key, encode_signature},
};

/// A wallet failure.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
    /// L1.
    #[error("L1: {0}")]
    L1(String),
    /// L1's data does not rebuild the state.
    #[error("rebuilding the state from L1: {0}")]
    Rebuild(String),
    /// Proving.
    #[error("proving: {0}")]
    Prove(String),
    /// A change-key the public data can not carry.
    #[error(
        "a change-key with nonce {nonce}, fee token {fee_token}, fee {fee} does not fit the public data (the fee must pack: round it up)"
    )]
    Unpackable {
        /// The nonce.
        nonce: u64,
        /// The fee's token.
        fee_token: u64,
        /// The fee.
        fee: u128,
    },
}

/// The message whose Ethereum signature the L2 key is derived from.
pub fn l2_key_message(d: &Deployment) -> String {
    format!(
        "Sign to derive your loft ZK rollup key.\nRollup: {}\nChain: {}\nOnly sign this on a site you trust.",
        d.rollup, d.chain_id
    )
}

/// The L2 key of `signer` on this rollup: the hash of its (deterministic, RFC 6979) signature
/// of [`l2_key_message`].
pub async fn derive_l2_key<S: Signer + Sync>(signer: &S, d: &Deployment) -> Result<SecretKey, WalletError> {
    let sig = signer
        .sign_message(l2_key_message(d).as_bytes())
        .await
        .map_err(|e| WalletError::Sign(e.to_string()))?;
    Ok(SecretKey::from_bytes(&keccak256(sig.as_bytes()).0))
}

/// A signed transfer.
pub fn transfer(
    key: &SecretKey,
    from: u64,
    to: Address,
    token: u64,
    amount: u128,
    fee: u128,
    nonce: u64,
) -> WireOp {
    let mut t = Transfer {
        from,
        to: to.into_array(),
        token,
        amount,
        fee,
        nonce,
        signature: key.sign(Fr::from(0u64)),
    };
    t.signature = key.sign(t.message());
    WireOp::Transfer {
        from,
        to,
        token,
        amount: U128::from(amount),
        fee: U128::from(fee),
        nonce,
        signature: encode_signature(&t.signature),
    }
}

/// A signed withdrawal to `to` on L1.
pub fn withdraw(
    key: &SecretKey,
    account: u64,
    token: u64,
    amount: u128,
    fee: u128,
    nonce: u64,
    to: Address,
) -> WireOp {
    let mut w = Withdraw {
        account,
        token,
        amount,
        fee,
        nonce,
        to: to.into_array(),
        signature: key.sign(Fr::from(0u64)),
    };
    w.signature = key.sign(w.message());
    WireOp::Withdraw {
        account,
        token,
        amount: U128::from(amount),
        fee: U128::from(fee),
        nonce,
        to,
        signature: encode_signature(&w.signature),
    }
}

/// A change to `key`, authorised by the owner's Ethereum signature.
pub async fn change_key<S: Signer + Sync>(
    owner: &S,
    d: &Deployment,
    account: u64,
    key: &SecretKey,
    nonce: u64,
    fee_token: u64,
    fee: u128,
) -> Result<WireOp, WalletError> {
    let public = key.public();
    let op = loft_zk::ops::ChangeKey { account, key: public, nonce, fee_token, fee };
    let change = KeyChange::of(&op).ok_or(WalletError::Unpackable { nonce, fee_token, fee })?;
    let digest = change_key_digest(d.rollup, d.chain_id, &change);
    let sig = owner.sign_message(digest.as_slice()).await.map_err(|e| WalletError::Sign(e.to_string()))?;
    Ok(WireOp::ChangeKey {
        account,
        key: encode_key(&public),
        nonce,
        fee_token,
        fee: U128::from(fee),
        eth_signature: Bytes::from(sig.as_bytes().to_vec()),
    })
}

/// The rollup's id of the ERC-20 `token`; `None` when the governor has not registered it.
pub async fn token_id(l1: &L1Client, d: &Deployment, token: Address) -> Result<Option<u64>, WalletError> {
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    let id = rollup.tokenIds(token).call().await.map_err(|e| WalletError::L1(e.to_string()))?;
    Ok((id != 0).then_some(u64::from(id)))
}

/// Deposits `amount` of the registered ERC-20 `token` from `l1`'s account to the L2 address
/// `to`: approves the rollup for `amount`, then calls `depositERC20` (a priority request).
/// Returns the deposit's transaction.
pub async fn deposit_erc20(
    l1: &L1Client,
    d: &Deployment,
    token: Address,
    amount: u128,
    to: Address,
) -> Result<alloy_primitives::TxHash, WalletError> {
    let l1e = |e: &dyn std::fmt::Display| WalletError::L1(e.to_string());
    let erc20 = loft_l1::contracts::LoftToken::new(token, l1.provider().clone());
    let approval = erc20.approve(d.rollup, U256::from(amount)).send().await.map_err(|e| l1e(&e))?;
    if !approval.get_receipt().await.map_err(|e| l1e(&e))?.status() {
        return Err(WalletError::L1(format!("the approval of {token} reverted")));
    }
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    let sent = rollup.depositERC20(token, amount, to).send().await.map_err(|e| l1e(&e))?;
    let receipt = sent.get_receipt().await.map_err(|e| l1e(&e))?;
    if !receipt.status() {
        return Err(WalletError::L1(format!("the deposit of {token} reverted")));
    }
    Ok(receipt.transaction_hash)
}

/// The state after every block L1 executed, rebuilt from the blocks' public data in L1's
/// calldata alone (each block's root checked against the one L1 recorded).
pub async fn rebuild_state(l1: &L1Client, d: &Deployment) -> Result<State, WalletError> {
    let l1e = |e: &dyn std::fmt::Display| WalletError::L1(e.to_string());
    let rollup = ZkRollup::new(d.rollup, l1.provider().clone());
    let executed = rollup.lastExecutedBlock().call().await.map_err(|e| l1e(&e))?;
    let mut state = d.config.genesis(d.operator).map_err(|e| WalletError::Rebuild(e.to_string()))?;
    let logs = rollup.BlockCommitted_filter().from_block(d.deployed_at).query().await.map_err(|e| l1e(&e))?;
    // a block reverted and committed again: its last commit is the one executed
    let mut commits = std::collections::BTreeMap::new();
    for (e, log) in logs {
        if e.blockNumber <= executed {
            commits.insert(e.blockNumber, (e.newRoot, log.transaction_hash));
        }
    }
    for number in 1..=executed {
        let Some((root, Some(hash))) = commits.get(&number).copied() else {
            return Err(WalletError::Rebuild(format!("no commit of block {number} on L1")));
        };
        let tx = l1
            .provider()
            .get_transaction_by_hash(hash)
            .await
            .map_err(|e| l1e(&e))?
            .ok_or_else(|| WalletError::Rebuild(format!("transaction {hash} not found")))?;
        let input = tx.input();
        let pubdata = if let Ok(c) = ZkRollup::submitBlockCall::abi_decode(input) {
            c.pubdata
        } else if let Ok(c) = ZkRollup::commitBlockCall::abi_decode(input) {
            c.pubdata
        } else {
            return Err(WalletError::Rebuild(format!("transaction {hash} is not a block submission")));
        };
        apply_block(&mut state, d.config.shape(), d.config.fee_account, &pubdata)
            .map_err(|e| WalletError::Rebuild(format!("block {number}: {e}")))?;
        if fr_word(&state.root()) != root {
            return Err(WalletError::Rebuild(format!("block {number} does not reach its root")));
        }
    }
    let root = rollup.stateRoot().call().await.map_err(|e| l1e(&e))?;
    if fr_word(&state.root()) != root {
        return Err(WalletError::Rebuild("the rebuilt state is not L1's".into()));
    }
    Ok(state)
}

/// The exit of `token` from account `index` of `state`, proven.
pub fn exit_proof(
    keys: &groth16::Keys,
    state: &State,
    index: u64,
    token: u64,
) -> Result<(Exit, [U256; 8]), WalletError> {
    let exit = Exit::new(state, index, token).map_err(|e| WalletError::Prove(e.to_string()))?;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&index.to_be_bytes());
    let proof =
        groth16::prove(keys, ExitCircuit::new(&exit), seed).map_err(|e| WalletError::Prove(e.to_string()))?;
    Ok((exit, ProofWords::new(&proof).0.map(U256::from_be_bytes)))
}
