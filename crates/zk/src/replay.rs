//! The state rebuilt from public data alone: what a user does when the operator is gone.
//! Every block L1 accepted carries its public data in calldata, and that data says every
//! change a block made (accounts opened, balances moved, nonces, key hashes, fees), so
//! applying it block by block from the genesis state reaches each block's root, which the
//! caller compares with the root L1 holds. From the rebuilt state a user proves an exit.
//!
//! The data was proven, so a refusal here means the bytes are not a block of this shape (or
//! the genesis state is not this rollup's).

use crate::{
    amount::{AMOUNT, FEE, Packing},
    block::BlockShape,
    ops::op_type,
    rules::{TRANSFER_BYTES, WIDE_BYTES},
    state::{Address, State, StateError},
};

/// Why public data can not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    /// Not `shape.pubdata_bytes()` bytes.
    #[error("public data of {got} bytes, the block shape has {expected}")]
    Length {
        /// The shape's.
        expected: usize,
        /// What came.
        got: usize,
    },
    /// An unknown operation type, or one in the wrong lane.
    #[error("slot {slot}: operation type {kind} does not belong there")]
    Kind {
        /// The slot (wide lane first).
        slot: usize,
        /// Its type byte.
        kind: u8,
    },
    /// A packed value that means nothing.
    #[error("slot {0}: a packed amount out of range")]
    Packed(usize),
    /// The state refuses a change (not this rollup's history).
    #[error("slot {slot}: {error}")]
    State {
        /// The slot.
        slot: usize,
        /// What the state said.
        error: StateError,
    },
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn uint(&mut self, bytes: usize) -> u128 {
        let v = self.data[self.at..self.at + bytes].iter().fold(0u128, |acc, b| (acc << 8) | *b as u128);
        self.at += bytes;
        v
    }
    fn address(&mut self) -> Address {
        let mut out = [0u8; 20];
        out.copy_from_slice(&self.data[self.at..self.at + 20]);
        self.at += 20;
        out
    }
    fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.data[self.at..self.at + 32]);
        self.at += 32;
        out
    }
}

fn unpack(slot: usize, packing: Packing, packed: u128) -> Result<u128, ReplayError> {
    packing.unpack(packed as u64).ok_or(ReplayError::Packed(slot))
}

/// Applies one block's public data to `state` (the state before the block), paying the
/// block's fees to `fee_account` as the circuit does.
pub fn apply_block(
    state: &mut State,
    shape: BlockShape,
    fee_account: u64,
    pubdata: &[u8],
) -> Result<(), ReplayError> {
    if pubdata.len() != shape.pubdata_bytes() {
        return Err(ReplayError::Length { expected: shape.pubdata_bytes(), got: pubdata.len() });
    }
    let mut fees = vec![0u128; 1 << state.params().balance_depth];
    let slots = (0..shape.wide)
        .map(|i| (i * WIDE_BYTES, true))
        .chain((0..shape.transfers).map(|i| (shape.wide * WIDE_BYTES + i * TRANSFER_BYTES, false)));
    for (slot, (offset, wide)) in slots.enumerate() {
        let mut r = Reader { data: pubdata, at: offset + 1 };
        let kind = pubdata[offset];
        let err = |error: StateError| ReplayError::State { slot, error };
        let mut fee = |token: u64, amount: u128| -> Result<(), ReplayError> {
            let total = fees.get_mut(token as usize).ok_or(err(StateError::UnknownToken(token)))?;
            *total =
                total.checked_add(amount).ok_or(err(StateError::Overflow { account: fee_account, token }))?;
            Ok(())
        };
        match (kind, wide) {
            (op_type::NOOP, _) => {}
            (op_type::DEPOSIT, true) => {
                let (account, token, amount, address) =
                    (r.uint(3) as u64, r.uint(1) as u64, r.uint(16), r.address());
                if state.account(account).is_err() {
                    state.create_account_at(account, address).map_err(err)?;
                }
                state.credit(account, token, amount).map_err(err)?;
            }
            (op_type::TRANSFER, false) | (op_type::TRANSFER_TO_NEW, true) => {
                let (from, to, token) = (r.uint(3) as u64, r.uint(3) as u64, r.uint(1) as u64);
                let amount = unpack(slot, AMOUNT, r.uint(5))?;
                let paid = unpack(slot, FEE, r.uint(2))?;
                if kind == op_type::TRANSFER_TO_NEW {
                    state.create_account_at(to, r.address()).map_err(err)?;
                }
                let need =
                    amount.checked_add(paid).ok_or(err(StateError::Overflow { account: from, token }))?;
                state.debit(from, token, need).map_err(err)?;
                state.bump_nonce(from).map_err(err)?;
                state.credit(to, token, amount).map_err(err)?;
                fee(token, paid)?;
            }
            (op_type::WITHDRAW, true) => {
                let (account, token, amount) = (r.uint(3) as u64, r.uint(1) as u64, r.uint(16));
                let paid = unpack(slot, FEE, r.uint(2))?;
                let need = amount.checked_add(paid).ok_or(err(StateError::Overflow { account, token }))?;
                state.debit(account, token, need).map_err(err)?;
                state.bump_nonce(account).map_err(err)?;
                fee(token, paid)?;
            }
            (op_type::FULL_EXIT, true) => {
                let (account, token, amount) = (r.uint(3) as u64, r.uint(1) as u64, r.uint(16));
                if amount > 0 {
                    state.debit(account, token, amount).map_err(err)?;
                }
            }
            (op_type::CHANGE_KEY, true) => {
                let account = r.uint(3) as u64;
                let _owner = r.address();
                let key_hash = ark_ff::PrimeField::from_be_bytes_mod_order(&r.bytes32());
                let _nonce = r.uint(4);
                let token = r.uint(1) as u64;
                let paid = unpack(slot, FEE, r.uint(2))?;
                state.debit(account, token, paid).map_err(err)?;
                state.bump_nonce(account).map_err(err)?;
                state.set_key_hash(account, key_hash).map_err(err)?;
                fee(token, paid)?;
            }
            (kind, _) => return Err(ReplayError::Kind { slot, kind }),
        }
    }
    for (token, total) in fees.iter().enumerate() {
        state
            .credit(fee_account, token as u64, *total)
            .map_err(|error| ReplayError::State { slot: shape.wide + shape.transfers, error })?;
    }
    Ok(())
}
