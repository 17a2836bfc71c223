//! Signatures as the `ChannelManager` contract takes them: 65 bytes `r ‖ s ‖ v`, `v` 27 or 28,
//! `s` in the lower half of the curve order (the malleable twin is refused), over a 32-byte
//! digest. Signing and recovery use libsecp256k1 (the `secp256k1` crate): a payment costs one
//! of each, so their speed bounds the payments per second.

use alloy_primitives::{Address, B256, keccak256};
use secp256k1::{
    Message, PublicKey, SECP256K1, SecretKey,
    ecdsa::{RecoverableSignature, RecoveryId},
};

/// Length of an encoded signature.
pub const SIGNATURE_LEN: usize = 65;

/// secp256k1's order n, halved: the largest `s` accepted.
const HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5d,
    0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `v` is not 27 or 28.
    #[error("signature v is {0}, expected 27 or 28")]
    BadV(u8),
    /// `s` is above n/2.
    #[error("signature s is in the upper half of the curve order (malleable)")]
    HighS,
    /// `r` or `s` is zero or not below n, or no public key has this signature.
    #[error("signature does not recover to a public key")]
    Unrecoverable,
}

/// Why a secret key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a secp256k1 secret key (zero or not below the curve order)")]
pub struct InvalidSecretKey;

/// An encoded signature `r ‖ s ‖ v`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature65(pub [u8; SIGNATURE_LEN]);

impl Signature65 {
    /// All zeros: the empty signature of a nonce-0 balance proof.
    pub const ZERO: Self = Self([0; SIGNATURE_LEN]);

    /// The 65 bytes.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    /// Recovers the signer's address from a signature over `digest`, refusing a malformed or
    /// malleable signature.
    pub fn recover(&self, digest: &B256) -> Result<Address, SignatureError> {
        let v = self.0[64];
        let recid = match v {
            27 => RecoveryId::Zero,
            28 => RecoveryId::One,
            _ => return Err(SignatureError::BadV(v)),
        };
        if self.0[32..64] > HALF_N[..] {
            return Err(SignatureError::HighS);
        }
        let sig = RecoverableSignature::from_compact(&self.0[..64], recid)
            .map_err(|_| SignatureError::Unrecoverable)?;
        let key = SECP256K1
            .recover_ecdsa(Message::from_digest(digest.0), &sig)
            .map_err(|_| SignatureError::Unrecoverable)?;
        Ok(address_of(&key))
    }
}

impl std::fmt::Debug for Signature65 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", alloy_primitives::hex::encode(self.0))
    }
}

/// A participant's secp256k1 key with its Ethereum address.
#[derive(Clone)]
pub struct SigningKey {
    secret: SecretKey,
    address: Address,
}

impl SigningKey {
    /// The key with these 32 secret bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, InvalidSecretKey> {
        let secret = SecretKey::from_byte_array(*bytes).map_err(|_| InvalidSecretKey)?;
        let address = address_of(&PublicKey::from_secret_key(SECP256K1, &secret));
        Ok(Self { secret, address })
    }

    /// A fresh random key.
    pub fn random() -> Self {
        loop {
            let bytes: [u8; 32] = rand::random();
            if let Ok(key) = Self::from_bytes(&bytes) {
                return key;
            }
        }
    }

    /// The key's Ethereum address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The 32 secret bytes (for keystores and the Noise static key derivation).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.secret_bytes()
    }

    /// Signs a 32-byte digest; libsecp256k1 always produces a low `s`.
    pub fn sign_digest(&self, digest: &B256) -> Signature65 {
        let sig = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(digest.0), &self.secret);
        let (recid, compact) = sig.serialize_compact();
        let mut out = [0u8; SIGNATURE_LEN];
        out[..64].copy_from_slice(&compact);
        out[64] = 27 + i32::from(recid) as u8;
        Signature65(out)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("address", &self.address).finish_non_exhaustive()
    }
}

fn address_of(key: &PublicKey) -> Address {
    let uncompressed = key.serialize_uncompressed();
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_recover_and_refuse_malformed() {
        let key = SigningKey::from_bytes(&[7u8; 32]).unwrap();
        let digest = keccak256(b"hello");
        let sig = key.sign_digest(&digest);
        assert_eq!(sig.recover(&digest), Ok(key.address()));
        assert_ne!(sig.recover(&keccak256(b"other")), Ok(key.address()));

        let mut bad_v = sig;
        bad_v.0[64] = 29;
        assert_eq!(bad_v.recover(&digest), Err(SignatureError::BadV(29)));
        bad_v.0[64] = 0;
        assert_eq!(bad_v.recover(&digest), Err(SignatureError::BadV(0)));

        // The malleable twin: s' = n - s, v flipped. Valid for ecrecover, refused here.
        let n = alloy_primitives::U256::from_be_bytes(hex_literal(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        ));
        let s = alloy_primitives::U256::from_be_slice(&sig.0[32..64]);
        let mut twin = sig;
        twin.0[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        twin.0[64] = if sig.0[64] == 27 { 28 } else { 27 };
        assert_eq!(twin.recover(&digest), Err(SignatureError::HighS));

        assert_eq!(Signature65::ZERO.recover(&digest), Err(SignatureError::BadV(0)));
        let mut zero = Signature65::ZERO;
        zero.0[64] = 27;
        assert_eq!(zero.recover(&digest), Err(SignatureError::Unrecoverable));
        assert!(SigningKey::from_bytes(&[0u8; 32]).is_err());
        assert!(SigningKey::from_bytes(&[0xffu8; 32]).is_err());
    }

    fn hex_literal(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&alloy_primitives::hex::decode(s).unwrap());
        out
    }
}
