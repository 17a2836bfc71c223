//! The payment history the API lists: one record per mediated payment the node took part in,
//! by secrethash, written in the same batch as the step that changed it. Direct payments are
//! not listed one by one (thousands a second); a channel's nonce and transferred amounts
//! count them.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::{Core, Write};

/// Our part in a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PaymentRole {
    /// We paid (the initiator).
    Sent,
    /// We were paid (the target).
    Received,
    /// We mediated, for a fee.
    Forwarded,
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PaymentStatus {
    /// Locked, not yet unlocked.
    Pending,
    /// Unlocked: irrevocable.
    Completed,
    /// A hop refused it; its locks return when they expire.
    Failed,
    /// Its lock expired and returned to the payer.
    Expired,
}

/// One payment as the API lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    /// The payment's secrethash (its id).
    pub secrethash: B256,
    /// Our part.
    pub role: PaymentRole,
    /// The target (sent), the initiator (received) or the next hop (forwarded).
    pub counterparty: Address,
    /// What the target gets (sent, received) or what we passed on (forwarded), in wei.
    #[serde(with = "crate::api::decimal")]
    pub amount: u128,
    /// The fees we paid (sent) or earned (forwarded).
    #[serde(with = "crate::api::decimal")]
    pub fee: u128,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Our L1 head at its last change.
    pub block: u64,
}

const LEN: usize = 1 + 20 + 16 + 16 + 1 + 8;

impl PaymentRecord {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.push(self.role as u8);
        out.extend_from_slice(self.counterparty.as_slice());
        out.extend_from_slice(&self.amount.to_be_bytes());
        out.extend_from_slice(&self.fee.to_be_bytes());
        out.push(self.status as u8);
        out.extend_from_slice(&self.block.to_be_bytes());
        out
    }

    pub(super) fn decode(secrethash: B256, b: &[u8]) -> Option<Self> {
        if b.len() != LEN {
            return None;
        }
        let role = match b[0] {
            0 => PaymentRole::Sent,
            1 => PaymentRole::Received,
            2 => PaymentRole::Forwarded,
            _ => return None,
        };
        let status = match b[53] {
            0 => PaymentStatus::Pending,
            1 => PaymentStatus::Completed,
            2 => PaymentStatus::Failed,
            3 => PaymentStatus::Expired,
            _ => return None,
        };
        Some(Self {
            secrethash,
            role,
            counterparty: Address::from_slice(&b[1..21]),
            amount: u128::from_be_bytes(b[21..37].try_into().ok()?),
            fee: u128::from_be_bytes(b[37..53].try_into().ok()?),
            status,
            block: u64::from_be_bytes(b[54..62].try_into().ok()?),
        })
    }
}

impl Core {
    /// Records a payment we start taking part in.
    pub(super) fn payment_started(
        &mut self,
        secrethash: B256,
        role: PaymentRole,
        counterparty: Address,
        amount: u128,
        fee: u128,
    ) {
        let record = PaymentRecord {
            secrethash,
            role,
            counterparty,
            amount,
            fee,
            status: PaymentStatus::Pending,
            block: self.head,
        };
        self.writes.push(Write::Payment(secrethash, record.encode()));
        self.payments.insert(secrethash, record);
    }

    /// Moves a pending payment to `status`; a failed one whose lock then expires becomes
    /// expired (its amount is back); a completed or expired one stays as it is.
    pub(super) fn payment_ended(&mut self, secrethash: B256, status: PaymentStatus) {
        let head = self.head;
        let Some(record) = self.payments.get_mut(&secrethash).filter(|r| {
            r.status == PaymentStatus::Pending
                || (r.status == PaymentStatus::Failed && status == PaymentStatus::Expired)
        }) else {
            return;
        };
        record.status = status;
        record.block = head;
        let bytes = record.encode();
        self.writes.push(Write::Payment(secrethash, bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_bytes_are_refused() {
        let r = PaymentRecord {
            secrethash: B256::repeat_byte(7),
            role: PaymentRole::Forwarded,
            counterparty: Address::repeat_byte(9),
            amount: u128::MAX,
            fee: 12,
            status: PaymentStatus::Expired,
            block: 99,
        };
        let bytes = r.encode();
        assert_eq!(PaymentRecord::decode(r.secrethash, &bytes), Some(r));
        assert_eq!(PaymentRecord::decode(r.secrethash, &bytes[1..]), None);
        let mut bad = bytes.clone();
        bad[0] = 5;
        assert_eq!(PaymentRecord::decode(r.secrethash, &bad), None);
        let mut bad = bytes;
        bad[53] = 4;
        assert_eq!(PaymentRecord::decode(r.secrethash, &bad), None);
    }
}
