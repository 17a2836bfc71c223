//! The state-transition rules of the ZK rollup, written once over [`Arith`]: natively over
//! field elements ([`Native`], which returns the first rule a witness breaks) and as R1CS
//! constraints (`circuit::Constraints`, which enforces them). Both run this same code, so the
//! operator and the circuit can not disagree on what a valid block is.
//!
//! A block ([`block`]) is a wide lane of slots (deposits, transfers to new accounts,
//! withdrawals, full exits, change-key: [`wide`]), then a lane of transfer slots between
//! existing accounts ([`transfer`]), then the payout of the block's fees, accumulated per
//! token, to the operator's fee account ([`pay_fees`]). Every slot yields its public data as
//! big-endian bits; unused slots are no-ops whose public data is zero.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};

use crate::{
    amount::{AMOUNT, FEE, Packing},
    eddsa::{PublicKey, Signature},
    ops::op_type,
    poseidon::{Domain, hash},
    state::{AccountWitness, BALANCE_BITS},
    tree::{MerklePath, empty_roots},
};

/// Bits of an account index in the public data.
pub const ACCOUNT_BITS: usize = 24;
/// Bits of a token id in the public data.
pub const TOKEN_BITS: usize = 8;
/// Bytes of a wide slot's public data.
pub const WIDE_BYTES: usize = 64;
/// Bytes of a transfer slot's public data.
pub const TRANSFER_BYTES: usize = 15;

/// The arithmetic the rules need, natively or in a circuit.
pub trait Arith {
    /// A field element.
    type F: Clone;
    /// A bit.
    type Bool: Clone;
    /// A public key.
    type Point: Clone;
    /// A signature.
    type Sig;
    /// What a broken rule (natively) or a synthesis failure (in a circuit) is.
    type Error;

    /// A constant.
    fn constant(&self, v: Fr) -> Self::F;
    /// A constant bit.
    fn bool_constant(&self, b: bool) -> Self::Bool;
    /// `a + b`.
    fn add(&self, a: &Self::F, b: &Self::F) -> Self::F;
    /// `a - b`.
    fn sub(&self, a: &Self::F, b: &Self::F) -> Self::F;
    /// `a · b`.
    fn mul(&self, a: &Self::F, b: &Self::F) -> Result<Self::F, Self::Error>;
    /// `c ? a : b`.
    fn select(&self, c: &Self::Bool, a: &Self::F, b: &Self::F) -> Result<Self::F, Self::Error>;
    /// `c ? a : b`, for bits.
    fn select_bool(&self, c: &Self::Bool, a: &Self::Bool, b: &Self::Bool) -> Result<Self::Bool, Self::Error>;
    /// `a ∧ b`.
    fn and(&self, a: &Self::Bool, b: &Self::Bool) -> Result<Self::Bool, Self::Error>;
    /// `a ∨ b`.
    fn or(&self, a: &Self::Bool, b: &Self::Bool) -> Result<Self::Bool, Self::Error>;
    /// `¬a`.
    fn not(&self, a: &Self::Bool) -> Self::Bool;
    /// `a == b`.
    fn is_equal(&self, a: &Self::F, b: &Self::F) -> Result<Self::Bool, Self::Error>;
    /// A bit as 0 or 1.
    fn bool_to_f(&self, b: &Self::Bool) -> Self::F;
    /// The number whose little-endian bits these are.
    fn bits_to_number(&self, bits: &[Self::Bool]) -> Self::F;
    /// Poseidon.
    fn hash(&self, domain: Domain, inputs: &[Self::F]) -> Result<Self::F, Self::Error>;
    /// Where `active`: `a == b`.
    fn enforce_equal(
        &self,
        active: &Self::Bool,
        a: &Self::F,
        b: &Self::F,
        rule: &'static str,
    ) -> Result<(), Self::Error>;
    /// Where `active`: `a != 0`.
    fn enforce_nonzero(
        &self,
        active: &Self::Bool,
        a: &Self::F,
        rule: &'static str,
    ) -> Result<(), Self::Error>;
    /// `b` is false.
    fn enforce_false(&self, b: &Self::Bool, rule: &'static str) -> Result<(), Self::Error>;
    /// The `bits` little-endian bits of `a`, enforcing `a < 2^bits` (callers zero `a` where a
    /// rule is inactive). At 254 bits and more: all of a field element's bits.
    fn to_bits(&self, a: &Self::F, bits: usize, rule: &'static str) -> Result<Vec<Self::Bool>, Self::Error>;
    /// The key's coordinates.
    fn point_xy(&self, p: &Self::Point) -> (Self::F, Self::F);
    /// Where `active`: `sig` signs `message` under `key`.
    fn enforce_signature(
        &self,
        active: &Self::Bool,
        key: &Self::Point,
        message: &Self::F,
        sig: &Self::Sig,
        rule: &'static str,
    ) -> Result<(), Self::Error>;
}

/// How witnesses enter an [`Arith`]: as they are natively, as allocated variables in a circuit.
pub trait Witness: Arith {
    /// A field element.
    fn w_f(&self, v: Fr) -> Result<Self::F, Self::Error>;
    /// A bit.
    fn w_bool(&self, b: bool) -> Result<Self::Bool, Self::Error>;
    /// A public key.
    fn w_point(&self, p: &PublicKey) -> Result<Self::Point, Self::Error>;
    /// A signature.
    fn w_sig(&self, s: &Signature) -> Result<Self::Sig, Self::Error>;
}

/// A Merkle path: the index bits (least significant first) and the siblings.
pub struct PathW<A: Arith + ?Sized> {
    /// Index bits.
    pub bits: Vec<A::Bool>,
    /// Siblings, from the leaf up.
    pub siblings: Vec<A::F>,
}

/// An account as a slot sees it, with the paths to its leaf and to one of its balances.
pub struct AccountW<A: Arith + ?Sized> {
    /// Its address (0: no account).
    pub address: A::F,
    /// Its key (checked against `key_hash` where it signs).
    pub key: A::Point,
    /// The hash of its key, as its leaf holds it (0: none).
    pub key_hash: A::F,
    /// Its nonce.
    pub nonce: A::F,
    /// Its balance tree's root.
    pub balance_root: A::F,
    /// The balance the slot touches.
    pub balance: A::F,
    /// That balance's path (its bits are the token id).
    pub balance_path: PathW<A>,
    /// The account's path (its bits are the account index).
    pub account_path: PathW<A>,
}

/// A packed value's bits.
pub struct PackedW<A: Arith + ?Sized> {
    /// Mantissa bits.
    pub mantissa: Vec<A::Bool>,
    /// Exponent bits.
    pub exponent: Vec<A::Bool>,
}

/// One transfer slot: a transfer between existing accounts, or a no-op where `active` is
/// false.
pub struct TransferW<A: Arith + ?Sized> {
    /// Whether the slot holds a transfer.
    pub active: A::Bool,
    /// The amount, packed.
    pub amount: PackedW<A>,
    /// The fee, packed.
    pub fee: PackedW<A>,
    /// The nonce signed.
    pub nonce: A::F,
    /// The sender's signature.
    pub signature: A::Sig,
    /// The sender before the transfer.
    pub sender: AccountW<A>,
    /// The recipient after the sender's update (the same account when sending to oneself).
    pub recipient: AccountW<A>,
}

/// One wide slot: a deposit, a transfer to a new account, a withdrawal, a full exit, a
/// change-key, or a no-op (kind 0).
pub struct WideW<A: Arith + ?Sized> {
    /// The operation type's three bits, least significant first.
    pub kind: Vec<A::Bool>,
    /// The account the operation is about (the sender of a transfer).
    pub a: AccountW<A>,
    /// Whether `a` is an empty slot (a deposit opening an account, a full exit of nothing).
    pub a_empty: A::Bool,
    /// The new account of a transfer to a new address (unused otherwise).
    pub b: AccountW<A>,
    /// The full amount of a deposit or withdrawal.
    pub amount: A::F,
    /// The packed amount of a transfer to a new account.
    pub packed_amount: PackedW<A>,
    /// The fee (transfer, withdraw, change-key).
    pub fee: PackedW<A>,
    /// The address (160 bits, least significant first): the depositor's L2 owner, the new
    /// account's, the withdrawal's L1 recipient, the full exit's requester, the key changer.
    pub address: Vec<A::Bool>,
    /// The nonce signed (transfer, withdraw) or authorised on L1 (change-key).
    pub nonce: A::F,
    /// The account's signature (transfer, withdraw).
    pub signature: A::Sig,
    /// The new key's hash (change-key).
    pub new_key_hash: A::F,
}

/// The operator's fee account at the end of a block, with every token's balance path (taken
/// one after another, each after the previous token's payout).
pub struct PayoutW<A: Arith + ?Sized> {
    /// The fee account.
    pub account: AccountW<A>,
    /// Its balance of each token before the payout.
    pub balances: Vec<A::F>,
    /// The siblings of each token's balance path.
    pub siblings: Vec<Vec<A::F>>,
}

/// What a slot produced.
pub struct SlotOut<A: Arith + ?Sized> {
    /// The root after the slot.
    pub root: A::F,
    /// The public data, as big-endian bits.
    pub pubdata: Vec<A::Bool>,
    /// The fee the slot collected (0 for none).
    pub fee: A::F,
    /// The token of the fee.
    pub fee_token: Vec<A::Bool>,
}

/// A packed value: `mantissa · 10^exponent`, in its one encoding (`Packing::pack`'s, the
/// smallest exponent): where the exponent is not 0, `mantissa · 10` does not fit the
/// mantissa's bits (else `10·10^0` and `1·10^1` would both mean 10, and public data that a
/// user's signature or L1 sees would have two spellings).
pub fn unpack<A: Arith>(a: &A, p: &PackedW<A>) -> Result<A::F, A::Error> {
    let mantissa = a.bits_to_number(&p.mantissa);
    let mut scaled = a.bool_constant(false);
    for bit in &p.exponent {
        scaled = a.or(&scaled, bit)?;
    }
    let bits = p.mantissa.len();
    // the smallest mantissa that times 10 passes 2^bits - 1
    let least = ((1u128 << bits) - 1) / 10 + 1;
    let excess = a.sub(&mantissa, &a.constant(Fr::from(least)));
    a.to_bits(
        &a.select(&scaled, &excess, &a.constant(Fr::zero()))?,
        bits,
        "a packed amount has one encoding (the smallest exponent)",
    )?;
    let mut value = mantissa;
    let mut power = Fr::from(10u64);
    for bit in &p.exponent {
        let scaled = a.mul(&value, &a.constant(power))?;
        value = a.select(bit, &scaled, &value)?;
        power = power.square();
    }
    Ok(value)
}

/// The leaf of an account with these fields.
pub fn account_leaf<A: Arith>(
    a: &A,
    address: &A::F,
    key_hash: &A::F,
    nonce: &A::F,
    balance_root: &A::F,
) -> Result<A::F, A::Error> {
    a.hash(Domain::Account, &[address.clone(), key_hash.clone(), nonce.clone(), balance_root.clone()])
}

/// Where `active`: the account has a key, and `w.key` is the key its leaf holds the hash of.
fn enforce_key<A: Arith>(
    a: &A,
    active: &A::Bool,
    w: &AccountW<A>,
    who: &'static str,
) -> Result<(), A::Error> {
    a.enforce_nonzero(active, &w.key_hash, who)?;
    let (x, y) = a.point_xy(&w.key);
    let hash = a.hash(Domain::Key, &[x, y])?;
    a.enforce_equal(active, &hash, &w.key_hash, "the key is the account's")
}

/// The root reached from `leaf` along `path`.
pub fn path_root<A: Arith>(a: &A, leaf: &A::F, path: &PathW<A>) -> Result<A::F, A::Error> {
    let mut acc = leaf.clone();
    for (bit, sibling) in path.bits.iter().zip(&path.siblings) {
        let left = a.select(bit, sibling, &acc)?;
        let right = a.select(bit, &acc, sibling)?;
        acc = a.hash(Domain::Node, &[left, right])?;
    }
    Ok(acc)
}

/// An account's fields after an operation.
struct NewFields<A: Arith + ?Sized> {
    address: A::F,
    key_hash: A::F,
    nonce: A::F,
    balance: A::F,
}

/// Where `check`: `w` is at its path under `root`, with its balance in its balance tree;
/// where also `empty`, the slot is empty (leaf 0) and `w` holds a fresh account's fields.
/// Returns the root with the account rewritten to `new` (the caller decides whether to take
/// it).
fn rewrite<A: Arith>(
    a: &A,
    check: &A::Bool,
    empty: &A::Bool,
    root: &A::F,
    w: &AccountW<A>,
    new: NewFields<A>,
    who: &'static str,
) -> Result<A::F, A::Error> {
    let zero = a.constant(Fr::zero());
    let leaf = account_leaf(a, &w.address, &w.key_hash, &w.nonce, &w.balance_root)?;
    let old_leaf = a.select(empty, &zero, &leaf)?;
    a.enforce_equal(check, &path_root(a, &old_leaf, &w.account_path)?, root, who)?;
    a.enforce_equal(check, &path_root(a, &w.balance, &w.balance_path)?, &w.balance_root, who)?;
    let fresh = a.and(check, empty)?;
    let empty_balances = empty_roots(w.balance_path.siblings.len())[w.balance_path.siblings.len()];
    for (value, expected) in [
        (&w.address, Fr::zero()),
        (&w.nonce, Fr::zero()),
        (&w.key_hash, Fr::zero()),
        (&w.balance_root, empty_balances),
    ] {
        a.enforce_equal(&fresh, value, &a.constant(expected), "an empty slot holds a fresh account")?;
    }
    let balance_root = path_root(a, &new.balance, &w.balance_path)?;
    let new_leaf = account_leaf(a, &new.address, &new.key_hash, &new.nonce, &balance_root)?;
    path_root(a, &new_leaf, &w.account_path)
}

/// `bits` (little-endian) as `width` big-endian bits. Bits past `width` must be zero: an id
/// of a tree deeper than its public-data field (an account past 2^24, a token past 2^8) is
/// refused, never cut to another id.
fn be<A: Arith>(a: &A, bits: &[A::Bool], width: usize) -> Result<Vec<A::Bool>, A::Error> {
    for bit in bits.iter().skip(width) {
        a.enforce_false(bit, "an id fits its field of the public data")?;
    }
    let mut out: Vec<A::Bool> = bits.iter().take(width).cloned().collect();
    out.resize(width, a.bool_constant(false));
    out.reverse();
    Ok(out)
}

/// A constant byte as big-endian bits.
fn byte<A: Arith>(a: &A, v: u8) -> Vec<A::Bool> {
    (0..8).rev().map(|i| a.bool_constant((v >> i) & 1 == 1)).collect()
}

/// A packed value's bits, exponent lowest, as the public data carries them (big-endian).
fn packed_be<A: Arith>(a: &A, p: &PackedW<A>) -> Result<Vec<A::Bool>, A::Error> {
    let mut bits = p.exponent.clone();
    bits.extend(p.mantissa.iter().cloned());
    let width = bits.len();
    be(a, &bits, width)
}

fn gate<A: Arith>(a: &A, on: &A::Bool, bits: Vec<A::Bool>) -> Result<Vec<A::Bool>, A::Error> {
    bits.iter().map(|b| a.and(on, b)).collect()
}

/// Whether the little-endian `bits` spell the constant `v`.
fn bits_equal<A: Arith>(a: &A, bits: &[A::Bool], v: u64) -> Result<A::Bool, A::Error> {
    let mut acc = a.bool_constant(true);
    for (i, bit) in bits.iter().enumerate() {
        let literal = if (v >> i) & 1 == 1 { bit.clone() } else { a.not(bit) };
        acc = a.and(&acc, &literal)?;
    }
    if v >> bits.len() != 0 {
        return Ok(a.bool_constant(false));
    }
    Ok(acc)
}

/// What a transfer's sender signs: the recipient by address, so that the operator can put it
/// in either lane (an existing account, or a new one).
pub fn transfer_message<A: Arith>(
    a: &A,
    from: &A::F,
    to: &A::F,
    token: &A::F,
    amount: &A::F,
    fee: &A::F,
    nonce: &A::F,
) -> Result<A::F, A::Error> {
    a.hash(
        Domain::Message,
        &[
            a.constant(Fr::from(op_type::TRANSFER as u64)),
            from.clone(),
            to.clone(),
            token.clone(),
            amount.clone(),
            fee.clone(),
            nonce.clone(),
        ],
    )
}

/// The transfer rule. From `root`: the sender's account and balance are in the state, it has
/// a key, the nonce is its nonce, the signature signs the transfer (to the recipient's
/// address), the balance covers amount and fee; the recipient exists; its balance stays below
/// 2^128. The fee is collected for the block's payout. Returns the new root (the same root
/// for a no-op), the public data and the fee.
pub fn transfer<A: Arith>(a: &A, root: &A::F, t: &TransferW<A>) -> Result<SlotOut<A>, A::Error> {
    let on = &t.active;
    let no = a.bool_constant(false);
    let zero = a.constant(Fr::zero());
    let one = a.constant(Fr::from(1u64));
    let s = &t.sender;
    let r = &t.recipient;
    a.enforce_nonzero(on, &s.address, "the sender's account exists")?;
    enforce_key(a, on, s, "the sender has an L2 key")?;
    a.enforce_equal(on, &t.nonce, &s.nonce, "the nonce is the sender's next")?;
    let amount = unpack(a, &t.amount)?;
    let fee = unpack(a, &t.fee)?;
    let from = a.bits_to_number(&s.account_path.bits);
    let token = a.bits_to_number(&s.balance_path.bits);
    a.enforce_equal(on, &a.bits_to_number(&r.balance_path.bits), &token, "both sides move the same token")?;
    let message = transfer_message(a, &from, &r.address, &token, &amount, &fee, &t.nonce)?;
    a.enforce_signature(on, &s.key, &message, &t.signature, "the sender signed the transfer")?;

    let sender_balance = a.sub(&s.balance, &a.add(&amount, &fee));
    a.to_bits(
        &a.select(on, &sender_balance, &zero)?,
        BALANCE_BITS as usize,
        "the sender's balance covers amount and fee",
    )?;
    let sender = NewFields {
        address: s.address.clone(),
        key_hash: s.key_hash.clone(),
        nonce: a.add(&s.nonce, &one),
        balance: sender_balance,
    };
    let mid = rewrite(a, on, &no, root, s, sender, "the sender's account is in the state")?;

    a.enforce_nonzero(on, &r.address, "the recipient's account exists")?;
    let recipient_balance = a.add(&r.balance, &amount);
    a.to_bits(
        &a.select(on, &recipient_balance, &zero)?,
        BALANCE_BITS as usize,
        "the recipient's balance stays below 2^128",
    )?;
    let recipient = NewFields {
        address: r.address.clone(),
        key_hash: r.key_hash.clone(),
        nonce: r.nonce.clone(),
        balance: recipient_balance,
    };
    let after = rewrite(a, on, &no, &mid, r, recipient, "the recipient's account is in the state")?;

    let mut bits = byte(a, op_type::TRANSFER);
    bits.extend(be(a, &s.account_path.bits, ACCOUNT_BITS)?);
    bits.extend(be(a, &r.account_path.bits, ACCOUNT_BITS)?);
    bits.extend(be(a, &s.balance_path.bits, TOKEN_BITS)?);
    bits.extend(packed_be(a, &t.amount)?);
    bits.extend(packed_be(a, &t.fee)?);
    Ok(SlotOut {
        root: a.select(on, &after, root)?,
        pubdata: gate(a, on, bits)?,
        fee: a.select(on, &fee, &zero)?,
        fee_token: s.balance_path.bits.clone(),
    })
}

/// The rules of a wide slot, by its kind:
/// - deposit (1): the account at the slot is the address's, or an empty slot that becomes
///   the address's account; it receives the amount;
/// - transfer to a new account (3): as a transfer, to an empty slot that becomes the
///   address's account;
/// - withdraw (4): signed by the account's key; amount and fee leave its balance, the amount
///   for the L1 address;
/// - full exit (5): where the account exists and is the address's, its whole balance of the
///   token leaves for L1 (the public data says how much); otherwise nothing changes and the
///   amount is 0;
/// - change-key (6): the account's owner (authorised on L1, which sees the address, the key
///   hash and the nonce) sets its key, paying the fee;
/// - no-op (0). Kinds 2 (transfers go in the transfer lane) and 7 are refused.
pub fn wide<A: Arith>(a: &A, root: &A::F, w: &WideW<A>) -> Result<SlotOut<A>, A::Error> {
    let zero = a.constant(Fr::zero());
    let one = a.bool_constant(true);
    let kind = |t: u8| bits_equal(a, &w.kind, t as u64);
    let deposit = kind(op_type::DEPOSIT)?;
    let to_new = kind(op_type::TRANSFER_TO_NEW)?;
    let withdraw = kind(op_type::WITHDRAW)?;
    let full_exit = kind(op_type::FULL_EXIT)?;
    let change_key = kind(op_type::CHANGE_KEY)?;
    a.enforce_false(
        &kind(op_type::TRANSFER)?,
        "a transfer to an existing account goes in the transfer lane",
    )?;
    a.enforce_false(&kind(7)?, "an operation type exists")?;
    let signed = a.or(&to_new, &withdraw)?;
    let by_owner = a.or(&signed, &change_key)?;
    let priority = a.or(&deposit, &full_exit)?;
    let active = a.or(&priority, &by_owner)?;
    let acc = &w.a;
    a.enforce_false(&a.and(&w.a_empty, &by_owner)?, "the account exists")?;

    let address = a.bits_to_number(&w.address);
    a.enforce_nonzero(&active, &address, "the address is not zero")?;
    let not_empty = a.not(&w.a_empty);
    a.enforce_equal(
        &a.and(&deposit, &not_empty)?,
        &acc.address,
        &address,
        "a deposit goes to its owner's account",
    )?;
    a.enforce_equal(&change_key, &acc.address, &address, "the owner changes the key")?;
    enforce_key(a, &signed, acc, "the account has an L2 key")?;
    a.enforce_equal(&by_owner, &w.nonce, &acc.nonce, "the nonce is the account's next")?;

    let packed_amount = unpack(a, &w.packed_amount)?;
    let fee = unpack(a, &w.fee)?;
    let token = a.bits_to_number(&acc.balance_path.bits);
    let from = a.bits_to_number(&acc.account_path.bits);
    let owner = a.and(&a.is_equal(&acc.address, &address)?, &not_empty)?;
    let exit_ok = a.and(&full_exit, &owner)?;
    let exit_amount = a.select(&exit_ok, &acc.balance, &zero)?;
    let deposit_or_withdraw = a.or(&deposit, &withdraw)?;
    let amount = a.select(&full_exit, &exit_amount, &a.select(&deposit_or_withdraw, &w.amount, &zero)?)?;
    let amount_bits = a.to_bits(&amount, BALANCE_BITS as usize, "the amount is below 2^128")?;

    let transfer_msg = transfer_message(a, &from, &address, &token, &packed_amount, &fee, &w.nonce)?;
    let withdraw_msg = a.hash(
        Domain::Message,
        &[
            a.constant(Fr::from(op_type::WITHDRAW as u64)),
            from.clone(),
            token.clone(),
            w.amount.clone(),
            fee.clone(),
            w.nonce.clone(),
            address.clone(),
        ],
    )?;
    let message = a.select(&to_new, &transfer_msg, &withdraw_msg)?;
    a.enforce_signature(&signed, &acc.key, &message, &w.signature, "the account signed the operation")?;

    // the account's new balance, nonce, key and owner
    let paid_fee = a.select(&by_owner, &fee, &zero)?;
    let sent = a.select(&to_new, &packed_amount, &a.select(&withdraw, &w.amount, &zero)?)?;
    let received = a.select(&deposit, &w.amount, &zero)?;
    let balance = a.sub(&a.add(&acc.balance, &received), &a.add(&a.add(&sent, &paid_fee), &exit_amount));
    a.to_bits(
        &a.select(&active, &balance, &zero)?,
        BALANCE_BITS as usize,
        "the balance covers what leaves it and stays below 2^128",
    )?;
    a.enforce_nonzero(&change_key, &w.new_key_hash, "the new key is a key")?;
    let fields = NewFields {
        address: a.select(&deposit, &address, &acc.address)?,
        key_hash: a.select(&change_key, &w.new_key_hash, &acc.key_hash)?,
        nonce: a.add(&acc.nonce, &a.bool_to_f(&by_owner)),
        balance,
    };
    let after_a = rewrite(a, &active, &w.a_empty, root, acc, fields, "the account is in the state")?;
    let write_a = a.or(&a.or(&deposit, &exit_ok)?, &by_owner)?;
    let mid = a.select(&write_a, &after_a, root)?;

    // the new account of a transfer to a new address
    let b = &w.b;
    a.enforce_equal(
        &to_new,
        &a.bits_to_number(&b.balance_path.bits),
        &token,
        "both sides move the same token",
    )?;
    a.to_bits(
        &a.select(&to_new, &packed_amount, &zero)?,
        BALANCE_BITS as usize,
        "the new account's balance is below 2^128",
    )?;
    let new_account = NewFields {
        address: address.clone(),
        key_hash: b.key_hash.clone(),
        nonce: b.nonce.clone(),
        balance: packed_amount,
    };
    let after_b = rewrite(a, &to_new, &one, &mid, b, new_account, "the new account's slot is empty")?;
    let after = a.select(&to_new, &after_b, &mid)?;

    // public data: each kind's layout, the slot's by its kind
    let account = be(a, &acc.account_path.bits, ACCOUNT_BITS)?;
    let token_be = be(a, &acc.balance_path.bits, TOKEN_BITS)?;
    let address_be = be(a, &w.address, 160)?;
    let amount_be = be(a, &amount_bits, 128)?;
    let fee_be = packed_be(a, &w.fee)?;
    let key_hash_bits = a.to_bits(&a.select(&change_key, &w.new_key_hash, &zero)?, 254, "a key hash")?;
    let nonce_bits = a.to_bits(&a.select(&change_key, &w.nonce, &zero)?, 32, "the nonce fits 32 bits")?;
    let layouts: [Layout<'_, A>; 5] = [
        (
            &deposit,
            vec![
                byte(a, op_type::DEPOSIT),
                account.clone(),
                token_be.clone(),
                amount_be.clone(),
                address_be.clone(),
            ],
        ),
        (
            &to_new,
            vec![
                byte(a, op_type::TRANSFER_TO_NEW),
                account.clone(),
                be(a, &b.account_path.bits, ACCOUNT_BITS)?,
                token_be.clone(),
                packed_be(a, &w.packed_amount)?,
                fee_be.clone(),
                address_be.clone(),
            ],
        ),
        (
            &withdraw,
            vec![
                byte(a, op_type::WITHDRAW),
                account.clone(),
                token_be.clone(),
                amount_be.clone(),
                fee_be.clone(),
                address_be.clone(),
            ],
        ),
        (
            &full_exit,
            vec![
                byte(a, op_type::FULL_EXIT),
                account.clone(),
                token_be.clone(),
                amount_be,
                address_be.clone(),
            ],
        ),
        (
            &change_key,
            vec![
                byte(a, op_type::CHANGE_KEY),
                account,
                address_be,
                be(a, &key_hash_bits, 256)?,
                be(a, &nonce_bits, 32)?,
                token_be,
                fee_be,
            ],
        ),
    ];
    let no = a.bool_constant(false);
    let mut pubdata = vec![no.clone(); WIDE_BYTES * 8];
    for (flag, fields) in layouts {
        let bits: Vec<A::Bool> = fields.into_iter().flatten().collect();
        for (i, slot) in pubdata.iter_mut().enumerate() {
            let bit = bits.get(i).cloned().unwrap_or_else(|| no.clone());
            *slot = a.select_bool(flag, &bit, slot)?;
        }
    }
    Ok(SlotOut { root: after, pubdata, fee: paid_fee, fee_token: acc.balance_path.bits.clone() })
}

/// Pays the block's fees (`fees[token]`) to the operator's account `fee_account`: the account
/// is in the state, and each token's balance, in turn, receives its fees (staying below
/// 2^128). Returns the new root.
pub fn pay_fees<A: Arith>(
    a: &A,
    root: &A::F,
    fee_account: u64,
    fees: &[A::F],
    p: &PayoutW<A>,
) -> Result<A::F, A::Error> {
    let on = a.bool_constant(true);
    let w = &p.account;
    let leaf = account_leaf(a, &w.address, &w.key_hash, &w.nonce, &w.balance_root)?;
    a.enforce_equal(&on, &path_root(a, &leaf, &w.account_path)?, root, "the fee account is in the state")?;
    a.enforce_equal(
        &on,
        &a.bits_to_number(&w.account_path.bits),
        &a.constant(Fr::from(fee_account)),
        "the fees go to the operator's account",
    )?;
    a.enforce_nonzero(&on, &w.address, "the fee account exists")?;
    let mut balance_root = w.balance_root.clone();
    for (token, ((balance, siblings), fee)) in p.balances.iter().zip(&p.siblings).zip(fees).enumerate() {
        let path = PathW::<A> {
            bits: (0..siblings.len()).map(|i| a.bool_constant((token >> i) & 1 == 1)).collect(),
            siblings: siblings.clone(),
        };
        a.enforce_equal(
            &on,
            &path_root(a, balance, &path)?,
            &balance_root,
            "the fee account's balance is in it",
        )?;
        let paid = a.add(balance, fee);
        a.to_bits(&paid, BALANCE_BITS as usize, "the fee account's balance stays below 2^128")?;
        balance_root = path_root(a, &paid, &path)?;
    }
    let new_leaf = account_leaf(a, &w.address, &w.key_hash, &w.nonce, &balance_root)?;
    path_root(a, &new_leaf, &w.account_path)
}

/// A block's new root and public data (big-endian bits).
pub type BlockOut<A> = (<A as Arith>::F, Vec<<A as Arith>::Bool>);

/// A wide operation's public-data fields under the flag of its kind.
type Layout<'a, A> = (&'a <A as Arith>::Bool, Vec<Vec<<A as Arith>::Bool>>);

/// A whole block from `old_root`: the wide lane, the transfer lane, the fee payout. Returns
/// the new root and the public data (big-endian bits).
pub fn block<A: Arith>(
    a: &A,
    old_root: &A::F,
    fee_account: u64,
    wides: &[WideW<A>],
    transfers: &[TransferW<A>],
    payout: &PayoutW<A>,
) -> Result<BlockOut<A>, A::Error> {
    let mut fees = vec![a.constant(Fr::zero()); payout.balances.len()];
    let mut root = old_root.clone();
    let mut pubdata = Vec::new();
    let mut collect = |a: &A, out: SlotOut<A>, root: &mut A::F| -> Result<(), A::Error> {
        for (token, total) in fees.iter_mut().enumerate() {
            let here = bits_equal(a, &out.fee_token, token as u64)?;
            *total = a.add(total, &a.select(&here, &out.fee, &a.constant(Fr::zero()))?);
        }
        *root = out.root;
        pubdata.extend(out.pubdata);
        Ok(())
    };
    for w in wides {
        let out = wide(a, &root, w)?;
        collect(a, out, &mut root)?;
    }
    for t in transfers {
        let out = transfer(a, &root, t)?;
        collect(a, out, &mut root)?;
    }
    let root = pay_fees(a, &root, fee_account, &fees, payout)?;
    Ok((root, pubdata))
}

/// Big-endian bits as bytes.
pub fn bits_to_bytes(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8).map(|c| c.iter().fold(0u8, |acc, b| (acc << 1) | *b as u8)).collect()
}

/// The bits of a packed value, for a witness.
pub fn packed_bits(packing: Packing, value: u128) -> Option<(Vec<bool>, Vec<bool>)> {
    let packed = packing.pack(value)?;
    let exponent = (0..packing.exponent_bits).map(|i| (packed >> i) & 1 == 1).collect();
    let mantissa =
        (0..packing.mantissa_bits).map(|i| (packed >> (packing.exponent_bits + i)) & 1 == 1).collect();
    Some((mantissa, exponent))
}

/// The rules over field elements: each check returns the rule it breaks.
pub struct Native;

/// A broken rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rule broken: {0}")]
pub struct Broken(pub &'static str);

impl Arith for Native {
    type F = Fr;
    type Bool = bool;
    type Point = PublicKey;
    type Sig = Signature;
    type Error = Broken;

    fn constant(&self, v: Fr) -> Fr {
        v
    }
    fn bool_constant(&self, b: bool) -> bool {
        b
    }
    fn add(&self, a: &Fr, b: &Fr) -> Fr {
        *a + b
    }
    fn sub(&self, a: &Fr, b: &Fr) -> Fr {
        *a - b
    }
    fn mul(&self, a: &Fr, b: &Fr) -> Result<Fr, Broken> {
        Ok(*a * b)
    }
    fn select(&self, c: &bool, a: &Fr, b: &Fr) -> Result<Fr, Broken> {
        Ok(if *c { *a } else { *b })
    }
    fn select_bool(&self, c: &bool, a: &bool, b: &bool) -> Result<bool, Broken> {
        Ok(if *c { *a } else { *b })
    }
    fn and(&self, a: &bool, b: &bool) -> Result<bool, Broken> {
        Ok(*a && *b)
    }
    fn or(&self, a: &bool, b: &bool) -> Result<bool, Broken> {
        Ok(*a || *b)
    }
    fn not(&self, a: &bool) -> bool {
        !*a
    }
    fn is_equal(&self, a: &Fr, b: &Fr) -> Result<bool, Broken> {
        Ok(a == b)
    }
    fn bool_to_f(&self, b: &bool) -> Fr {
        Fr::from(*b as u64)
    }
    fn bits_to_number(&self, bits: &[bool]) -> Fr {
        bits.iter().rev().fold(Fr::zero(), |acc, b| acc.double() + Fr::from(*b as u64))
    }
    fn hash(&self, domain: Domain, inputs: &[Fr]) -> Result<Fr, Broken> {
        Ok(hash(domain, inputs))
    }
    fn enforce_equal(&self, active: &bool, a: &Fr, b: &Fr, rule: &'static str) -> Result<(), Broken> {
        if *active && a != b { Err(Broken(rule)) } else { Ok(()) }
    }
    fn enforce_nonzero(&self, active: &bool, a: &Fr, rule: &'static str) -> Result<(), Broken> {
        if *active && a.is_zero() { Err(Broken(rule)) } else { Ok(()) }
    }
    fn enforce_false(&self, b: &bool, rule: &'static str) -> Result<(), Broken> {
        if *b { Err(Broken(rule)) } else { Ok(()) }
    }
    fn to_bits(&self, a: &Fr, bits: usize, rule: &'static str) -> Result<Vec<bool>, Broken> {
        let all = a.into_bigint().to_bits_le();
        let width = bits.min(Fr::MODULUS_BIT_SIZE as usize);
        if all[width..].iter().any(|b| *b) {
            return Err(Broken(rule));
        }
        Ok(all[..width].to_vec())
    }
    fn point_xy(&self, p: &PublicKey) -> (Fr, Fr) {
        p.coordinates()
    }
    fn enforce_signature(
        &self,
        active: &bool,
        key: &PublicKey,
        message: &Fr,
        sig: &Signature,
        rule: &'static str,
    ) -> Result<(), Broken> {
        if *active && !key.verify(*message, sig) { Err(Broken(rule)) } else { Ok(()) }
    }
}

impl Witness for Native {
    fn w_f(&self, v: Fr) -> Result<Fr, Broken> {
        Ok(v)
    }
    fn w_bool(&self, b: bool) -> Result<bool, Broken> {
        Ok(b)
    }
    fn w_point(&self, p: &PublicKey) -> Result<PublicKey, Broken> {
        Ok(*p)
    }
    fn w_sig(&self, s: &Signature) -> Result<Signature, Broken> {
        Ok(*s)
    }
}

fn w_bits<A: Witness>(a: &A, bits: &[bool]) -> Result<Vec<A::Bool>, A::Error> {
    bits.iter().map(|b| a.w_bool(*b)).collect()
}

impl<A: Witness> PathW<A> {
    /// The witness of a path.
    pub fn new(a: &A, path: &MerklePath) -> Result<Self, A::Error> {
        let bits: Vec<bool> = (0..path.siblings.len()).map(|i| (path.index >> i) & 1 == 1).collect();
        Ok(Self {
            bits: w_bits(a, &bits)?,
            siblings: path.siblings.iter().map(|s| a.w_f(*s)).collect::<Result<_, _>>()?,
        })
    }
}

impl<A: Witness> AccountW<A> {
    /// The witness of an account.
    pub fn new(a: &A, w: &AccountWitness) -> Result<Self, A::Error> {
        Ok(Self {
            address: a.w_f(w.address)?,
            key: a.w_point(&w.key)?,
            key_hash: a.w_f(w.key_hash)?,
            nonce: a.w_f(Fr::from(w.nonce))?,
            balance_root: a.w_f(w.balance_root)?,
            balance: a.w_f(Fr::from(w.balance))?,
            balance_path: PathW::new(a, &w.balance_path)?,
            account_path: PathW::new(a, &w.account_path)?,
        })
    }
}

impl<A: Witness> PackedW<A> {
    /// The witness of a packed value (`None` when it does not pack).
    pub fn new(a: &A, packing: Packing, value: u128) -> Option<Result<Self, A::Error>> {
        let (mantissa, exponent) = packed_bits(packing, value)?;
        Some((|| Ok(Self { mantissa: w_bits(a, &mantissa)?, exponent: w_bits(a, &exponent)? }))())
    }
}

/// A witness whose amounts do not pack, or a synthesis failure.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError<E> {
    /// An amount or fee has no packed form (the operator never builds such a slot).
    #[error("an amount or fee of the witness does not pack")]
    NotPackable,
    /// The arithmetic failed.
    #[error(transparent)]
    Arith(E),
}

fn packed<A: Witness>(a: &A, packing: Packing, value: u128) -> Result<PackedW<A>, WitnessError<A::Error>> {
    PackedW::new(a, packing, value).ok_or(WitnessError::NotPackable)?.map_err(WitnessError::Arith)
}

impl<A: Witness> TransferW<A> {
    /// The slot of a transfer the operator applied, or a no-op (`active` false).
    pub fn new(
        a: &A,
        active: bool,
        w: &crate::block::TransferWitness,
    ) -> Result<Self, WitnessError<A::Error>> {
        let t = &w.transfer;
        let e = WitnessError::Arith;
        Ok(Self {
            active: a.w_bool(active).map_err(e)?,
            amount: packed(a, AMOUNT, t.amount)?,
            fee: packed(a, FEE, t.fee)?,
            nonce: a.w_f(Fr::from(t.nonce)).map_err(e)?,
            signature: a.w_sig(&t.signature).map_err(e)?,
            sender: AccountW::new(a, &w.sender).map_err(e)?,
            recipient: AccountW::new(a, &w.recipient).map_err(e)?,
        })
    }
}

impl<A: Witness> WideW<A> {
    /// The slot of a wide operation the operator applied (kind 0: a no-op).
    pub fn new(a: &A, w: &crate::block::WideWitness) -> Result<Self, WitnessError<A::Error>> {
        let e = WitnessError::Arith;
        let kind: Vec<bool> = (0..3).map(|i| (w.kind >> i) & 1 == 1).collect();
        let address: Vec<bool> = (0..160).map(|i| (w.address[19 - i / 8] >> (i % 8)) & 1 == 1).collect();
        let new_key_hash = if w.new_key.is_unset() { Fr::zero() } else { crate::ops::key_hash(&w.new_key) };
        Ok(Self {
            kind: w_bits(a, &kind).map_err(e)?,
            a: AccountW::new(a, &w.a).map_err(e)?,
            a_empty: a.w_bool(w.a_empty).map_err(e)?,
            b: AccountW::new(a, &w.b).map_err(e)?,
            amount: a.w_f(Fr::from(w.amount)).map_err(e)?,
            packed_amount: packed(a, AMOUNT, w.packed_amount)?,
            fee: packed(a, FEE, w.fee)?,
            address: w_bits(a, &address).map_err(e)?,
            nonce: a.w_f(Fr::from(w.nonce)).map_err(e)?,
            signature: a.w_sig(&w.signature).map_err(e)?,
            new_key_hash: a.w_f(new_key_hash).map_err(e)?,
        })
    }
}

impl<A: Witness> PayoutW<A> {
    /// The fee payout's witness.
    pub fn new(a: &A, w: &crate::block::PayoutWitness) -> Result<Self, A::Error> {
        Ok(Self {
            account: AccountW::new(a, &w.account)?,
            balances: w.balances.iter().map(|b| a.w_f(Fr::from(*b))).collect::<Result<_, _>>()?,
            siblings: w
                .siblings
                .iter()
                .map(|s| s.iter().map(|f| a.w_f(*f)).collect::<Result<Vec<_>, _>>())
                .collect::<Result<_, _>>()?,
        })
    }
}
