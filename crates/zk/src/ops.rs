//! The ZK rollup's operations, natively: what each one means, what its signer signs, its
//! public data (the bytes L1 receives and hashes into the block's public input), and the
//! checks that refuse it before it can reach a block (bad signature, replayed or future
//! nonce, overdraft, unknown account, an amount that does not pack, a zero address).
//!
//! Public data (big-endian integers; a wide slot's bytes are padded with zeros to 64):
//!
//! | op | lane | bytes |
//! | --- | --- | --- |
//! | deposit (priority) | wide | `1`, account u24, token u8, amount u128, address (20) = 41 |
//! | transfer | transfer | `2`, from u24, to u24, token u8, amount packed u40, fee packed u16 = 15 |
//! | transfer to a new account | wide | `3`, from u24, to u24, token u8, amount packed u40, fee packed u16, address (20) = 35 |
//! | withdraw | wide | `4`, account u24, token u8, amount u128, fee packed u16, L1 address (20) = 43 |
//! | full exit (priority) | wide | `5`, account u24, token u8, amount u128, address (20) = 41 |
//! | change key | wide | `6`, account u24, address (20), key hash (32), nonce u32, fee token u8, fee packed u16 = 63 |

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

use crate::{
    amount::{AMOUNT, FEE},
    block::{TransferWitness, WideWitness},
    eddsa::{PublicKey, Signature},
    poseidon::{Domain, hash},
    rules::WIDE_BYTES,
    state::{Address, State, StateError, address_to_fr},
};

/// Operation type bytes.
pub mod op_type {
    /// A padding slot.
    pub const NOOP: u8 = 0;
    /// A deposit from L1.
    pub const DEPOSIT: u8 = 1;
    /// A transfer between existing accounts.
    pub const TRANSFER: u8 = 2;
    /// A transfer that opens the recipient's account.
    pub const TRANSFER_TO_NEW: u8 = 3;
    /// A withdrawal to L1.
    pub const WITHDRAW: u8 = 4;
    /// A full exit requested on L1.
    pub const FULL_EXIT: u8 = 5;
    /// A change of L2 key, authorised by the owner's Ethereum key on L1.
    pub const CHANGE_KEY: u8 = 6;
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
    /// A nonce past the 32 bits of a change-key's public data.
    #[error("nonce {0} does not fit the public data")]
    NonceTooLarge(u64),
    /// Money to or from the zero address.
    #[error("the zero address can not receive")]
    ZeroAddress,
    /// A change-key to a point that is not a key.
    #[error("the new key is not a point of the prime-order subgroup")]
    BadKey,
}

/// A transfer to an address, signed by the sender's L2 key. The operator sends it to the
/// address's account, or opens one for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Sender account.
    pub from: u64,
    /// Recipient address.
    pub to: Address,
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

/// A full exit requested on L1 by `owner` (a priority operation): the account's whole
/// balance of the token leaves for L1, if `owner` owns the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullExit {
    /// The account.
    pub account: u64,
    /// Token id.
    pub token: u64,
    /// Who asked on L1.
    pub owner: Address,
}

/// A change of an account's L2 key. L1 checks that the account's owner authorised
/// `(account, key hash, nonce)` with its Ethereum key; the circuit checks the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeKey {
    /// The account.
    pub account: u64,
    /// The new key.
    pub key: PublicKey,
    /// The account's nonce.
    pub nonce: u64,
    /// The fee's token.
    pub fee_token: u64,
    /// The fee (packable).
    pub fee: u128,
}

/// The hash of an L2 key that change-key's public data carries.
pub fn key_hash(key: &PublicKey) -> Fr {
    let (x, y) = key.coordinates();
    hash(Domain::Key, &[x, y])
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
                address_to_fr(&self.to),
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
                address_to_fr(&self.to),
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
fn check_signer(
    state: &State,
    index: u64,
    nonce: u64,
    message: Option<(Fr, &Signature)>,
) -> Result<(), OpError> {
    let account = state.account(index)?;
    if nonce != account.nonce {
        return Err(OpError::Nonce { account: index, expected: account.nonce, got: nonce });
    }
    if let Some((message, sig)) = message {
        let key = account.pubkey.ok_or(OpError::NoKey(index))?;
        if !key.verify(message, sig) {
            return Err(OpError::BadSignature);
        }
    }
    Ok(())
}

/// An operation applied to the state: its public data, the fee it pays (token, amount) and
/// the witness of its slot.
#[derive(Clone, Debug)]
pub struct Applied {
    /// Its public data (a wide slot's padded to 64 bytes).
    pub pubdata: Vec<u8>,
    /// The fee's token and amount.
    pub fee: (u64, u128),
    /// Its slot.
    pub slot: Slot,
}

/// A slot's witness, by lane.
#[derive(Clone, Debug)]
pub enum Slot {
    /// The wide lane.
    Wide(Box<WideWitness>),
    /// The transfer lane.
    Transfer(Box<TransferWitness>),
}

fn wide(mut data: Vec<u8>, fee: (u64, u128), w: WideWitness) -> Applied {
    data.resize(WIDE_BYTES, 0);
    Applied { pubdata: data, fee, slot: Slot::Wide(Box::new(w)) }
}

fn fr_bytes(f: &Fr) -> Vec<u8> {
    let mut out = f.into_bigint().to_bytes_be();
    while out.len() < 32 {
        out.insert(0, 0);
    }
    out
}

impl State {
    fn check_credit(&self, index: u64, token: u64, amount: u128) -> Result<(), OpError> {
        if self.balance(index, token).checked_add(amount).is_none() {
            return Err(StateError::Overflow { account: index, token }.into());
        }
        Ok(())
    }

    fn check_debit(&self, index: u64, token: u64, amount: u128, fee: u128) -> Result<u128, OpError> {
        let need = amount.checked_add(fee).ok_or(StateError::Overflow { account: index, token })?;
        let have = self.balance(index, token);
        if have < need {
            return Err(StateError::InsufficientBalance { account: index, token, have, need }.into());
        }
        Ok(need)
    }

    /// Applies a transfer, to the recipient's account or to a new one: every check first,
    /// then the changes. The fee is the block's to pay out.
    pub fn apply_transfer(&mut self, t: &Transfer) -> Result<Applied, OpError> {
        if t.to == [0u8; 20] {
            return Err(OpError::ZeroAddress);
        }
        let from = u24(t.from)?;
        let token = token_byte(t.token)?;
        let amount = packed("amount", t.amount, AMOUNT)?;
        let fee = packed("fee", t.fee, FEE)? as u16;
        check_signer(self, t.from, t.nonce, Some((t.message(), &t.signature)))?;
        self.balance_path(t.from, t.token)?;
        let need = self.check_debit(t.from, t.token, t.amount, t.fee)?;
        let to = self.index_of(&t.to);
        match to {
            Some(to) => {
                let received =
                    if to == t.from { self.balance(to, t.token) - need } else { self.balance(to, t.token) };
                if received.checked_add(t.amount).is_none() {
                    return Err(StateError::Overflow { account: to, token: t.token }.into());
                }
            }
            None => self.check_new_account()?,
        }
        let mut data = vec![if to.is_some() { op_type::TRANSFER } else { op_type::TRANSFER_TO_NEW }];
        data.extend(from);
        let sender = self.account_witness(t.from, t.token)?;
        self.debit(t.from, t.token, need)?;
        self.bump_nonce(t.from)?;
        let (to, created) = match to {
            Some(to) => (to, false),
            None => (self.next_index(), true),
        };
        data.extend(u24(to)?);
        data.push(token);
        data.extend(&amount.to_be_bytes()[3..]);
        data.extend(fee.to_be_bytes());
        let recipient = self.account_witness(to, t.token)?;
        if created {
            self.create_account(t.to)?;
        }
        self.credit(to, t.token, t.amount)?;
        let fee = (t.token, t.fee);
        if !created {
            let w = TransferWitness { transfer: t.clone(), sender, recipient };
            return Ok(Applied { pubdata: data, fee, slot: Slot::Transfer(Box::new(w)) });
        }
        data.extend(t.to);
        let w = WideWitness {
            kind: op_type::TRANSFER_TO_NEW,
            a: sender,
            b: recipient,
            packed_amount: t.amount,
            fee: t.fee,
            address: t.to,
            nonce: t.nonce,
            signature: t.signature,
            ..WideWitness::noop(&self.account_witness(0, 0)?)
        };
        Ok(wide(data, fee, w))
    }

    /// Applies a withdrawal (the amount leaves the rollup; L1 pays it to `to` once the block
    /// is executed).
    pub fn apply_withdraw(&mut self, w: &Withdraw) -> Result<Applied, OpError> {
        if w.to == [0u8; 20] {
            return Err(OpError::ZeroAddress);
        }
        let mut data = vec![op_type::WITHDRAW];
        data.extend(u24(w.account)?);
        data.push(token_byte(w.token)?);
        data.extend(w.amount.to_be_bytes());
        data.extend((packed("fee", w.fee, FEE)? as u16).to_be_bytes());
        data.extend(w.to);
        check_signer(self, w.account, w.nonce, Some((w.message(), &w.signature)))?;
        self.balance_path(w.account, w.token)?;
        let need = self.check_debit(w.account, w.token, w.amount, w.fee)?;
        let a = self.account_witness(w.account, w.token)?;
        self.debit(w.account, w.token, need)?;
        self.bump_nonce(w.account)?;
        let witness = WideWitness {
            kind: op_type::WITHDRAW,
            amount: w.amount,
            fee: w.fee,
            address: w.to,
            nonce: w.nonce,
            signature: w.signature,
            ..WideWitness::noop(&a)
        };
        Ok(wide(data, (w.token, w.fee), witness))
    }

    /// Applies a deposit, opening the address's account if it has none.
    pub fn apply_deposit(&mut self, d: &Deposit) -> Result<Applied, OpError> {
        if d.to == [0u8; 20] {
            return Err(OpError::ZeroAddress);
        }
        let token = token_byte(d.token)?;
        let existing = self.index_of(&d.to);
        let index = match existing {
            Some(i) => {
                self.check_credit(i, d.token, d.amount)?;
                i
            }
            None => {
                self.check_new_account()?;
                self.next_index()
            }
        };
        let mut data = vec![op_type::DEPOSIT];
        data.extend(u24(index)?);
        data.push(token);
        data.extend(d.amount.to_be_bytes());
        data.extend(d.to);
        let a = self.account_witness(index, d.token)?;
        if existing.is_none() {
            self.create_account(d.to)?;
        }
        self.credit(index, d.token, d.amount)?;
        let w = WideWitness {
            kind: op_type::DEPOSIT,
            a_empty: existing.is_none(),
            amount: d.amount,
            address: d.to,
            ..WideWitness::noop(&a)
        };
        Ok(wide(data, (0, 0), w))
    }

    /// Applies a full exit: the whole balance leaves when `owner` owns the account, nothing
    /// otherwise (the public data then says 0). Never refused for a well-formed request, so
    /// the operator can always serve the priority queue.
    pub fn apply_full_exit(&mut self, f: &FullExit) -> Result<Applied, OpError> {
        let token = token_byte(f.token)?;
        let account = u24(f.account)?;
        let a = self.account_witness(f.account, f.token)?;
        let owned = self.account(f.account).map(|acc| acc.address == f.owner).unwrap_or(false);
        let amount = if owned { self.balance(f.account, f.token) } else { 0 };
        let mut data = vec![op_type::FULL_EXIT];
        data.extend(account);
        data.push(token);
        data.extend(amount.to_be_bytes());
        data.extend(f.owner);
        if owned {
            self.debit(f.account, f.token, amount)?;
        }
        let w = WideWitness {
            kind: op_type::FULL_EXIT,
            a_empty: self.account(f.account).is_err(),
            address: f.owner,
            ..WideWitness::noop(&a)
        };
        Ok(wide(data, (0, 0), w))
    }

    /// Applies a change of key (L1 checks the owner's authorisation when the block is
    /// committed).
    pub fn apply_change_key(&mut self, c: &ChangeKey) -> Result<Applied, OpError> {
        if !c.key.is_valid() {
            return Err(OpError::BadKey);
        }
        let nonce = u32::try_from(c.nonce).map_err(|_| OpError::NonceTooLarge(c.nonce))?;
        check_signer(self, c.account, c.nonce, None)?;
        self.balance_path(c.account, c.fee_token)?;
        let need = self.check_debit(c.account, c.fee_token, 0, c.fee)?;
        let owner = self.account(c.account)?.address;
        let mut data = vec![op_type::CHANGE_KEY];
        data.extend(u24(c.account)?);
        data.extend(owner);
        data.extend(fr_bytes(&key_hash(&c.key)));
        data.extend(nonce.to_be_bytes());
        data.push(token_byte(c.fee_token)?);
        data.extend((packed("fee", c.fee, FEE)? as u16).to_be_bytes());
        let a = self.account_witness(c.account, c.fee_token)?;
        self.debit(c.account, c.fee_token, need)?;
        self.bump_nonce(c.account)?;
        self.set_pubkey(c.account, c.key)?;
        let w = WideWitness {
            kind: op_type::CHANGE_KEY,
            fee: c.fee,
            address: owner,
            nonce: c.nonce,
            new_key: c.key,
            ..WideWitness::noop(&a)
        };
        Ok(wide(data, (c.fee_token, c.fee), w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{eddsa::SecretKey, state::Params};

    const ETH: u64 = 0;
    const A: Address = [0xa; 20];
    const B: Address = [0xb; 20];

    fn setup() -> (State, SecretKey, SecretKey) {
        let mut s = State::new(Params { account_depth: 4, balance_depth: 2 });
        let (ka, kb) = (SecretKey::from_bytes(&[1; 32]), SecretKey::from_bytes(&[2; 32]));
        for (addr, key) in [(A, ka), (B, kb)] {
            let applied = s.apply_deposit(&Deposit { to: addr, token: ETH, amount: 1_000 }).expect("deposit");
            assert_eq!(&applied.pubdata[41..], &[0u8; 23], "41 bytes, padded");
            let i = s.index_of(&addr).expect("opened");
            s.set_pubkey(i, key.public()).expect("key");
        }
        (s, ka, kb)
    }

    fn transfer(key: &SecretKey, from: u64, to: Address, amount: u128, fee: u128, nonce: u64) -> Transfer {
        let mut t =
            Transfer { from, to, token: ETH, amount, fee, nonce, signature: key.sign(Fr::from(0u64)) };
        t.signature = key.sign(t.message());
        t
    }

    #[test]
    fn transfers_move_balances_and_bad_ones_change_nothing() {
        let (mut s, ka, kb) = setup();
        let applied = s.apply_transfer(&transfer(&ka, 0, B, 300, 2, 0)).expect("transfer");
        assert_eq!(applied.pubdata.len(), 15);
        assert!(matches!(applied.slot, Slot::Transfer(_)));
        assert_eq!(applied.fee, (ETH, 2), "the fee is the block's to pay out");
        assert_eq!((s.balance(0, ETH), s.balance(1, ETH)), (698, 1_300));
        let root = s.root();
        // replay, future nonce, wrong key, overdraft, zero address, unpackable fee
        let refusals = [
            (transfer(&ka, 0, B, 1, 0, 0), OpError::Nonce { account: 0, expected: 1, got: 0 }),
            (transfer(&ka, 0, B, 1, 0, 5), OpError::Nonce { account: 0, expected: 1, got: 5 }),
            (transfer(&kb, 0, B, 1, 0, 1), OpError::BadSignature),
            (
                transfer(&ka, 0, B, 698, 1, 1),
                StateError::InsufficientBalance { account: 0, token: ETH, have: 698, need: 699 }.into(),
            ),
            (transfer(&ka, 0, [0; 20], 1, 0, 1), OpError::ZeroAddress),
            (transfer(&ka, 0, B, 1, 2049, 1), OpError::NotPackable { what: "fee", value: 2049 }),
            (transfer(&ka, 9, B, 1, 0, 0), StateError::UnknownAccount(9).into()),
        ];
        for (t, expected) in refusals {
            assert_eq!(s.apply_transfer(&t).map(|_| ()), Err(expected));
            assert_eq!(s.root(), root, "a refused operation changes nothing");
        }
        // a tampered amount under the original signature
        let mut forged = transfer(&ka, 0, B, 1, 0, 1);
        forged.amount = 600;
        assert_eq!(s.apply_transfer(&forged).map(|_| ()), Err(OpError::BadSignature));
        // to an address with no account: a wide slot that opens one
        let applied = s.apply_transfer(&transfer(&ka, 0, [0xc; 20], 100, 0, 1)).expect("to new");
        assert!(matches!(applied.slot, Slot::Wide(_)));
        assert_eq!(applied.pubdata[0], op_type::TRANSFER_TO_NEW);
        assert_eq!(s.index_of(&[0xc; 20]), Some(2));
        assert_eq!(s.balance(2, ETH), 100);
    }

    #[test]
    fn withdrawals_full_exits_and_key_changes() {
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
        assert_eq!(s.apply_withdraw(&w).expect("withdraw").pubdata[..43].len(), 43);
        assert_eq!(s.balance(0, ETH), 599);
        assert_eq!(s.apply_withdraw(&w).map(|_| ()), Err(OpError::Nonce { account: 0, expected: 1, got: 0 }));

        // a full exit by someone else moves nothing and says 0; by the owner, everything
        let root = s.root();
        let other = s.apply_full_exit(&FullExit { account: 0, token: ETH, owner: B }).expect("served");
        assert_eq!(&other.pubdata[5..21], &[0u8; 16]);
        assert_eq!(s.root(), root);
        let mine = s.apply_full_exit(&FullExit { account: 0, token: ETH, owner: A }).expect("served");
        assert_eq!(u128::from_be_bytes(mine.pubdata[5..21].try_into().expect("16")), 599);
        assert_eq!(s.balance(0, ETH), 0);

        // a key change sets the key and takes the nonce
        let new = SecretKey::from_bytes(&[5; 32]).public();
        let c = ChangeKey { account: 1, key: new, nonce: 0, fee_token: ETH, fee: 10 };
        let applied = s.apply_change_key(&c).expect("change key");
        assert_eq!(applied.pubdata[0], op_type::CHANGE_KEY);
        assert_eq!(&applied.pubdata[4..24], &B);
        assert_eq!(s.account(1).expect("b").pubkey, Some(new));
        assert_eq!(s.balance(1, ETH), 990);
        assert_eq!(
            s.apply_change_key(&c).map(|_| ()),
            Err(OpError::Nonce { account: 1, expected: 1, got: 0 })
        );
        let bad = ChangeKey { key: PublicKey(Default::default()), nonce: 1, ..c };
        assert_eq!(s.apply_change_key(&bad).map(|_| ()), Err(OpError::BadKey));
    }
}
