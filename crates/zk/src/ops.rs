//! The ZK rollup's operations, natively: what each one means, what its signer signs, its
//! public data (the bytes L1 receives and hashes into the block's public input), and the
//! checks that refuse it before it can reach a block (bad signature, replayed or future
//! nonce, overdraft, unknown account, an amount that does not pack).
//!
//! Public data (big-endian integers):
//!
//! | op | bytes |
//! | --- | --- |
//! | deposit (priority) | `1`, account u24, token u8, amount u128, address (20) = 41 |
//! | transfer | `2`, from u24, to u24, token u8, amount packed u40, fee packed u16 = 15 |
//! | withdraw | `4`, account u24, token u8, amount u128, fee packed u16, to address (20) = 43 |

use ark_bn254::Fr;

use crate::{
    amount::{AMOUNT, FEE},
    eddsa::Signature,
    poseidon::{Domain, hash},
    state::{AccountWitness, Address, State, StateError},
};

/// Operation type bytes.
pub mod op_type {
    /// A padding slot.
    pub const NOOP: u8 = 0;
    /// A deposit from L1.
    pub const DEPOSIT: u8 = 1;
    /// A transfer between accounts.
    pub const TRANSFER: u8 = 2;
    /// A withdrawal to L1.
    pub const WITHDRAW: u8 = 4;
}

/// Why an operation is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpError {
    /// The state refuses it (unknown account, overdraft, ...).
    #[error(transparent)]
    State(#[from] StateError),
    /// The account has no L2 key yet (a change-key operation must set one first).
    #[error("account {0} has no L2 key")]
    NoKey(u64),
    /// The signature does not sign this operation under the account's key.
    #[error("invalid signature")]
    BadSignature,
    /// The nonce is not the account's next one (a replay, or one from the future).
    #[error("nonce mismatch: account {account} expects {expected}, got {got}")]
    Nonce {
        /// The account.
        account: u64,
        /// Its next nonce.
        expected: u64,
        /// The operation's.
        got: u64,
    },
    /// The amount or fee has no packed form.
    #[error("{what} {value} is not packable (round it: amounts down, fees up)")]
    NotPackable {
        /// "amount" or "fee".
        what: &'static str,
        /// The value.
        value: u128,
    },
    /// An account index past the 24 bits of the public data.
    #[error("account index {0} does not fit the public data")]
    IndexTooLarge(u64),
    /// A token id past the 8 bits of the public data.
    #[error("token {0} does not fit the public data")]
    TokenTooLarge(u64),
}

/// A transfer between two existing accounts, signed by the sender's L2 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Sender account.
    pub from: u64,
    /// Recipient account.
    pub to: u64,
    /// Token id.
    pub token: u64,
    /// Amount (packable).
    pub amount: u128,
    /// Fee, in the same token (packable).
    pub fee: u128,
    /// The sender's nonce.
    pub nonce: u64,
    /// The sender's signature of [`Transfer::message`].
    pub signature: Signature,
}

/// A transfer with the state it met: the sender before it, the recipient after the
/// sender's update.
#[derive(Clone, Debug)]
pub struct TransferWitness {
    /// The transfer.
    pub transfer: Transfer,
    /// The sender before it.
    pub sender: AccountWitness,
    /// The recipient after the sender's update.
    pub recipient: AccountWitness,
    /// The operator's fee account after the recipient's update.
    pub operator: AccountWitness,
}

/// A withdrawal to an L1 address, signed by the account's L2 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdraw {
    /// The account.
    pub account: u64,
    /// Token id.
    pub token: u64,
    /// Amount (any, up to the balance).
    pub amount: u128,
    /// Fee, in the same token (packable).
    pub fee: u128,
    /// The account's nonce.
    pub nonce: u64,
    /// Where L1 pays.
    pub to: Address,
    /// The signature of [`Withdraw::message`].
    pub signature: Signature,
}

/// A deposit requested on L1 (a priority operation: the operator must include it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// The L2 account's address (its account is opened if it has none).
    pub to: Address,
    /// Token id.
    pub token: u64,
    /// Amount.
    pub amount: u128,
}

fn u128_fr(v: u128) -> Fr {
    Fr::from(v)
}

impl Transfer {
    /// What the sender signs.
    pub fn message(&self) -> Fr {
        hash(
            Domain::Message,
            &[
                Fr::from(op_type::TRANSFER as u64),
                Fr::from(self.from),
                Fr::from(self.to),
                Fr::from(self.token),
                u128_fr(self.amount),
                u128_fr(self.fee),
                Fr::from(self.nonce),
            ],
        )
    }
}

impl Withdraw {
    /// What the account signs.
    pub fn message(&self) -> Fr {
        hash(
            Domain::Message,
            &[
                Fr::from(op_type::WITHDRAW as u64),
                Fr::from(self.account),
                Fr::from(self.token),
                u128_fr(self.amount),
                u128_fr(self.fee),
                Fr::from(self.nonce),
                crate::state::address_to_fr(&self.to),
            ],
        )
    }
}

fn u24(v: u64) -> Result<[u8; 3], OpError> {
    if v >= 1 << 24 {
        return Err(OpError::IndexTooLarge(v));
    }
    Ok([(v >> 16) as u8, (v >> 8) as u8, v as u8])
}

fn token_byte(t: u64) -> Result<u8, OpError> {
    u8::try_from(t).map_err(|_| OpError::TokenTooLarge(t))
}

fn packed(what: &'static str, value: u128, packing: crate::amount::Packing) -> Result<u64, OpError> {
    packing.pack(value).ok_or(OpError::NotPackable { what, value })
}

/// Checks a signed operation's key, nonce and signature against account `index`.
fn check_signer(state: &State, index: u64, nonce: u64, message: Fr, sig: &Signature) -> Result<(), OpError> {
    let account = state.account(index)?;
    let key = account.pubkey.ok_or(OpError::NoKey(index))?;
    if nonce != account.nonce {
        return Err(OpError::Nonce { account: index, expected: account.nonce, got: nonce });
    }
    if !key.verify(message, sig) {
        return Err(OpError::BadSignature);
    }
    Ok(())
}

impl State {
    /// Applies a transfer: every check first, then the changes; the fee goes to the
    /// operator's account `fee_account`. Returns its public data.
    pub fn apply_transfer(&mut self, t: &Transfer, fee_account: u64) -> Result<Vec<u8>, OpError> {
        self.apply_transfer_witnessed(t, fee_account).map(|(data, _)| data)
    }

    /// [`State::apply_transfer`], also returning what the circuit's slot needs: the sender
    /// before the transfer, the recipient after the sender's update, the fee account after
    /// the recipient's.
    pub fn apply_transfer_witnessed(
        &mut self,
        t: &Transfer,
        fee_account: u64,
    ) -> Result<(Vec<u8>, TransferWitness), OpError> {
        let mut data = vec![op_type::TRANSFER];
        data.extend(u24(t.from)?);
        data.extend(u24(t.to)?);
        data.push(token_byte(t.token)?);
        let amount = packed("amount", t.amount, AMOUNT)?;
        data.extend(&amount.to_be_bytes()[3..]);
        data.extend((packed("fee", t.fee, FEE)? as u16).to_be_bytes());
        check_signer(self, t.from, t.nonce, t.message(), &t.signature)?;
        self.account(t.to)?;
        let need =
            t.amount.checked_add(t.fee).ok_or(StateError::Overflow { account: t.from, token: t.token })?;
        let have = self.balance(t.from, t.token);
        if have < need {
            return Err(
                StateError::InsufficientBalance { account: t.from, token: t.token, have, need }.into()
            );
        }
        let received = if t.from == t.to { have - need } else { self.balance(t.to, t.token) };
        if received.checked_add(t.amount).is_none() {
            return Err(StateError::Overflow { account: t.to, token: t.token }.into());
        }
        self.account(fee_account)?;
        if self.balance(fee_account, t.token).checked_add(need).is_none() {
            return Err(StateError::Overflow { account: fee_account, token: t.token }.into());
        }
        let sender = self.account_witness(t.from, t.token)?;
        self.debit(t.from, t.token, need)?;
        self.bump_nonce(t.from)?;
        let recipient = self.account_witness(t.to, t.token)?;
        self.credit(t.to, t.token, t.amount)?;
        let operator = self.account_witness(fee_account, t.token)?;
        self.credit(fee_account, t.token, t.fee)?;
        Ok((data, TransferWitness { transfer: t.clone(), sender, recipient, operator }))
    }

    /// Applies a withdrawal (the amount leaves the rollup; L1 pays it to `to` once the block
    /// is verified). Returns its public data.
    pub fn apply_withdraw(&mut self, w: &Withdraw) -> Result<Vec<u8>, OpError> {
        let mut data = vec![op_type::WITHDRAW];
        data.extend(u24(w.account)?);
        data.push(token_byte(w.token)?);
        data.extend(w.amount.to_be_bytes());
        data.extend((packed("fee", w.fee, FEE)? as u16).to_be_bytes());
        data.extend(w.to);
        check_signer(self, w.account, w.nonce, w.message(), &w.signature)?;
        let need =
            w.amount.checked_add(w.fee).ok_or(StateError::Overflow { account: w.account, token: w.token })?;
        self.debit(w.account, w.token, need)?;
        self.bump_nonce(w.account)?;
        Ok(data)
    }

    /// Applies a deposit, opening the address's account if it has none. Returns its public
    /// data.
    pub fn apply_deposit(&mut self, d: &Deposit) -> Result<Vec<u8>, OpError> {
        let index = match self.index_of(&d.to) {
            Some(i) => i,
            None => self.create_account(d.to)?,
        };
        let mut data = vec![op_type::DEPOSIT];
        data.extend(u24(index)?);
        data.push(token_byte(d.token)?);
        data.extend(d.amount.to_be_bytes());
        data.extend(d.to);
        self.credit(index, d.token, d.amount)?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{eddsa::SecretKey, state::Params};

    const ETH: u64 = 0;

    fn setup() -> (State, SecretKey, SecretKey) {
        let mut s = State::new(Params { account_depth: 4, balance_depth: 2 });
        let (ka, kb) = (SecretKey::from_bytes(&[1; 32]), SecretKey::from_bytes(&[2; 32]));
        for (addr, key) in [([0xa; 20], ka), ([0xb; 20], kb)] {
            let data = s.apply_deposit(&Deposit { to: addr, token: ETH, amount: 1_000 }).expect("deposit");
            assert_eq!(data.len(), 41);
            let i = s.index_of(&addr).expect("opened");
            s.set_pubkey(i, key.public()).expect("key");
        }
        (s, ka, kb)
    }

    fn transfer(key: &SecretKey, from: u64, to: u64, amount: u128, fee: u128, nonce: u64) -> Transfer {
        let mut t =
            Transfer { from, to, token: ETH, amount, fee, nonce, signature: key.sign(Fr::from(0u64)) };
        t.signature = key.sign(t.message());
        t
    }

    #[test]
    fn transfers_move_balances_and_bad_ones_change_nothing() {
        let (mut s, ka, kb) = setup();
        let data = s.apply_transfer(&transfer(&ka, 0, 1, 300, 2, 0), 1).expect("transfer");
        assert_eq!(data.len(), 15);
        assert_eq!((s.balance(0, ETH), s.balance(1, ETH)), (698, 1_302), "account 1 also collects the fee");
        let root = s.root();
        // replay, future nonce, wrong key, overdraft, unknown recipient, unpackable fee
        let refusals = [
            (transfer(&ka, 0, 1, 1, 0, 0), OpError::Nonce { account: 0, expected: 1, got: 0 }),
            (transfer(&ka, 0, 1, 1, 0, 5), OpError::Nonce { account: 0, expected: 1, got: 5 }),
            (transfer(&kb, 0, 1, 1, 0, 1), OpError::BadSignature),
            (
                transfer(&ka, 0, 1, 698, 1, 1),
                StateError::InsufficientBalance { account: 0, token: ETH, have: 698, need: 699 }.into(),
            ),
            (transfer(&ka, 0, 9, 1, 0, 1), StateError::UnknownAccount(9).into()),
            (transfer(&ka, 0, 1, 1, 2049, 1), OpError::NotPackable { what: "fee", value: 2049 }),
        ];
        for (t, expected) in refusals {
            assert_eq!(s.apply_transfer(&t, 1), Err(expected));
            assert_eq!(s.root(), root, "a refused operation changes nothing");
        }
        // a tampered amount under the original signature
        let mut forged = transfer(&ka, 0, 1, 1, 0, 1);
        forged.amount = 600;
        assert_eq!(s.apply_transfer(&forged, 1), Err(OpError::BadSignature));
    }

    #[test]
    fn withdrawals_leave_the_rollup() {
        let (mut s, ka, _) = setup();
        let mut w = Withdraw {
            account: 0,
            token: ETH,
            amount: 400,
            fee: 1,
            nonce: 0,
            to: [0xee; 20],
            signature: ka.sign(Fr::from(0u64)),
        };
        w.signature = ka.sign(w.message());
        assert_eq!(s.apply_withdraw(&w).expect("withdraw").len(), 43);
        assert_eq!(s.balance(0, ETH), 599);
        assert_eq!(s.apply_withdraw(&w), Err(OpError::Nonce { account: 0, expected: 1, got: 0 }));
    }
}
