//! The ZK rollup's state, natively: accounts in a Poseidon sparse Merkle tree, each with an
//! Ethereum address, an L2 public key, a nonce and a tree of balances (one leaf per token, the
//! balance itself). The operator keeps it and produces the Merkle paths the circuit takes as
//! witness.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ark_bn254::Fr;
use ark_ff::Zero;

use crate::{
    eddsa::PublicKey,
    poseidon::{Domain, hash},
    tree::{MerklePath, SparseTree, TreeError},
};

/// Balances are below 2^128.
pub const BALANCE_BITS: u32 = 128;

/// An Ethereum address.
pub type Address = [u8; 20];

/// Tree depths of a ZK rollup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Depth of the account tree (24 on real networks).
    pub account_depth: usize,
    /// Depth of each balance tree (2^depth token ids; 0 is ETH).
    pub balance_depth: usize,
}

/// Why an operation can not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// No account at this index.
    #[error("no account {0}")]
    UnknownAccount(u64),
    /// The address has an account already.
    #[error("address 0x{hex} has account {index} already", hex = hex(.0), index = .1)]
    AccountExists(Address, u64),
    /// The zero address can not own an account.
    #[error("the zero address can not own an account")]
    ZeroAddress,
    /// The account tree is full.
    #[error("the account tree is full")]
    TreeFull,
    /// The slot holds an account already.
    #[error("account slot {0} is taken")]
    SlotTaken(u64),
    /// A token id past the balance tree.
    #[error("unknown token {0}")]
    UnknownToken(u64),
    /// Not enough balance.
    #[error("insufficient balance of token {token} in account {account}: have {have}, need {need}")]
    InsufficientBalance {
        /// The account.
        account: u64,
        /// The token.
        token: u64,
        /// Its balance.
        have: u128,
        /// What the operation needs.
        need: u128,
    },
    /// A balance would pass 2^128.
    #[error("balance of token {token} in account {account} would overflow")]
    Overflow {
        /// The account.
        account: u64,
        /// The token.
        token: u64,
    },
    /// A tree error.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An address as a field element (160 bits, big-endian).
pub fn address_to_fr(address: &Address) -> Fr {
    let mut acc = Fr::zero();
    for b in address {
        acc = acc * Fr::from(256u64) + Fr::from(*b as u64);
    }
    acc
}

/// One account.
#[derive(Clone, Debug)]
pub struct Account {
    /// The Ethereum address that owns it (withdrawals and change-key are authorised by it).
    pub address: Address,
    /// The L2 key; `None` until a change-key operation sets it (or where only its hash is
    /// known, in a state rebuilt from L1's public data).
    pub pubkey: Option<PublicKey>,
    /// The hash of the L2 key the leaf holds (`ops::key_hash`); 0 for none.
    pub key_hash: Fr,
    /// Operations signed so far.
    pub nonce: u64,
    /// Balances by token id.
    pub balances: SparseTree,
}

impl Account {
    /// The account's leaf in the account tree: `Poseidon(Account, address, keyHash, nonce,
    /// balancesRoot)`. The leaf holds the key's hash, not the key, so that anyone can rebuild
    /// the state from the public data L1 received (which carries key hashes) and prove an exit.
    pub fn leaf(&self) -> Fr {
        hash(
            Domain::Account,
            &[address_to_fr(&self.address), self.key_hash, Fr::from(self.nonce), self.balances.root()],
        )
    }

    /// The balance of `token`.
    pub fn balance(&self, token: u64) -> u128 {
        fr_to_u128(&self.balances.leaf(token))
    }
}

fn fr_to_u128(f: &Fr) -> u128 {
    use ark_ff::{BigInteger, PrimeField};
    let bytes = f.into_bigint().to_bytes_le();
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    u128::from_le_bytes(out)
}

/// What a slot of the circuit needs of an account: its fields and the paths to its leaf and
/// to one of its balances.
#[derive(Clone, Debug)]
pub struct AccountWitness {
    /// The address as a field element (0 for no account).
    pub address: Fr,
    /// The key (the identity when unset or unknown).
    pub key: PublicKey,
    /// The key's hash as the leaf holds it (0 when unset).
    pub key_hash: Fr,
    /// The nonce.
    pub nonce: u64,
    /// The balance tree's root.
    pub balance_root: Fr,
    /// The balance of the token.
    pub balance: u128,
    /// Its path in the balance tree.
    pub balance_path: MerklePath,
    /// The account's path in the account tree.
    pub account_path: MerklePath,
}

/// The whole state.
#[derive(Clone, Debug)]
pub struct State {
    params: Params,
    tree: SparseTree,
    accounts: BTreeMap<u64, Account>,
    /// Every account of an address, in index order. The operator opens one per address, but
    /// the circuit does not enforce it (that would need a second tree keyed by address): a
    /// state rebuilt from L1 holds whatever blocks L1 accepted, several accounts of an
    /// address included, and its owner exits from each.
    by_address: HashMap<Address, BTreeSet<u64>>,
}

impl State {
    /// An empty state.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            tree: SparseTree::new(params.account_depth),
            accounts: BTreeMap::new(),
            by_address: HashMap::new(),
        }
    }

    /// The depths.
    pub fn params(&self) -> Params {
        self.params
    }

    /// The state root.
    pub fn root(&self) -> Fr {
        self.tree.root()
    }

    /// Account `index`.
    pub fn account(&self, index: u64) -> Result<&Account, StateError> {
        self.accounts.get(&index).ok_or(StateError::UnknownAccount(index))
    }

    /// The account of `address` (its first, where a dishonest operator opened several).
    pub fn index_of(&self, address: &Address) -> Option<u64> {
        self.by_address.get(address).and_then(|set| set.first().copied())
    }

    /// Every account of `address`, in index order.
    pub fn indices_of(&self, address: &Address) -> Vec<u64> {
        self.by_address.get(address).map(|set| set.iter().copied().collect()).unwrap_or_default()
    }

    /// The balance of `token` in account `index` (0 for no account).
    pub fn balance(&self, index: u64, token: u64) -> u128 {
        self.accounts.get(&index).map(|a| a.balance(token)).unwrap_or_default()
    }

    /// The path of account `index`'s leaf.
    pub fn account_path(&self, index: u64) -> Result<MerklePath, StateError> {
        Ok(self.tree.path(index)?)
    }

    /// The path of `token`'s balance in account `index`.
    pub fn balance_path(&self, index: u64, token: u64) -> Result<MerklePath, StateError> {
        Ok(self.account(index)?.balances.path(token)?)
    }

    /// The witness of account `index` and its `token` balance (an empty slot reads as zeros).
    pub fn account_witness(&self, index: u64, token: u64) -> Result<AccountWitness, StateError> {
        self.check_token(token)?;
        let account_path = self.account_path(index)?;
        Ok(match self.accounts.get(&index) {
            Some(a) => AccountWitness {
                address: address_to_fr(&a.address),
                key: a.pubkey.unwrap_or(PublicKey(Default::default())),
                key_hash: a.key_hash,
                nonce: a.nonce,
                balance_root: a.balances.root(),
                balance: a.balance(token),
                balance_path: a.balances.path(token)?,
                account_path,
            },
            None => {
                let empty = SparseTree::new(self.params.balance_depth);
                AccountWitness {
                    address: Fr::zero(),
                    key: PublicKey(Default::default()),
                    key_hash: Fr::zero(),
                    nonce: 0,
                    balance_root: empty.root(),
                    balance: 0,
                    balance_path: empty.path(token)?,
                    account_path,
                }
            }
        })
    }

    fn check_token(&self, token: u64) -> Result<(), StateError> {
        if token >= 1 << self.params.balance_depth {
            return Err(StateError::UnknownToken(token));
        }
        Ok(())
    }

    /// The index the next account opens at.
    pub fn next_index(&self) -> u64 {
        self.accounts.keys().next_back().map(|i| i + 1).unwrap_or(0)
    }

    /// Whether one more account fits.
    pub fn check_new_account(&self) -> Result<(), StateError> {
        if self.next_index() >= self.tree.capacity() {
            return Err(StateError::TreeFull);
        }
        Ok(())
    }

    /// The number of accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Opens an account for `address` at `index`, which must be empty (a state rebuilt from
    /// public data opens accounts where the operator did, a second one for an address
    /// included: L1 accepted it, so its owner must be able to exit from it).
    pub fn create_account_at(&mut self, index: u64, address: Address) -> Result<(), StateError> {
        if address == [0u8; 20] {
            return Err(StateError::ZeroAddress);
        }
        if self.accounts.contains_key(&index) {
            return Err(StateError::SlotTaken(index));
        }
        let account = Account {
            address,
            pubkey: None,
            key_hash: Fr::zero(),
            nonce: 0,
            balances: SparseTree::new(self.params.balance_depth),
        };
        self.tree.set(index, account.leaf())?;
        self.accounts.insert(index, account);
        self.by_address.entry(address).or_default().insert(index);
        Ok(())
    }

    /// Sets account `index`'s key hash where only the hash is known (a state rebuilt from
    /// public data).
    pub fn set_key_hash(&mut self, index: u64, key_hash: Fr) -> Result<(), StateError> {
        self.update(index, |a| {
            a.pubkey = None;
            a.key_hash = key_hash;
            Ok(())
        })
    }

    /// Opens an account for `address` at the next free index.
    pub fn create_account(&mut self, address: Address) -> Result<u64, StateError> {
        if address == [0u8; 20] {
            return Err(StateError::ZeroAddress);
        }
        if let Some(i) = self.index_of(&address) {
            return Err(StateError::AccountExists(address, i));
        }
        self.check_new_account()?;
        let index = self.next_index();
        let account = Account {
            address,
            pubkey: None,
            key_hash: Fr::zero(),
            nonce: 0,
            balances: SparseTree::new(self.params.balance_depth),
        };
        self.tree.set(index, account.leaf())?;
        self.accounts.insert(index, account);
        self.by_address.entry(address).or_default().insert(index);
        Ok(index)
    }

    fn update(
        &mut self,
        index: u64,
        f: impl FnOnce(&mut Account) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let mut account = self.account(index)?.clone();
        f(&mut account)?;
        self.tree.set(index, account.leaf())?;
        self.accounts.insert(index, account);
        Ok(())
    }

    /// Adds `amount` of `token` to account `index`.
    pub fn credit(&mut self, index: u64, token: u64, amount: u128) -> Result<(), StateError> {
        self.check_token(token)?;
        self.update(index, |a| {
            let now =
                a.balance(token).checked_add(amount).ok_or(StateError::Overflow { account: index, token })?;
            a.balances.set(token, Fr::from(now))?;
            Ok(())
        })
    }

    /// Takes `amount` of `token` from account `index`.
    pub fn debit(&mut self, index: u64, token: u64, amount: u128) -> Result<(), StateError> {
        self.check_token(token)?;
        self.update(index, |a| {
            let have = a.balance(token);
            let now = have.checked_sub(amount).ok_or(StateError::InsufficientBalance {
                account: index,
                token,
                have,
                need: amount,
            })?;
            a.balances.set(token, Fr::from(now))?;
            Ok(())
        })
    }

    /// Counts one more signed operation of account `index`.
    pub fn bump_nonce(&mut self, index: u64) -> Result<(), StateError> {
        self.update(index, |a| {
            a.nonce += 1;
            Ok(())
        })
    }

    /// Sets account `index`'s L2 key.
    pub fn set_pubkey(&mut self, index: u64, pubkey: PublicKey) -> Result<(), StateError> {
        self.update(index, |a| {
            a.pubkey = Some(pubkey);
            a.key_hash = crate::ops::key_hash(&pubkey);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::SecretKey;

    const PARAMS: Params = Params { account_depth: 4, balance_depth: 2 };

    #[test]
    fn accounts_balances_and_paths() {
        let mut s = State::new(PARAMS);
        let empty = s.root();
        let alice = s.create_account([1; 20]).expect("alice");
        let bob = s.create_account([2; 20]).expect("bob");
        assert_eq!((alice, bob), (0, 1));
        assert_eq!(s.create_account([1; 20]), Err(StateError::AccountExists([1; 20], 0)));
        assert_eq!(s.create_account([0; 20]), Err(StateError::ZeroAddress));
        s.credit(alice, 0, 100).expect("deposit");
        s.set_pubkey(alice, SecretKey::from_bytes(&[9; 32]).public()).expect("key");
        assert_eq!(
            s.debit(alice, 0, 101),
            Err(StateError::InsufficientBalance { account: 0, token: 0, have: 100, need: 101 })
        );
        s.debit(alice, 0, 40).expect("debit");
        s.credit(bob, 0, 40).expect("credit");
        s.bump_nonce(alice).expect("nonce");
        assert_eq!((s.balance(alice, 0), s.balance(bob, 0)), (60, 40));
        assert_eq!(s.credit(bob, 4, 1), Err(StateError::UnknownToken(4)));
        assert_eq!(
            s.credit(bob, 1, u128::MAX).and_then(|_| s.credit(bob, 1, 1)),
            Err(StateError::Overflow { account: 1, token: 1 })
        );
        assert_ne!(s.root(), empty);
        // every path reaches the root
        for i in [alice, bob, 5] {
            let leaf = s.accounts.get(&i).map(Account::leaf).unwrap_or(Fr::zero());
            assert_eq!(s.account_path(i).expect("path").root(leaf), s.root());
        }
        let a = s.account(alice).expect("alice");
        assert_eq!(s.balance_path(alice, 0).expect("path").root(Fr::from(60u64)), a.balances.root());
    }
}
