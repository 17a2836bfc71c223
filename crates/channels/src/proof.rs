//! Balance proofs: what one participant has sent on a channel so far (`transferred`, only
//! growing), what it has pending in locks (`locked`, `locksroot`), numbered by `nonce` (1, 2, 3…
//! per sender) and bound to the message that carried it (`message_hash`). Signed by the sender
//! over the EIP-712 digest of `BalanceProof`; encoded in 177 bytes:
//! `channelId 8 ‖ nonce 8 ‖ transferred 16 ‖ locked 16 ‖ locksroot 32 ‖ messageHash 32 ‖ sig 65`.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolValue;

use crate::{
    eip712::{ChannelDomain, typed},
    signature::{SIGNATURE_LEN, Signature65, SignatureError, SigningKey},
};

/// Encoded size of a signed balance proof.
pub const SIGNED_PROOF_LEN: usize = 8 + 8 + 16 + 16 + 32 + 32 + SIGNATURE_LEN;

/// An unsigned balance proof. Off-chain amounts are below 2^128 (16 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BalanceProof {
    /// The channel's on-chain id.
    pub channel_id: u64,
    /// 1, 2, 3… per sender.
    pub nonce: u64,
    /// Everything the signer has paid on this channel.
    pub transferred: u128,
    /// The sum of the signer's pending locks.
    pub locked: u128,
    /// `keccak256` of the signer's pending locks.
    pub locksroot: B256,
    /// Hash of the message that carries this proof.
    pub message_hash: B256,
}

impl BalanceProof {
    /// The Solidity struct.
    pub fn typed(&self) -> typed::BalanceProof {
        typed::BalanceProof {
            channelId: self.channel_id,
            nonce: self.nonce,
            transferredAmount: U256::from(self.transferred),
            lockedAmount: U256::from(self.locked),
            locksroot: self.locksroot,
            messageHash: self.message_hash,
        }
    }

    /// The EIP-712 digest the sender signs.
    pub fn digest(&self, domain: &ChannelDomain) -> B256 {
        domain.digest(&self.typed())
    }

    /// `keccak256(abi.encode(transferred, locked, locksroot))`, what the contract stores.
    pub fn balance_hash(&self) -> B256 {
        keccak256((U256::from(self.transferred), U256::from(self.locked), self.locksroot).abi_encode())
    }

    /// Signs the proof.
    pub fn sign(self, key: &SigningKey, domain: &ChannelDomain) -> SignedBalanceProof {
        let signature = key.sign_digest(&self.digest(domain));
        SignedBalanceProof { proof: self, signature }
    }
}

/// A balance proof with its sender's signature, not yet checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedBalanceProof {
    /// The proof.
    pub proof: BalanceProof,
    /// The sender's signature over `proof.digest(domain)`.
    pub signature: Signature65,
}

impl SignedBalanceProof {
    /// Checks the signature and recovers the signer. Costs one ECDSA recovery, so a node does
    /// it off its core loop; the core then only compares the signer with the partner.
    pub fn verify(&self, domain: &ChannelDomain) -> Result<VerifiedBalanceProof, SignatureError> {
        let signer = self.signature.recover(&self.proof.digest(domain))?;
        Ok(VerifiedBalanceProof { signed: *self, signer })
    }

    /// The digest of `UpdateAuthorization{nonCloser, balanceProof}`: signed by `non_closer` it
    /// lets anyone (a watchtower) submit this proof of the closer.
    pub fn update_authorization_digest(&self, domain: &ChannelDomain, non_closer: Address) -> B256 {
        domain.digest(&typed::UpdateAuthorization { nonCloser: non_closer, balanceProof: self.proof.typed() })
    }

    /// The 177-byte encoding.
    pub fn encode(&self) -> [u8; SIGNED_PROOF_LEN] {
        let p = &self.proof;
        let mut out = [0u8; SIGNED_PROOF_LEN];
        out[0..8].copy_from_slice(&p.channel_id.to_be_bytes());
        out[8..16].copy_from_slice(&p.nonce.to_be_bytes());
        out[16..32].copy_from_slice(&p.transferred.to_be_bytes());
        out[32..48].copy_from_slice(&p.locked.to_be_bytes());
        out[48..80].copy_from_slice(p.locksroot.as_slice());
        out[80..112].copy_from_slice(p.message_hash.as_slice());
        out[112..].copy_from_slice(self.signature.as_bytes());
        out
    }

    /// Decodes 177 bytes (any content: the signature is checked by [`Self::verify`]).
    pub fn decode(bytes: &[u8; SIGNED_PROOF_LEN]) -> Self {
        let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let u128_at = |i: usize| u128::from_be_bytes(bytes[i..i + 16].try_into().expect("16 bytes"));
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(&bytes[112..]);
        Self {
            proof: BalanceProof {
                channel_id: u64_at(0),
                nonce: u64_at(8),
                transferred: u128_at(16),
                locked: u128_at(32),
                locksroot: B256::from_slice(&bytes[48..80]),
                message_hash: B256::from_slice(&bytes[80..112]),
            },
            signature: Signature65(signature),
        }
    }
}

/// A signed balance proof whose signer was recovered. Only [`SignedBalanceProof::verify`]
/// makes one, so holding it means the signature is well-formed and `signer` signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedBalanceProof {
    signed: SignedBalanceProof,
    signer: Address,
}

impl VerifiedBalanceProof {
    /// The proof with its signature.
    pub fn signed(&self) -> &SignedBalanceProof {
        &self.signed
    }

    /// The proof.
    pub fn proof(&self) -> &BalanceProof {
        &self.signed.proof
    }

    /// Who signed it.
    pub fn signer(&self) -> Address {
        self.signer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_verify() {
        let key = SigningKey::from_bytes(&[9u8; 32]).unwrap();
        let domain = ChannelDomain::new(1337, Address::repeat_byte(0xcc));
        let proof = BalanceProof {
            channel_id: 3,
            nonce: 7,
            transferred: 1_000,
            locked: 55,
            locksroot: keccak256(b"locks"),
            message_hash: keccak256(b"msg"),
        };
        let signed = proof.sign(&key, &domain);
        let bytes = signed.encode();
        assert_eq!(SignedBalanceProof::decode(&bytes), signed);
        assert_eq!(signed.verify(&domain).unwrap().signer(), key.address());
        // Another deployment or chain: another digest, another signer.
        let other = ChannelDomain::new(1, Address::repeat_byte(0xcc));
        assert_ne!(signed.verify(&other).unwrap().signer(), key.address());
        let mut tampered = signed;
        tampered.proof.transferred += 1;
        assert_ne!(tampered.verify(&domain).unwrap().signer(), key.address());
    }
}
