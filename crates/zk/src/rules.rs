//! The state-transition rules of the ZK rollup, written once over [`Arith`]: natively over
//! field elements ([`Native`], which returns the first rule a witness breaks) and as R1CS
//! constraints (`circuit::Constraints`, which enforces them). Both run this same code, so the
//! operator and the circuit can not disagree on what a valid block is.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};

use crate::{
    amount::{AMOUNT, FEE, Packing},
    eddsa::{PublicKey, Signature},
    ops::op_type,
    poseidon::{Domain, hash},
    state::{AccountWitness, BALANCE_BITS},
    tree::MerklePath,
};

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
    /// `a + b`.
    fn add(&self, a: &Self::F, b: &Self::F) -> Self::F;
    /// `a - b`.
    fn sub(&self, a: &Self::F, b: &Self::F) -> Self::F;
    /// `a · b`.
    fn mul(&self, a: &Self::F, b: &Self::F) -> Result<Self::F, Self::Error>;
    /// `c ? a : b`.
    fn select(&self, c: &Self::Bool, a: &Self::F, b: &Self::F) -> Result<Self::F, Self::Error>;
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
    /// `a < 2^bits` (callers zero `a` where a rule is inactive).
    fn enforce_bits(&self, a: &Self::F, bits: usize, rule: &'static str) -> Result<(), Self::Error>;
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
    /// Its key.
    pub key: A::Point,
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

/// One transfer slot: a transfer, or a no-op where `active` is false.
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
    /// The operator's fee account after the recipient's update.
    pub operator: AccountW<A>,
}

/// What a slot produced.
pub struct SlotOut<A: Arith + ?Sized> {
    /// The root after the slot.
    pub root: A::F,
    /// The public-data fields, as (value, bit width), in order.
    pub pubdata: Vec<(A::F, usize)>,
}

/// A packed value: `mantissa · 10^exponent`.
pub fn unpack<A: Arith>(a: &A, p: &PackedW<A>) -> Result<A::F, A::Error> {
    let mut value = a.bits_to_number(&p.mantissa);
    let mut power = Fr::from(10u64);
    for bit in &p.exponent {
        let scaled = a.mul(&value, &a.constant(power))?;
        value = a.select(bit, &scaled, &value)?;
        power = power.square();
    }
    Ok(value)
}

/// The leaf of an account.
pub fn account_leaf<A: Arith>(
    a: &A,
    w: &AccountW<A>,
    nonce: &A::F,
    balance_root: &A::F,
) -> Result<A::F, A::Error> {
    let (x, y) = a.point_xy(&w.key);
    a.hash(Domain::Account, &[w.address.clone(), x, y, nonce.clone(), balance_root.clone()])
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

/// Checks that `w` is in the state under `root`, with its balance in its balance tree.
fn enforce_present<A: Arith>(
    a: &A,
    active: &A::Bool,
    root: &A::F,
    w: &AccountW<A>,
    who: [&'static str; 3],
) -> Result<(), A::Error> {
    let leaf = account_leaf(a, w, &w.nonce, &w.balance_root)?;
    a.enforce_equal(active, &path_root(a, &leaf, &w.account_path)?, root, who[0])?;
    a.enforce_equal(active, &path_root(a, &w.balance, &w.balance_path)?, &w.balance_root, who[1])?;
    a.enforce_nonzero(active, &w.address, who[2])
}

/// The transfer rule. From `root`: the sender's account and balance are in the state, it has
/// a key, the nonce is its nonce, the signature signs the transfer, the balance covers amount
/// and fee; the recipient exists; its balance stays below 2^128; the fee goes to the
/// operator's account `fee_account`. Returns the new root (the same root for a no-op) and the
/// public data.
pub fn transfer<A: Arith>(
    a: &A,
    root: &A::F,
    fee_account: &A::F,
    t: &TransferW<A>,
) -> Result<SlotOut<A>, A::Error> {
    let on = &t.active;
    let s = &t.sender;
    let r = &t.recipient;
    enforce_present(
        a,
        on,
        root,
        s,
        [
            "the sender's account is in the state",
            "the sender's balance is in its account",
            "the sender's account exists",
        ],
    )?;
    let (key_x, _) = a.point_xy(&s.key);
    a.enforce_nonzero(on, &key_x, "the sender has an L2 key")?;
    a.enforce_equal(on, &t.nonce, &s.nonce, "the nonce is the sender's next")?;
    let amount = unpack(a, &t.amount)?;
    let fee = unpack(a, &t.fee)?;
    let from = a.bits_to_number(&s.account_path.bits);
    let to = a.bits_to_number(&r.account_path.bits);
    let token = a.bits_to_number(&s.balance_path.bits);
    a.enforce_equal(on, &a.bits_to_number(&r.balance_path.bits), &token, "both sides move the same token")?;
    let message = a.hash(
        Domain::Message,
        &[
            a.constant(Fr::from(op_type::TRANSFER as u64)),
            from.clone(),
            to.clone(),
            token.clone(),
            amount.clone(),
            fee.clone(),
            t.nonce.clone(),
        ],
    )?;
    a.enforce_signature(on, &s.key, &message, &t.signature, "the sender signed the transfer")?;

    // the sender pays amount + fee
    let zero = a.constant(Fr::zero());
    let spent = a.add(&amount, &fee);
    let sender_balance = a.sub(&s.balance, &spent);
    a.enforce_bits(
        &a.select(on, &sender_balance, &zero)?,
        BALANCE_BITS as usize,
        "the sender's balance covers amount and fee",
    )?;
    let sender_balance_root = path_root(a, &sender_balance, &s.balance_path)?;
    let next_nonce = a.add(&s.nonce, &a.constant(Fr::from(1u64)));
    let sender_leaf = account_leaf(a, s, &next_nonce, &sender_balance_root)?;
    let mid = path_root(a, &sender_leaf, &s.account_path)?;

    // the recipient, in the state after the sender's update, receives amount
    enforce_present(
        a,
        on,
        &mid,
        r,
        [
            "the recipient's account is in the state",
            "the recipient's balance is in its account",
            "the recipient's account exists",
        ],
    )?;
    let recipient_balance = a.add(&r.balance, &amount);
    a.enforce_bits(
        &a.select(on, &recipient_balance, &zero)?,
        BALANCE_BITS as usize,
        "the recipient's balance stays below 2^128",
    )?;
    let recipient_balance_root = path_root(a, &recipient_balance, &r.balance_path)?;
    let recipient_leaf = account_leaf(a, r, &r.nonce, &recipient_balance_root)?;
    let mid2 = path_root(a, &recipient_leaf, &r.account_path)?;

    // the operator's fee account, after the recipient's update, receives the fee
    let o = &t.operator;
    enforce_present(
        a,
        on,
        &mid2,
        o,
        [
            "the fee account is in the state",
            "the fee account's balance is in its account",
            "the fee account exists",
        ],
    )?;
    a.enforce_equal(
        on,
        &a.bits_to_number(&o.account_path.bits),
        fee_account,
        "the fee goes to the operator",
    )?;
    a.enforce_equal(
        on,
        &a.bits_to_number(&o.balance_path.bits),
        &token,
        "the fee is in the transferred token",
    )?;
    let operator_balance = a.add(&o.balance, &fee);
    a.enforce_bits(
        &a.select(on, &operator_balance, &zero)?,
        BALANCE_BITS as usize,
        "the fee account's balance stays below 2^128",
    )?;
    let operator_balance_root = path_root(a, &operator_balance, &o.balance_path)?;
    let operator_leaf = account_leaf(a, o, &o.nonce, &operator_balance_root)?;
    let after = path_root(a, &operator_leaf, &o.account_path)?;

    let op = a.select(on, &a.constant(Fr::from(op_type::TRANSFER as u64)), &zero)?;
    let pubdata = vec![
        (op, 8),
        (a.select(on, &from, &zero)?, 24),
        (a.select(on, &to, &zero)?, 24),
        (a.select(on, &token, &zero)?, 8),
        (a.select(on, &packed(a, &t.amount), &zero)?, AMOUNT.bits() as usize),
        (a.select(on, &packed(a, &t.fee), &zero)?, FEE.bits() as usize),
    ];
    Ok(SlotOut { root: a.select(on, &after, root)?, pubdata })
}

/// The packed encoding as the public data carries it: exponent in the low bits.
fn packed<A: Arith>(a: &A, p: &PackedW<A>) -> A::F {
    let mut bits = p.exponent.clone();
    bits.extend(p.mantissa.iter().cloned());
    a.bits_to_number(&bits)
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
    fn enforce_bits(&self, a: &Fr, bits: usize, rule: &'static str) -> Result<(), Broken> {
        if a.into_bigint().num_bits() as usize > bits { Err(Broken(rule)) } else { Ok(()) }
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

fn bits_of(index: u64, depth: usize) -> Vec<bool> {
    (0..depth).map(|i| (index >> i) & 1 == 1).collect()
}

impl PathW<Native> {
    /// A native path from the state's.
    pub fn from_path(path: &MerklePath) -> Self {
        Self { bits: bits_of(path.index, path.siblings.len()), siblings: path.siblings.clone() }
    }
}

impl AccountW<Native> {
    /// A native account witness from the state's.
    pub fn from_witness(w: &AccountWitness) -> Self {
        Self {
            address: w.address,
            key: w.key,
            nonce: Fr::from(w.nonce),
            balance_root: w.balance_root,
            balance: Fr::from(w.balance),
            balance_path: PathW::from_path(&w.balance_path),
            account_path: PathW::from_path(&w.account_path),
        }
    }
}

impl TransferW<Native> {
    /// The native slot of a transfer the operator applied (`None` when an amount does not pack).
    pub fn from_witness(w: &crate::ops::TransferWitness) -> Option<Self> {
        Some(Self {
            active: true,
            amount: PackedW::new(AMOUNT, w.transfer.amount)?,
            fee: PackedW::new(FEE, w.transfer.fee)?,
            nonce: Fr::from(w.transfer.nonce),
            signature: w.transfer.signature,
            sender: AccountW::from_witness(&w.sender),
            recipient: AccountW::from_witness(&w.recipient),
            operator: AccountW::from_witness(&w.operator),
        })
    }
}

impl PackedW<Native> {
    /// A packed value's bits (`None` when it does not pack).
    pub fn new(packing: Packing, value: u128) -> Option<Self> {
        let (mantissa, exponent) = packed_bits(packing, value)?;
        Some(Self { mantissa, exponent })
    }
}
