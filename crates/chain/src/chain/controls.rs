//! Devnet controls (anvil's): balances, nonces, code and storage set by hand, time travel,
//! snapshots and rewinds; and the `safe` and `finalized` heads.

use alloy_primitives::{Address, B256, Bytes, U256};

use super::{Chain, RecentHashes};
use crate::{config::Finality, error::ChainError, state::AccountBasic, tx::RecoveredTx};

/// A snapshot for `evm_snapshot` / `evm_revert`.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// Head when taken.
    pub head: u64,
    /// Time offset when taken.
    pub time_offset: i64,
}

impl Chain {
    /// Sets an account's balance (included in the next block's change set).
    pub fn set_balance(&mut self, address: Address, balance: U256) {
        self.edits += 1;
        let mut basic = self.state.basic(&address).cloned().unwrap_or_default();
        basic.balance = balance;
        self.state.set_basic(address, basic);
    }

    /// Sets an account's nonce.
    pub fn set_nonce(&mut self, address: Address, nonce: u64) {
        self.edits += 1;
        let mut basic: AccountBasic = self.state.basic(&address).cloned().unwrap_or_default();
        basic.nonce = nonce;
        self.state.set_basic(address, basic);
    }

    /// Sets an account's code.
    pub fn set_code(&mut self, address: Address, code: Bytes) {
        self.edits += 1;
        self.state.set_code(address, code);
    }

    /// Sets a storage slot.
    pub fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.edits += 1;
        self.state.set_slot(address, slot, value);
    }

    /// Moves the clock forward by `seconds`: the next block is at least that much later than
    /// it would have been (even when blocks were mined faster than the wall clock); returns the
    /// total offset.
    pub fn increase_time(&mut self, seconds: u64) -> Result<i64, ChainError> {
        let would_be = self.next_timestamp();
        self.next_timestamp = Some(would_be.saturating_add(seconds));
        self.time_offset += seconds as i64;
        self.store.set_time_offset(self.time_offset)?;
        Ok(self.time_offset)
    }

    /// Fixes the next block's timestamp.
    pub fn set_next_timestamp(&mut self, timestamp: u64) -> Result<(), ChainError> {
        if timestamp <= self.head.header.timestamp {
            return Err(ChainError::Invalid(format!(
                "timestamp {timestamp} is not after the head's {}",
                self.head.header.timestamp
            )));
        }
        self.next_timestamp = Some(timestamp);
        Ok(())
    }

    /// Sets the gas limit of the blocks mined from now on (anvil's `evm_setBlockGasLimit`);
    /// transactions above it are refused at the pool, as they would be on a chain started
    /// with it. Kept in memory: a restart takes the limit from the chain's configuration.
    pub fn set_block_gas_limit(&mut self, gas: u64) -> Result<(), ChainError> {
        const MIN: u64 = 21_000;
        if gas < MIN {
            return Err(ChainError::Invalid(format!(
                "a block gas limit of {gas} holds no transaction (the least is {MIN})"
            )));
        }
        self.config.block_gas_limit = gas;
        Ok(())
    }

    /// A snapshot of the current head.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { head: self.head.header.number, time_offset: self.time_offset }
    }

    /// Rewinds to a snapshot (or any earlier block): blocks above it are removed, their state
    /// changes undone, and their transactions returned to the pool. Used by `evm_revert` and to
    /// follow an L1 reorg.
    pub fn rewind_to(&mut self, number: u64) -> Result<(), ChainError> {
        if number >= self.head.header.number {
            return Ok(());
        }
        // Devnet edits not yet in a block are dropped with the rewind.
        let (pending, _) = self.state.take_changes();
        self.state.undo(&pending);
        let undone = self.store.rewind_to(number)?;
        for (changes, _) in undone.iter().rev() {
            self.state.undo(changes);
        }
        self.state.clear_journal();
        let root = self.state.state_root();
        let head =
            self.header_by_number(number)?.ok_or_else(|| ChainError::Corrupt(format!("header {number}")))?;
        if root != head.header.state_root {
            return Err(ChainError::Corrupt(format!("rewound state root {root} != block {number}'s")));
        }
        self.head = head;
        self.recent = RecentHashes::default();
        for n in number.saturating_sub(255)..=number {
            if let Some(h) = self.header_by_number(n)? {
                self.recent.push(n, h.hash);
            }
        }
        self.next_timestamp = None;
        // Safe and finalized come down with the head, so that they name only blocks derived
        // again.
        let (safe, finalized) = self.forkchoice;
        if safe > number {
            self.forkchoice = (number, finalized.min(number));
            self.store.set_forkchoice(self.forkchoice.0, self.forkchoice.1)?;
        }
        // Rewound transactions go back to the pool, as a reorged-out transaction would.
        for (_, txs) in undone {
            for stored in txs {
                // Deposits come back from L1 (derivation), never through the pool.
                if let Ok(tx) = RecoveredTx::from_block(&stored.raw, stored.sender)
                    && !tx.is_deposit()
                {
                    let _ = self.submit(tx);
                }
            }
        }
        Ok(())
    }

    /// The block the `safe` tag names.
    pub fn safe_number(&self) -> u64 {
        let head = self.head.header.number;
        match self.config.finality {
            Finality::Depth { safe, .. } => head.saturating_sub(safe),
            Finality::External => self.forkchoice.0.min(head),
        }
    }

    /// The block the `finalized` tag names.
    pub fn finalized_number(&self) -> u64 {
        let head = self.head.header.number;
        match self.config.finality {
            Finality::Depth { finalized, .. } => head.saturating_sub(finalized),
            Finality::External => self.forkchoice.1.min(head),
        }
    }

    /// Records the safe and finalized blocks (under [`Finality::External`]); durable before it
    /// returns. Finalized never moves back, and neither may pass the head or each other.
    pub fn set_forkchoice(&mut self, safe: u64, finalized: u64) -> Result<(), ChainError> {
        let head = self.head.header.number;
        if safe > head || finalized > safe {
            return Err(ChainError::InvalidForkchoice { safe, finalized, head });
        }
        let finalized = finalized.max(self.forkchoice.1.min(safe));
        if (safe, finalized) != self.forkchoice {
            self.store.set_forkchoice(safe, finalized)?;
            self.forkchoice = (safe, finalized);
        }
        Ok(())
    }

    /// Reverts to a snapshot, restoring its clock.
    pub fn revert_to(&mut self, snapshot: Snapshot) -> Result<(), ChainError> {
        self.rewind_to(snapshot.head)?;
        self.time_offset = snapshot.time_offset;
        self.store.set_time_offset(self.time_offset)
    }

    /// Empties the pool (used by `evm_revert`, which forgets pending transactions as anvil does).
    pub fn clear_pool(&mut self) -> Result<(), ChainError> {
        let hashes: Vec<B256> = self.pool.all().map(|t| t.hash).collect();
        for h in &hashes {
            self.pool.remove(h);
        }
        self.store.remove_pooled(&hashes)
    }
}
