//! World state: accounts, code and storage in memory, committed by the EVM, summarised by a
//! two-level sparse Merkle tree.
//!
//! The account tree maps `keccak256(address)` to the hash of the account's fields; each
//! account's storage tree maps `keccak256(slot)` to the slot's value (a zero value is no
//! leaf). See [`account_leaf_value`] for the exact encoding: it is a consensus rule that L1
//! contracts re-implement to verify proofs.

use std::collections::{HashMap, HashSet};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use loft_primitives::smt::{SmtProof, SparseMerkleTree};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, Database, DatabaseCommit, DatabaseRef},
    primitives::{AddressMap, KECCAK_EMPTY, StorageKey, StorageValue},
    state::{Account, AccountInfo},
};

/// The fields of an account that the account tree commits to, besides its storage root.
#[derive(Clone, Debug, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct AccountBasic {
    /// Transactions sent (or contracts created, for a contract).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code; [`KECCAK_EMPTY`] for an account without code.
    pub code_hash: B256,
}

impl Default for AccountBasic {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, code_hash: KECCAK_EMPTY }
    }
}

impl AccountBasic {
    /// An account is empty in the EIP-161 sense: such accounts are not stored.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK_EMPTY
    }
}

/// The value hash of an account leaf:
/// `keccak256(nonce as 8 bytes big-endian ‖ balance as 32 bytes ‖ storage_root ‖ code_hash)`.
pub fn account_leaf_value(basic: &AccountBasic, storage_root: B256) -> B256 {
    let mut buf = [0u8; 8 + 32 + 32 + 32];
    buf[..8].copy_from_slice(&basic.nonce.to_be_bytes());
    buf[8..40].copy_from_slice(&basic.balance.to_be_bytes::<32>());
    buf[40..72].copy_from_slice(storage_root.as_slice());
    buf[72..].copy_from_slice(basic.code_hash.as_slice());
    keccak256(buf)
}

/// Key of an account in the account tree.
pub fn account_key(address: &Address) -> B256 {
    keccak256(address)
}

/// Key of a storage slot in its account's storage tree.
pub fn storage_key(slot: &U256) -> B256 {
    keccak256(slot.to_be_bytes::<32>())
}

/// One account held in memory.
#[derive(Clone, Debug, Default)]
pub struct AccountRecord {
    /// Nonce, balance and code hash.
    pub basic: AccountBasic,
    /// Non-zero storage slots.
    pub storage: HashMap<U256, U256>,
    /// Sparse Merkle tree over `storage`.
    storage_tree: SparseMerkleTree,
}

/// Previous values of what one block changed, enough to undo it.
#[derive(Clone, Debug, Default, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct ChangeSet {
    /// Accounts before the block; an empty [`AccountBasic`] means the account did not exist.
    pub accounts: Vec<AccountChange>,
    /// Storage slots before the block (zero means unset).
    pub storage: Vec<SlotChange>,
}

/// One account's value before and after a block.
#[derive(Clone, Debug, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// Its value before the block (empty: absent).
    pub before: AccountBasic,
    /// Its value after the block (empty: absent).
    pub after: AccountBasic,
}

/// One storage slot's value before and after a block.
#[derive(Clone, Debug, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub struct SlotChange {
    /// The account.
    pub address: Address,
    /// The slot.
    pub slot: U256,
    /// The value before (zero: unset).
    pub before: U256,
    /// The value after (zero: unset).
    pub after: U256,
}

/// The state of every account, held in memory and kept in step with the redb store.
#[derive(Clone, Debug, Default)]
pub struct WorldState {
    accounts: HashMap<Address, AccountRecord>,
    code: HashMap<B256, Bytecode>,
    account_tree: SparseMerkleTree,
    /// Accounts whose tree leaf is stale.
    dirty_accounts: HashSet<Address>,
    /// Storage slots whose tree leaf is stale.
    dirty_slots: HashMap<Address, HashSet<U256>>,
    /// Values at the start of the block being built, recorded on first change.
    journal_accounts: HashMap<Address, AccountBasic>,
    journal_slots: HashMap<(Address, U256), U256>,
    /// Code first seen in the block being built.
    new_code: Vec<(B256, Bytes)>,
}

impl WorldState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Account fields, if the account exists.
    pub fn basic(&self, address: &Address) -> Option<&AccountBasic> {
        self.accounts.get(address).map(|a| &a.basic)
    }

    /// Balance (zero for an absent account).
    pub fn balance(&self, address: &Address) -> U256 {
        self.basic(address).map(|b| b.balance).unwrap_or_default()
    }

    /// Nonce (zero for an absent account).
    pub fn nonce(&self, address: &Address) -> u64 {
        self.basic(address).map(|b| b.nonce).unwrap_or_default()
    }

    /// Storage value (zero when unset).
    pub fn storage(&self, address: &Address, slot: &U256) -> U256 {
        self.accounts.get(address).and_then(|a| a.storage.get(slot).copied()).unwrap_or_default()
    }

    /// Code of an account (empty when none).
    pub fn code_of(&self, address: &Address) -> Bytes {
        self.basic(address)
            .and_then(|b| self.code.get(&b.code_hash))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    /// Code by hash.
    pub fn code_by_hash(&self, hash: &B256) -> Option<&Bytecode> {
        self.code.get(hash)
    }

    /// Number of accounts held.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Iterates over accounts (for persistence and tests).
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &AccountRecord)> {
        self.accounts.iter()
    }

    /// Loads an account while opening the store; does not journal.
    pub fn load_account(&mut self, address: Address, basic: AccountBasic) {
        self.accounts.entry(address).or_default().basic = basic;
        self.dirty_accounts.insert(address);
    }

    /// Loads a storage slot while opening the store; does not journal.
    pub fn load_slot(&mut self, address: Address, slot: U256, value: U256) {
        if value.is_zero() {
            return;
        }
        self.accounts.entry(address).or_default().storage.insert(slot, value);
        self.dirty_slots.entry(address).or_default().insert(slot);
        self.dirty_accounts.insert(address);
    }

    /// Loads code while opening the store; does not journal.
    pub fn load_code(&mut self, code: Bytes) -> B256 {
        let hash = keccak256(&code);
        if !code.is_empty() {
            self.code.insert(hash, Bytecode::new_raw(code));
        }
        hash
    }

    /// Sets an account's fields, journaling the old value (devnet controls, genesis, EVM commits).
    pub fn set_basic(&mut self, address: Address, basic: AccountBasic) {
        let record = self.accounts.entry(address).or_default();
        self.journal_accounts.entry(address).or_insert_with(|| record.basic.clone());
        record.basic = basic;
        self.dirty_accounts.insert(address);
    }

    /// Sets a storage slot, journaling the old value.
    pub fn set_slot(&mut self, address: Address, slot: U256, value: U256) {
        let record = self.accounts.entry(address).or_default();
        let old = record.storage.get(&slot).copied().unwrap_or_default();
        if old == value {
            return;
        }
        self.journal_slots.entry((address, slot)).or_insert(old);
        if value.is_zero() {
            record.storage.remove(&slot);
        } else {
            record.storage.insert(slot, value);
        }
        self.dirty_slots.entry(address).or_default().insert(slot);
        self.dirty_accounts.insert(address);
    }

    /// Installs code for an account, journaling it as new.
    pub fn set_code(&mut self, address: Address, code: Bytes) {
        let hash = keccak256(&code);
        if !code.is_empty() && !self.code.contains_key(&hash) {
            self.code.insert(hash, Bytecode::new_raw(code.clone()));
            self.new_code.push((hash, code));
        }
        let mut basic = self.basic(&address).cloned().unwrap_or_default();
        basic.code_hash = hash;
        self.set_basic(address, basic);
    }

    /// Removes every storage slot of an account (self-destruct, or a contract created over a
    /// pre-funded address), journaling old values.
    fn clear_storage(&mut self, address: Address) {
        let slots: Vec<U256> =
            self.accounts.get(&address).map(|a| a.storage.keys().copied().collect()).unwrap_or_default();
        for slot in slots {
            self.set_slot(address, slot, U256::ZERO);
        }
    }

    /// Takes what changed since the last call: the block's change set and its new code.
    pub fn take_changes(&mut self) -> (ChangeSet, Vec<(B256, Bytes)>) {
        let mut accounts: Vec<AccountChange> = self
            .journal_accounts
            .drain()
            .filter_map(|(address, before)| {
                let after = self.accounts.get(&address).map(|a| a.basic.clone()).unwrap_or_default();
                let after = if after.is_empty() { AccountBasic::default() } else { after };
                let before = if before.is_empty() { AccountBasic::default() } else { before };
                (before != after).then_some(AccountChange { address, before, after })
            })
            .collect();
        accounts.sort_by_key(|c| c.address);
        let journal_slots = std::mem::take(&mut self.journal_slots);
        let mut storage: Vec<SlotChange> = journal_slots
            .into_iter()
            .filter_map(|((address, slot), before)| {
                let after = self.storage(&address, &slot);
                (before != after).then_some(SlotChange { address, slot, before, after })
            })
            .collect();
        storage.sort_by_key(|c| (c.address, c.slot));
        (ChangeSet { accounts, storage }, std::mem::take(&mut self.new_code))
    }

    /// Runs `f` on the state, then undoes whatever `f` changed, for what-if execution (the
    /// pending block) without a copy of the state. Edits made before it (not yet in any
    /// block) are kept, with their journal.
    pub fn scratch<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let journal_accounts = std::mem::take(&mut self.journal_accounts);
        let journal_slots = std::mem::take(&mut self.journal_slots);
        let new_code = std::mem::take(&mut self.new_code);
        let out = f(self);
        let (changes, scratch_code) = self.take_changes();
        self.undo(&changes);
        for (hash, _) in scratch_code {
            self.code.remove(&hash);
        }
        self.journal_accounts = journal_accounts;
        self.journal_slots = journal_slots;
        self.new_code = new_code;
        out
    }

    /// Drops the journal without undoing it (after genesis, or after a rewind).
    pub fn clear_journal(&mut self) {
        self.journal_accounts.clear();
        self.journal_slots.clear();
        self.new_code.clear();
    }

    /// Undoes one block's change set (applied newest block first when rewinding).
    pub fn undo(&mut self, changes: &ChangeSet) {
        for c in &changes.storage {
            self.set_slot(c.address, c.slot, c.before);
        }
        for c in &changes.accounts {
            self.set_basic(c.address, c.before.clone());
        }
        self.prune_empty();
    }

    /// Removes accounts that are empty and have no storage (EIP-161).
    fn prune_empty(&mut self) {
        let empty: Vec<Address> = self
            .dirty_accounts
            .iter()
            .filter(|a| self.accounts.get(*a).is_some_and(|r| r.basic.is_empty() && r.storage.is_empty()))
            .copied()
            .collect();
        for address in empty {
            self.accounts.remove(&address);
        }
    }

    /// The state root: the account tree's root after bringing every stale leaf up to date.
    pub fn state_root(&mut self) -> B256 {
        self.prune_empty();
        let dirty_slots = std::mem::take(&mut self.dirty_slots);
        let dirty_accounts = std::mem::take(&mut self.dirty_accounts);
        for address in dirty_accounts {
            let key = account_key(&address);
            let Some(record) = self.accounts.get_mut(&address) else {
                self.account_tree.remove(&key);
                continue;
            };
            if let Some(slots) = dirty_slots.get(&address) {
                for slot in slots {
                    let value = record.storage.get(slot).copied().unwrap_or_default();
                    record.storage_tree.insert(storage_key(slot), B256::from(value.to_be_bytes::<32>()));
                }
            }
            let storage_root = record.storage_tree.root();
            self.account_tree.insert(key, account_leaf_value(&record.basic, storage_root));
        }
        self.account_tree.root()
    }

    /// The non-zero storage slots of an account.
    pub fn storage_of(&self, address: &Address) -> Option<&HashMap<U256, U256>> {
        self.accounts.get(address).map(|r| &r.storage)
    }

    /// Storage slots changed since the last block, with their values before (the pending
    /// edits, not yet in any change set).
    pub fn pending_slots(&self) -> &HashMap<(Address, U256), U256> {
        &self.journal_slots
    }

    /// Storage root of one account (zero for none); call after [`Self::state_root`].
    pub fn storage_root(&mut self, address: &Address) -> B256 {
        self.accounts.get_mut(address).map(|r| r.storage_tree.root()).unwrap_or_default()
    }

    /// Proofs of an account and some of its slots against [`Self::state_root`].
    pub fn prove(&mut self, address: &Address, slots: &[U256]) -> StateProof {
        let state_root = self.state_root();
        let account_proof = self.account_tree.prove(&account_key(address));
        let (basic, storage_root, storage_proofs) = match self.accounts.get_mut(address) {
            Some(record) => {
                let storage_root = record.storage_tree.root();
                let proofs = slots
                    .iter()
                    .map(|slot| {
                        let value = record.storage.get(slot).copied().unwrap_or_default();
                        (*slot, value, record.storage_tree.prove(&storage_key(slot)))
                    })
                    .collect();
                (record.basic.clone(), storage_root, proofs)
            }
            None => (
                AccountBasic::default(),
                B256::ZERO,
                slots
                    .iter()
                    .map(|slot| (*slot, U256::ZERO, SmtProof { siblings: vec![], other_leaf: None }))
                    .collect(),
            ),
        };
        StateProof { state_root, basic, storage_root, account_proof, storage_proofs }
    }
}

/// An account and storage proof against a state root.
#[derive(Clone, Debug)]
pub struct StateProof {
    /// The root proven against.
    pub state_root: B256,
    /// The account's fields (all zero with the empty code hash when absent).
    pub basic: AccountBasic,
    /// The account's storage root.
    pub storage_root: B256,
    /// The account leaf's proof in the account tree.
    pub account_proof: SmtProof,
    /// (slot, value, proof) for each slot asked for.
    pub storage_proofs: Vec<(U256, U256, SmtProof)>,
}

/// Error type for the in-memory database: reads cannot fail.
#[derive(Debug, thiserror::Error)]
#[error("state database error: {0}")]
pub struct StateDbError(pub String);
impl DBErrorMarker for StateDbError {}

/// Source of block hashes for the `BLOCKHASH` opcode.
pub trait BlockHashes {
    /// Hash of a block number, zero when unknown.
    fn block_hash(&self, number: u64) -> B256;
}

/// The EVM's view of the world state during one block: reads from and commits to it.
pub struct StateDb<'a, H: BlockHashes> {
    /// The state.
    pub state: &'a mut WorldState,
    /// Block hashes.
    pub hashes: &'a H,
}

/// The state as of an earlier block: the current state with the `before` values of every
/// later block's change set laid over it.
#[derive(Debug, Default, Clone)]
pub struct HistoricalOverlay {
    accounts: HashMap<Address, AccountBasic>,
    slots: HashMap<(Address, U256), U256>,
    /// Accounts whose whole storage differs from the current one only through `slots`.
    _private: (),
}

impl HistoricalOverlay {
    /// Starts from the values the pending (not yet mined) edits replaced.
    pub fn from_pending(state: &WorldState) -> Self {
        Self { accounts: state.journal_accounts.clone(), slots: state.journal_slots.clone(), _private: () }
    }

    /// Lays a block's change set over the overlay; apply blocks newest first, so the oldest
    /// block's `before` values win.
    pub fn undo(&mut self, changes: &ChangeSet) {
        for c in &changes.accounts {
            self.accounts.insert(c.address, c.before.clone());
        }
        for c in &changes.storage {
            self.slots.insert((c.address, c.slot), c.before);
        }
    }
}

/// Read access to a state: the current one, or a past one through an overlay.
pub trait StateReader {
    /// Account fields, if the account exists.
    fn account(&self, address: &Address) -> Option<AccountBasic>;
    /// Storage value (zero when unset).
    fn slot(&self, address: &Address, slot: &U256) -> U256;
    /// Code by hash.
    fn code(&self, hash: &B256) -> Option<Bytecode>;

    /// Balance (zero for an absent account).
    fn balance_of(&self, address: &Address) -> U256 {
        self.account(address).map(|a| a.balance).unwrap_or_default()
    }
    /// Nonce (zero for an absent account).
    fn nonce_of(&self, address: &Address) -> u64 {
        self.account(address).map(|a| a.nonce).unwrap_or_default()
    }
    /// Code of an account (empty when none).
    fn code_at(&self, address: &Address) -> Bytes {
        self.account(address)
            .and_then(|a| self.code(&a.code_hash))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }
}

impl StateReader for WorldState {
    fn account(&self, address: &Address) -> Option<AccountBasic> {
        self.basic(address).cloned()
    }
    fn slot(&self, address: &Address, slot: &U256) -> U256 {
        self.storage(address, slot)
    }
    fn code(&self, hash: &B256) -> Option<Bytecode> {
        self.code.get(hash).cloned()
    }
}

/// A past state: [`WorldState`] under a [`HistoricalOverlay`].
pub struct PastState<'a> {
    /// The current state.
    pub current: &'a WorldState,
    /// Values that differ in the past.
    pub overlay: HistoricalOverlay,
}

impl StateReader for PastState<'_> {
    fn account(&self, address: &Address) -> Option<AccountBasic> {
        match self.overlay.accounts.get(address) {
            Some(b) if b.is_empty() => None,
            Some(b) => Some(b.clone()),
            None => self.current.account(address),
        }
    }
    fn slot(&self, address: &Address, slot: &U256) -> U256 {
        match self.overlay.slots.get(&(*address, *slot)) {
            Some(v) => *v,
            None => self.current.slot(address, slot),
        }
    }
    fn code(&self, hash: &B256) -> Option<Bytecode> {
        self.current.code(hash)
    }
}

/// Any EVM database read as a state (the pending block's overlay, for `eth_getBalance` and
/// the like at `pending`). The databases loft reads this way are in memory and can not fail,
/// so a failed read reads as absent.
pub struct DbReader<'a, D: ?Sized>(pub &'a D);

impl<D: DatabaseRef + ?Sized> StateReader for DbReader<'_, D> {
    fn account(&self, address: &Address) -> Option<AccountBasic> {
        let info = self.0.basic_ref(*address).ok().flatten()?;
        Some(AccountBasic { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash })
    }
    fn slot(&self, address: &Address, slot: &U256) -> U256 {
        self.0.storage_ref(*address, *slot).unwrap_or_default()
    }
    fn code(&self, hash: &B256) -> Option<Bytecode> {
        self.0.code_by_hash_ref(*hash).ok().filter(|c| !c.is_empty())
    }
}

/// A read-only EVM view of any state (for `eth_call` and gas estimation).
pub struct StateView<'a, S: StateReader, H: BlockHashes> {
    /// The state.
    pub state: &'a S,
    /// Block hashes.
    pub hashes: &'a H,
}

fn account_info(state: &WorldState, address: &Address) -> Option<AccountInfo> {
    state.accounts.get(address).map(|a| AccountInfo {
        balance: a.basic.balance,
        nonce: a.basic.nonce,
        code_hash: a.basic.code_hash,
        account_id: None,
        code: state.code.get(&a.basic.code_hash).cloned(),
    })
}

fn code_by_hash(state: &WorldState, hash: &B256) -> Bytecode {
    state.code.get(hash).cloned().unwrap_or_default()
}

impl<S: StateReader, H: BlockHashes> DatabaseRef for StateView<'_, S, H> {
    type Error = StateDbError;
    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.state.account(&address).map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            account_id: None,
            code: self.state.code(&a.code_hash),
        }))
    }
    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self.state.code(&code_hash).unwrap_or_default())
    }
    fn storage_ref(&self, address: Address, index: StorageKey) -> Result<StorageValue, Self::Error> {
        Ok(self.state.slot(&address, &index))
    }
    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.hashes.block_hash(number))
    }
}

impl<H: BlockHashes> Database for StateDb<'_, H> {
    type Error = StateDbError;
    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(account_info(self.state, &address))
    }
    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(code_by_hash(self.state, &code_hash))
    }
    fn storage(&mut self, address: Address, index: StorageKey) -> Result<StorageValue, Self::Error> {
        Ok(self.state.storage(&address, &index))
    }
    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.hashes.block_hash(number))
    }
}

impl<H: BlockHashes> DatabaseCommit for StateDb<'_, H> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() {
                self.state.clear_storage(address);
                self.state.set_basic(address, AccountBasic::default());
                continue;
            }
            if account.is_created() {
                self.state.clear_storage(address);
                if let Some(code) = &account.info.code {
                    let bytes = code.original_bytes();
                    if !bytes.is_empty() {
                        self.state.set_code(address, bytes);
                    }
                }
            }
            let basic = AccountBasic {
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
            };
            for (slot, value) in account.changed_storage_slots() {
                self.state.set_slot(address, *slot, value.present_value);
            }
            // An empty account left by the EVM is pruned from the tree (EIP-161).
            self.state.set_basic(address, basic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_restores_root() {
        let mut s = WorldState::new();
        let a = Address::repeat_byte(1);
        s.set_basic(a, AccountBasic { nonce: 1, balance: U256::from(5), code_hash: KECCAK_EMPTY });
        let root0 = s.state_root();
        s.take_changes();
        s.set_slot(a, U256::from(1), U256::from(9));
        s.set_basic(a, AccountBasic { nonce: 2, balance: U256::from(3), code_hash: KECCAK_EMPTY });
        let b = Address::repeat_byte(2);
        s.set_basic(b, AccountBasic { nonce: 0, balance: U256::from(2), code_hash: KECCAK_EMPTY });
        let root1 = s.state_root();
        assert_ne!(root0, root1);
        let (changes, _) = s.take_changes();
        assert_eq!(changes.accounts.len(), 2);
        assert_eq!(changes.storage.len(), 1);
        s.undo(&changes);
        s.clear_journal();
        assert_eq!(s.state_root(), root0);
        assert!(s.basic(&b).is_none());
    }

    #[test]
    fn scratch_leaves_the_state_and_its_journal_as_they_were() {
        let mut s = WorldState::new();
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        s.set_basic(a, AccountBasic { nonce: 1, balance: U256::from(5), code_hash: KECCAK_EMPTY });
        s.set_slot(a, U256::from(1), U256::from(7));
        s.state_root();
        s.take_changes();
        // an edit between blocks (anvil_setBalance), not yet in any block
        s.set_basic(a, AccountBasic { nonce: 1, balance: U256::from(6), code_hash: KECCAK_EMPTY });
        let root = s.state_root();
        let scratch_root = s.scratch(|s| {
            s.set_basic(a, AccountBasic { nonce: 2, balance: U256::from(1), code_hash: KECCAK_EMPTY });
            s.set_slot(a, U256::from(1), U256::ZERO);
            s.set_slot(a, U256::from(2), U256::from(3));
            s.set_code(b, Bytes::from_static(&[0x60, 0x00]));
            s.state_root()
        });
        assert_ne!(scratch_root, root);
        assert_eq!(s.state_root(), root);
        assert!(s.basic(&b).is_none(), "an account made in scratch is gone");
        assert!(s.code_by_hash(&keccak256([0x60u8, 0x00])).is_none(), "so is its code");
        assert_eq!(s.storage(&a, &U256::from(1)), U256::from(7));
        // the edit before the scratch is still journaled against the block's start
        let (changes, _) = s.take_changes();
        assert_eq!(changes.accounts.len(), 1);
        assert_eq!(changes.accounts[0].before.balance, U256::from(5));
        assert_eq!(changes.accounts[0].after.balance, U256::from(6));
        assert!(changes.storage.is_empty());
    }

    #[test]
    fn proofs_verify_against_root() {
        let mut s = WorldState::new();
        for i in 1..50u8 {
            let a = Address::repeat_byte(i);
            s.set_basic(a, AccountBasic { nonce: i as u64, balance: U256::from(i), code_hash: KECCAK_EMPTY });
            s.set_slot(a, U256::from(i), U256::from(1000 + i as u64));
        }
        let a = Address::repeat_byte(7);
        let p = s.prove(&a, &[U256::from(7), U256::from(8)]);
        let leaf = account_leaf_value(&p.basic, p.storage_root);
        assert!(p.account_proof.verify(&p.state_root, &account_key(&a), Some(leaf)));
        let (slot, value, proof) = &p.storage_proofs[0];
        assert_eq!(*value, U256::from(1007));
        assert!(proof.verify(
            &p.storage_root,
            &storage_key(slot),
            Some(B256::from(value.to_be_bytes::<32>()))
        ));
        let (slot, value, proof) = &p.storage_proofs[1];
        assert!(value.is_zero());
        assert!(proof.verify(&p.storage_root, &storage_key(slot), None));
        let absent = Address::repeat_byte(200);
        let p = s.prove(&absent, &[]);
        assert!(p.account_proof.verify(&p.state_root, &account_key(&absent), None));
    }
}
