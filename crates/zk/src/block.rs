//! Blocks, natively: the operator's [`BlockBuilder`] takes operations one at a time, puts
//! each in its lane (the wide lane for deposits, transfers to new accounts, withdrawals, full
//! exits and change-key; the transfer lane for transfers between existing accounts), checks
//! it against the state it will meet in the block, and seals a [`Block`]: the public data, the
//! new root after the fees' payout, and every slot's witness for the circuit.
//!
//! The circuit applies the wide lane before the transfer lane. A wide operation that arrives
//! after transfers is checked by replaying the block in lane order; where that order would
//! break an operation already taken, it waits for the next block ([`BlockError::LaneOrder`]).

use ark_bn254::Fr;
use sha2::{Digest, Sha256};

use crate::{
    eddsa::{PublicKey, Signature},
    ops::{Applied, ChangeKey, Deposit, FullExit, OpError, Slot, Transfer, Withdraw, op_type},
    rules::{TRANSFER_BYTES, WIDE_BYTES},
    state::{AccountWitness, Address, Params, State, StateError},
};

/// A transfer slot's witness: the transfer, the sender before it, the recipient after the
/// sender's update.
#[derive(Clone, Debug)]
pub struct TransferWitness {
    /// The transfer.
    pub transfer: Transfer,
    /// The sender before it.
    pub sender: AccountWitness,
    /// The recipient after the sender's update.
    pub recipient: AccountWitness,
}

/// A wide slot's witness (see `rules::WideW` for what each field means to each kind).
#[derive(Clone, Debug)]
pub struct WideWitness {
    /// The operation type (0: no-op).
    pub kind: u8,
    /// The account the operation is about, before it.
    pub a: AccountWitness,
    /// Whether that slot is empty.
    pub a_empty: bool,
    /// The new account's empty slot (transfer to new), after `a`'s update.
    pub b: AccountWitness,
    /// Deposit or withdrawal amount.
    pub amount: u128,
    /// Transfer amount (packable).
    pub packed_amount: u128,
    /// Fee (packable).
    pub fee: u128,
    /// The operation's address.
    pub address: Address,
    /// The nonce.
    pub nonce: u64,
    /// The signature (transfer, withdraw).
    pub signature: Signature,
    /// The new key (change-key).
    pub new_key: PublicKey,
}

/// A placeholder signature for slots that carry none.
fn no_signature() -> Signature {
    crate::eddsa::SecretKey(Default::default()).sign(Fr::from(0u64))
}

impl WideWitness {
    /// A no-op slot over `filler` (any account: nothing is checked or changed).
    pub fn noop(filler: &AccountWitness) -> Self {
        Self {
            kind: op_type::NOOP,
            a: filler.clone(),
            a_empty: false,
            b: filler.clone(),
            amount: 0,
            packed_amount: 0,
            fee: 0,
            address: [0; 20],
            nonce: 0,
            signature: no_signature(),
            new_key: PublicKey(Default::default()),
        }
    }
}

impl TransferWitness {
    /// A no-op transfer slot over `filler`.
    pub fn noop(filler: &AccountWitness) -> Self {
        Self {
            transfer: Transfer {
                from: 0,
                to: [0; 20],
                token: 0,
                amount: 0,
                fee: 0,
                nonce: 0,
                signature: no_signature(),
            },
            sender: filler.clone(),
            recipient: filler.clone(),
        }
    }
}

/// The fee account at the end of a block, with each token's balance and path as the payout
/// meets them.
#[derive(Clone, Debug)]
pub struct PayoutWitness {
    /// The fee account.
    pub account: AccountWitness,
    /// Each token's balance before the payout.
    pub balances: Vec<u128>,
    /// The siblings of each token's balance path, each after the previous token's payout.
    pub siblings: Vec<Vec<Fr>>,
}

/// How many slots of each lane a block has (the circuit and its keys are made for one shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockShape {
    /// Wide slots.
    pub wide: usize,
    /// Transfer slots.
    pub transfers: usize,
}

impl BlockShape {
    /// Bytes of a block's public data.
    pub fn pubdata_bytes(&self) -> usize {
        self.wide * WIDE_BYTES + self.transfers * TRANSFER_BYTES
    }
}

/// An operation for a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A deposit (priority).
    Deposit(Deposit),
    /// A transfer.
    Transfer(Transfer),
    /// A withdrawal.
    Withdraw(Withdraw),
    /// A full exit (priority).
    FullExit(FullExit),
    /// A change of key.
    ChangeKey(ChangeKey),
}

/// Why a block can not take an operation, or be sealed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    /// The operation is invalid.
    #[error(transparent)]
    Op(#[from] OpError),
    /// Its lane is full: seal this block, the operation goes in the next.
    #[error("the block's {0} lane is full")]
    Full(&'static str),
    /// In lane order (wide before transfers) it would break an operation the block holds:
    /// it goes in the next block.
    #[error("the operation must wait for the next block (lane order)")]
    LaneOrder,
    /// The fee account would overflow.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A sealed block: what L1 receives and what the prover needs.
#[derive(Clone, Debug)]
pub struct Block {
    /// Its shape.
    pub shape: BlockShape,
    /// The operator's fee account.
    pub fee_account: u64,
    /// The root before it.
    pub old_root: Fr,
    /// The root after it.
    pub new_root: Fr,
    /// Its public data (wide lane, then transfer lane, unused slots zero).
    pub pubdata: Vec<u8>,
    /// The wide slots' witnesses (no-ops included).
    pub wides: Vec<WideWitness>,
    /// The transfer slots' witnesses, each with whether it is active.
    pub transfers: Vec<(bool, TransferWitness)>,
    /// The payout's witness.
    pub payout: PayoutWitness,
    /// The operations, wide lane first.
    pub ops: Vec<Op>,
}

/// The public input of a block: `sha256(oldRoot ‖ newRoot ‖ publicData) mod r`, roots as 32
/// big-endian bytes.
pub fn block_commitment(old_root: &Fr, new_root: &Fr, pubdata: &[u8]) -> Fr {
    use ark_ff::{BigInteger, PrimeField};
    let mut h = Sha256::new();
    h.update(old_root.into_bigint().to_bytes_be());
    h.update(new_root.into_bigint().to_bytes_be());
    h.update(pubdata);
    Fr::from_be_bytes_mod_order(&h.finalize())
}

impl Block {
    /// The proof's public input.
    pub fn commitment(&self) -> Fr {
        block_commitment(&self.old_root, &self.new_root, &self.pubdata)
    }

    /// A block of `shape` with no operations over an empty state, for the circuit's setup
    /// (only its shape matters there).
    pub fn blank(params: Params, shape: BlockShape, fee_account: u64) -> Result<Self, StateError> {
        let state = State::new(params);
        let filler = state.account_witness(fee_account, 0)?;
        let tokens = 1u64 << params.balance_depth;
        let empty = crate::tree::SparseTree::new(params.balance_depth);
        let payout = PayoutWitness {
            account: filler.clone(),
            balances: vec![0; tokens as usize],
            siblings: (0..tokens).map(|t| empty.path(t).map(|p| p.siblings)).collect::<Result<_, _>>()?,
        };
        Ok(Self {
            shape,
            fee_account,
            old_root: state.root(),
            new_root: state.root(),
            pubdata: vec![0; shape.pubdata_bytes()],
            wides: vec![WideWitness::noop(&filler); shape.wide],
            transfers: vec![(false, TransferWitness::noop(&filler)); shape.transfers],
            payout,
            ops: Vec::new(),
        })
    }
}

fn apply(state: &mut State, op: &Op) -> Result<Applied, OpError> {
    match op {
        Op::Deposit(d) => state.apply_deposit(d),
        Op::Transfer(t) => state.apply_transfer(t),
        Op::Withdraw(w) => state.apply_withdraw(w),
        Op::FullExit(f) => state.apply_full_exit(f),
        Op::ChangeKey(c) => state.apply_change_key(c),
    }
}

/// Whether `op` goes in the wide lane of a block over `state`.
fn is_wide(state: &State, op: &Op) -> bool {
    match op {
        Op::Transfer(t) => state.index_of(&t.to).is_none(),
        _ => true,
    }
}

/// The lane an operation went into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The wide lane.
    Wide,
    /// The transfer lane.
    Transfer,
}

/// Builds one block.
#[derive(Clone, Debug)]
pub struct BlockBuilder {
    start: State,
    state: State,
    shape: BlockShape,
    fee_account: u64,
    wides: Vec<Op>,
    transfers: Vec<Op>,
}

struct Replayed {
    state: State,
    applied: Vec<Applied>,
    fees: Vec<u128>,
}

impl BlockBuilder {
    /// A block over `state`, paying fees to `fee_account`.
    pub fn new(state: State, shape: BlockShape, fee_account: u64) -> Self {
        Self { start: state.clone(), state, shape, fee_account, wides: Vec::new(), transfers: Vec::new() }
    }

    /// The state after the operations taken so far (the block's fees not yet paid).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The operations taken so far.
    pub fn len(&self) -> usize {
        self.wides.len() + self.transfers.len()
    }

    /// Whether no operation was taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both lanes are full.
    pub fn is_full(&self) -> bool {
        self.wides.len() == self.shape.wide && self.transfers.len() == self.shape.transfers
    }

    fn replay(&self, wides: &[Op], transfers: &[Op]) -> Result<Replayed, BlockError> {
        let mut state = self.start.clone();
        let mut applied = Vec::with_capacity(wides.len() + transfers.len());
        let mut fees = vec![0u128; 1 << state.params().balance_depth];
        for op in wides.iter().chain(transfers) {
            let a = apply(&mut state, op)?;
            let total = &mut fees[a.fee.0 as usize];
            *total = total
                .checked_add(a.fee.1)
                .ok_or(StateError::Overflow { account: self.fee_account, token: a.fee.0 })?;
            applied.push(a);
        }
        Ok(Replayed { state, applied, fees })
    }

    /// Takes `op` into the block, or says why not (nothing changes then). Returns its lane.
    pub fn push(&mut self, op: Op) -> Result<Lane, BlockError> {
        if is_wide(&self.state, &op) {
            if self.wides.len() == self.shape.wide {
                return Err(BlockError::Full("wide"));
            }
            let mut state = self.state.clone();
            apply(&mut state, &op)?;
            let mut wides = self.wides.clone();
            wides.push(op);
            if self.transfers.is_empty() {
                self.state = state;
            } else {
                // the wide lane comes first: the transfers taken must still hold after it
                self.state = self.replay(&wides, &self.transfers).map_err(|_| BlockError::LaneOrder)?.state;
            }
            self.wides = wides;
            Ok(Lane::Wide)
        } else {
            if self.transfers.len() == self.shape.transfers {
                return Err(BlockError::Full("transfer"));
            }
            let mut state = self.state.clone();
            apply(&mut state, &op)?;
            self.state = state;
            self.transfers.push(op);
            Ok(Lane::Transfer)
        }
    }

    /// Seals the block: replays it in lane order recording every slot's witness, pays the
    /// fees to the fee account, pads both lanes with no-ops. Returns the block and the state
    /// after it.
    pub fn seal(self) -> Result<(Block, State), BlockError> {
        let Replayed { mut state, applied, fees } = self.replay(&self.wides, &self.transfers)?;
        let old_root = self.start.root();
        let mut wide_data = Vec::with_capacity(self.shape.wide * WIDE_BYTES);
        let mut transfer_data = Vec::with_capacity(self.shape.transfers * TRANSFER_BYTES);
        let mut wides = Vec::with_capacity(self.shape.wide);
        let mut transfers = Vec::with_capacity(self.shape.transfers);
        for a in applied {
            match a.slot {
                Slot::Wide(w) => {
                    wide_data.extend(a.pubdata);
                    wides.push(*w);
                }
                Slot::Transfer(t) => {
                    transfer_data.extend(a.pubdata);
                    transfers.push((true, *t));
                }
            }
        }
        // the fee account takes each token's fees in turn
        let account = state.account_witness(self.fee_account, 0)?;
        let mut balances = Vec::with_capacity(fees.len());
        let mut siblings = Vec::with_capacity(fees.len());
        for (token, fee) in fees.iter().enumerate() {
            balances.push(state.balance(self.fee_account, token as u64));
            siblings.push(state.balance_path(self.fee_account, token as u64)?.siblings);
            state.credit(self.fee_account, token as u64, *fee)?;
        }
        let payout = PayoutWitness { account, balances, siblings };
        let filler = state.account_witness(self.fee_account, 0)?;
        wides.resize_with(self.shape.wide, || WideWitness::noop(&filler));
        transfers.resize_with(self.shape.transfers, || (false, TransferWitness::noop(&filler)));
        wide_data.resize(self.shape.wide * WIDE_BYTES, 0);
        transfer_data.resize(self.shape.transfers * TRANSFER_BYTES, 0);
        let mut pubdata = wide_data;
        pubdata.extend(transfer_data);
        let mut ops = self.wides;
        ops.extend(self.transfers);
        let block = Block {
            shape: self.shape,
            fee_account: self.fee_account,
            old_root,
            new_root: state.root(),
            pubdata,
            wides,
            transfers,
            payout,
            ops,
        };
        Ok((block, state))
    }
}

/// Why a block's witnesses do not follow the rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    /// A rule is broken.
    #[error(transparent)]
    Broken(#[from] crate::rules::Broken),
    /// A witness amount does not pack.
    #[error("a witness amount does not pack")]
    NotPackable,
    /// The rules reach another root.
    #[error("the rules reach another new root")]
    Root,
    /// The rules produce other public data.
    #[error("the rules produce other public data")]
    Pubdata,
}

impl Block {
    /// Runs the circuit's rules natively over this block's witnesses: they must hold and reach
    /// the block's new root and public data (the operator checks this before proving).
    pub fn check_rules(&self) -> Result<(), CheckError> {
        use crate::rules::{Native, PayoutW, TransferW, WideW, WitnessError, bits_to_bytes, block};
        let unpack = |e: WitnessError<crate::rules::Broken>| match e {
            WitnessError::NotPackable => CheckError::NotPackable,
            WitnessError::Arith(b) => CheckError::Broken(b),
        };
        let wides = self
            .wides
            .iter()
            .map(|w| WideW::new(&Native, w))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unpack)?;
        let transfers = self
            .transfers
            .iter()
            .map(|(on, t)| TransferW::new(&Native, *on, t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unpack)?;
        let payout = PayoutW::new(&Native, &self.payout)?;
        let (root, bits) = block(&Native, &self.old_root, self.fee_account, &wides, &transfers, &payout)?;
        if root != self.new_root {
            return Err(CheckError::Root);
        }
        if bits_to_bytes(&bits) != self.pubdata {
            return Err(CheckError::Pubdata);
        }
        Ok(())
    }
}
