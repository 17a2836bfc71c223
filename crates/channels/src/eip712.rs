//! The EIP-712 domain of a `ChannelManager` deployment and the typed structs signed in it.
//! Type strings and field order are the contract's (`BALANCE_PROOF_TYPEHASH` and the
//! others); the Foundry tests check these digests against the contract through
//! `contracts/test/channels/ChannelVectors.sol`, written by this crate's tests.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain};

/// The Solidity structs, as `alloy_sol_types` hashes them.
pub mod typed {
    alloy_sol_types::sol! {
        /// What a balance proof's sender signs.
        struct BalanceProof {
            uint64 channelId;
            uint64 nonce;
            uint256 transferredAmount;
            uint256 lockedAmount;
            bytes32 locksroot;
            bytes32 messageHash;
        }
        /// The non-closer's consent that anyone (its watchtower) submits this closer proof.
        struct UpdateAuthorization {
            address nonCloser;
            BalanceProof balanceProof;
        }
        /// What both participants sign for a cooperative settlement.
        struct CooperativeSettle {
            uint64 channelId;
            address participant1;
            uint256 balance1;
            address participant2;
            uint256 balance2;
            uint64 expiration;
        }
        /// Binds a node's Noise static key to its address (the transport's identity proof).
        struct NodeKey {
            address node;
            bytes32 noiseKey;
        }
        /// A node's endpoint, flooded by gossip.
        struct NodeAnnouncement {
            address node;
            bytes32 noiseKey;
            bytes endpoint;
            uint64 timestamp;
        }
        /// One direction of a channel as its owner announces it to route through.
        struct ChannelUpdate {
            uint64 channelId;
            address node;
            uint256 capacity;
            uint256 feeFlat;
            uint32 feePpm;
            uint16 expiryDelta;
            uint64 timestamp;
        }
    }
}

/// The signing domain of one deployment: `{name: "loft-channels", version: "1", chainId,
/// verifyingContract: manager}`, with its separator computed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelDomain {
    chain_id: u64,
    manager: Address,
    separator: B256,
}

impl ChannelDomain {
    /// The domain of the `ChannelManager` at `manager` on chain `chain_id`.
    pub fn new(chain_id: u64, manager: Address) -> Self {
        let domain: Eip712Domain = eip712_domain! {
            name: "loft-channels",
            version: "1",
            chain_id: chain_id,
            verifying_contract: manager,
        };
        Self { chain_id, manager, separator: domain.separator() }
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The `ChannelManager` address.
    pub fn manager(&self) -> Address {
        self.manager
    }

    /// The domain separator (`ChannelManager.domainSeparator()`).
    pub fn separator(&self) -> B256 {
        self.separator
    }

    /// `keccak256(0x1901 ‖ separator ‖ hashStruct(value))`.
    pub fn digest<T: SolStruct>(&self, value: &T) -> B256 {
        let mut buf = [0u8; 66];
        buf[0] = 0x19;
        buf[1] = 0x01;
        buf[2..34].copy_from_slice(self.separator.as_slice());
        buf[34..].copy_from_slice(value.eip712_hash_struct().as_slice());
        keccak256(buf)
    }

    /// The digest of `CooperativeSettle` (participant 1 is the lower address).
    pub fn cooperative_settle_digest(
        &self,
        channel_id: u64,
        participant1: Address,
        balance1: U256,
        participant2: Address,
        balance2: U256,
        expiration: u64,
    ) -> B256 {
        self.digest(&typed::CooperativeSettle {
            channelId: channel_id,
            participant1,
            balance1,
            participant2,
            balance2,
            expiration,
        })
    }

    /// The digest of `NodeKey{node, noiseKey}`.
    pub fn node_key_digest(&self, node: Address, noise_key: B256) -> B256 {
        self.digest(&typed::NodeKey { node, noiseKey: noise_key })
    }
}
