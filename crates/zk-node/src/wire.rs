//! Operations as JSON: what the operator's API takes and its store keeps. Signatures are 64
//! bytes (`R` compressed ‖ `s`, arkworks' canonical encoding), keys 32 bytes (compressed),
//! amounts hex or decimal quantities.

use alloy_primitives::{Address, Bytes, U128};
use ark_ed_on_bn254::{EdwardsAffine, Fr as Scalar};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use loft_zk::{
    block::Op,
    eddsa::{PublicKey, Signature},
    ops::{ChangeKey, Deposit, FullExit, Transfer, Withdraw},
};
use serde::{Deserialize, Serialize};

/// An operation as JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum WireOp {
    /// A transfer to an address, signed by the sender's L2 key.
    Transfer {
        /// Sender account.
        from: u64,
        /// Recipient address.
        to: Address,
        /// Token id.
        token: u64,
        /// Amount (packable).
        amount: U128,
        /// Fee (packable).
        fee: U128,
        /// The sender's nonce.
        nonce: u64,
        /// EdDSA signature, 64 bytes.
        signature: Bytes,
    },
    /// A withdrawal to an L1 address.
    Withdraw {
        /// The account.
        account: u64,
        /// Token id.
        token: u64,
        /// Amount.
        amount: U128,
        /// Fee (packable).
        fee: U128,
        /// The account's nonce.
        nonce: u64,
        /// Where L1 pays.
        to: Address,
        /// EdDSA signature, 64 bytes.
        signature: Bytes,
    },
    /// A change of L2 key, authorised by the owner's Ethereum key.
    ChangeKey {
        /// The account.
        account: u64,
        /// The new key, 32 bytes compressed.
        key: Bytes,
        /// The account's nonce.
        nonce: u64,
        /// The fee's token.
        fee_token: u64,
        /// The fee (packable).
        fee: U128,
        /// The owner's EIP-191 signature of the contract's change-key digest (65 bytes), or
        /// empty when the owner called `authorizeKey` on L1.
        eth_signature: Bytes,
    },
    /// A deposit L1 requested.
    Deposit {
        /// Its priority request id.
        priority_id: u64,
        /// The L2 owner.
        to: Address,
        /// Token id.
        token: u64,
        /// Amount.
        amount: U128,
    },
    /// A full exit L1 requested.
    FullExit {
        /// Its priority request id.
        priority_id: u64,
        /// The account.
        account: u64,
        /// Token id.
        token: u64,
        /// Who asked.
        owner: Address,
    },
}

/// A malformed operation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The signature is not 64 bytes of a point and a scalar.
    #[error("malformed signature: {0}")]
    Signature(String),
    /// The key is not 32 bytes of a point.
    #[error("malformed key: {0}")]
    Key(String),
    /// The Ethereum signature is neither 65 bytes nor empty.
    #[error("malformed Ethereum signature: {0} bytes, expected 65 (or none)")]
    EthSignature(usize),
}

/// A signature's 64 bytes.
pub fn encode_signature(sig: &Signature) -> Bytes {
    let mut out = Vec::with_capacity(64);
    let _ = sig.r.serialize_compressed(&mut out);
    let _ = sig.s.serialize_compressed(&mut out);
    out.into()
}

/// A signature from its 64 bytes (the point is checked on the curve and in the subgroup).
pub fn decode_signature(bytes: &[u8]) -> Result<Signature, WireError> {
    if bytes.len() != 64 {
        return Err(WireError::Signature(format!("{} bytes, expected 64", bytes.len())));
    }
    let r = EdwardsAffine::deserialize_compressed(&bytes[..32])
        .map_err(|e| WireError::Signature(e.to_string()))?;
    let s = Scalar::deserialize_compressed(&bytes[32..]).map_err(|e| WireError::Signature(e.to_string()))?;
    Ok(Signature { r, s })
}

/// A key's 32 bytes.
pub fn encode_key(key: &PublicKey) -> Bytes {
    let mut out = Vec::with_capacity(32);
    let _ = key.0.serialize_compressed(&mut out);
    out.into()
}

/// A key from its 32 bytes.
pub fn decode_key(bytes: &[u8]) -> Result<PublicKey, WireError> {
    if bytes.len() != 32 {
        return Err(WireError::Key(format!("{} bytes, expected 32", bytes.len())));
    }
    let p = EdwardsAffine::deserialize_compressed(bytes).map_err(|e| WireError::Key(e.to_string()))?;
    Ok(PublicKey(p))
}

impl WireOp {
    /// The operation.
    pub fn to_op(&self) -> Result<Op, WireError> {
        Ok(match self {
            Self::Transfer { from, to, token, amount, fee, nonce, signature } => Op::Transfer(Transfer {
                from: *from,
                to: to.into_array(),
                token: *token,
                amount: amount.to(),
                fee: fee.to(),
                nonce: *nonce,
                signature: decode_signature(signature)?,
            }),
            Self::Withdraw { account, token, amount, fee, nonce, to, signature } => Op::Withdraw(Withdraw {
                account: *account,
                token: *token,
                amount: amount.to(),
                fee: fee.to(),
                nonce: *nonce,
                to: to.into_array(),
                signature: decode_signature(signature)?,
            }),
            Self::ChangeKey { account, key, nonce, fee_token, fee, eth_signature } => {
                if !eth_signature.is_empty() && eth_signature.len() != 65 {
                    return Err(WireError::EthSignature(eth_signature.len()));
                }
                Op::ChangeKey(ChangeKey {
                    account: *account,
                    key: decode_key(key)?,
                    nonce: *nonce,
                    fee_token: *fee_token,
                    fee: fee.to(),
                })
            }
            Self::Deposit { to, token, amount, .. } => {
                Op::Deposit(Deposit { to: to.into_array(), token: *token, amount: amount.to() })
            }
            Self::FullExit { account, token, owner, .. } => {
                Op::FullExit(FullExit { account: *account, token: *token, owner: owner.into_array() })
            }
        })
    }

    /// The priority request id, for operations L1 requested.
    pub fn priority_id(&self) -> Option<u64> {
        match self {
            Self::Deposit { priority_id, .. } | Self::FullExit { priority_id, .. } => Some(*priority_id),
            _ => None,
        }
    }

    /// The change-key witness L1 wants.
    pub fn eth_witness(&self) -> Option<Bytes> {
        match self {
            Self::ChangeKey { eth_signature, .. } => Some(eth_signature.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loft_zk::eddsa::SecretKey;

    fn transfer_json() -> serde_json::Value {
        let key = SecretKey::from_bytes(&[3; 32]);
        let op = crate::wallet::transfer(&key, 1, Address::repeat_byte(0xbb), 0, 1_000, 10, 0);
        serde_json::to_value(&op).expect("json")
    }

    #[test]
    fn a_signed_transfer_round_trips_and_malformed_ones_are_refused() {
        let json = transfer_json();
        assert_eq!(json["type"], "transfer");
        let op: WireOp = serde_json::from_value(json.clone()).expect("parses");
        let Op::Transfer(t) = op.to_op().expect("well-formed") else { panic!("a transfer") };
        assert!(SecretKey::from_bytes(&[3; 32]).public().verify(t.message(), &t.signature));

        // a malformed address, amount or type never parses (the API answers "invalid params")
        for (field, value) in [
            ("to", serde_json::json!("0x1234")),
            ("to", serde_json::json!("not an address")),
            ("amount", serde_json::json!("-1")),
            ("amount", serde_json::json!("0x1000000000000000000000000000000000")),
            ("type", serde_json::json!("mint")),
        ] {
            let mut bad = json.clone();
            bad[field] = value;
            assert!(serde_json::from_value::<WireOp>(bad).is_err(), "{field} refused");
        }
        // malformed signatures parse but are refused with a clear error
        for sig in ["0x", "0x00", &format!("0x{}", "ff".repeat(64))] {
            let mut bad = json.clone();
            bad["signature"] = serde_json::json!(sig);
            let op: WireOp = serde_json::from_value(bad).expect("bytes parse");
            assert!(matches!(op.to_op(), Err(WireError::Signature(_))), "{sig}");
        }
        let key = WireOp::ChangeKey {
            account: 1,
            key: vec![0xff; 32].into(),
            nonce: 0,
            fee_token: 0,
            fee: U128::ZERO,
            eth_signature: vec![1; 64].into(),
        };
        assert_eq!(key.to_op(), Err(WireError::EthSignature(64)));
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever bytes come in as a key or a signature (right length or not, on the curve
        /// or not), decoding answers; it never panics.
        #[test]
        fn random_keys_and_signatures_are_answered(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..100),
                prop::collection::vec(any::<u8>(), 32..=32),
                prop::collection::vec(any::<u8>(), 64..=64),
            ],
        ) {
            let _ = decode_key(&bytes);
            let _ = decode_signature(&bytes);
        }

        /// A signed operation's JSON with random bytes changed: it fails to parse, or parses
        /// and converts, or is refused with an error; never a panic.
        #[test]
        fn mangled_operations_are_answered(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut text = serde_json::to_vec(&transfer_json()).expect("json");
            for (at, byte) in edits {
                let i = at.index(text.len());
                text[i] = byte;
            }
            if let Ok(op) = serde_json::from_slice::<WireOp>(&text) {
                let _ = op.to_op();
            }
        }
    }
}
