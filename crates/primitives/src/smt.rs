//! Binary sparse Merkle tree over keccak-256, used for every loft state root.
//!
//! The hashing below is a **consensus rule**: the same root must be computed by the
//! node, by provers and by the Solidity verifier. It is deliberately minimal.
//!
//! # Keys, values and paths
//!
//! * Keys are 256-bit ([`B256`]); values are 32-byte *value hashes* ([`B256`]).
//! * The path of a key is its 256 bits, most significant bit first: path bit `i`
//!   (`i = 0` at the root) is `(key[i / 8] >> (7 - i % 8)) & 1`. `0` goes left, `1`
//!   goes right.
//! * A value hash of [`B256::ZERO`] can not be stored: it is the hash of "nothing".
//!   [`SparseMerkleTree::insert`] with a zero value hash **removes** the key, so a key
//!   holding zero and an absent key are the same thing.
//!
//! # Shape and hashing (compact tree, Diem/Jellyfish style)
//!
//! * The empty subtree hashes to `ZERO` (32 zero bytes).
//! * A subtree that contains exactly one leaf is represented by that leaf itself: a
//!   leaf sits at the shallowest depth at which it is alone in its subtree.
//! * Every other subtree (two or more leaves) is an internal node, at every depth:
//!   two keys that first differ at bit `d` hang below a chain of internal nodes at
//!   depths `0..d` whose other child is empty, and split at the node at depth `d`.
//! * `leaf_hash(key, value_hash) = keccak256(0x00 ‖ key ‖ value_hash)` (65 bytes).
//! * `node_hash(left, right) = keccak256(0x01 ‖ left ‖ right)` (65 bytes).
//!
//! The root of the empty tree is therefore `ZERO`, the root of a one-leaf tree is
//! that leaf's hash, and the root of `{a, b}` with `a` and `b` first differing at bit
//! `d` is `d` nested `node_hash(·, ZERO)` / `node_hash(ZERO, ·)` around
//! `node_hash(leaf_a, leaf_b)` (ordered by bit `d`). The root depends only on the set
//! of `(key, value_hash)` pairs, never on the order of operations.
//!
//! # Proofs
//!
//! An [`SmtProof`] walks from the root towards `key` and stops where the path ends:
//! at an empty subtree, at `key`'s own leaf, or at another leaf that shares the path
//! so far. `siblings[i]` is the hash of the sibling subtree at depth `i + 1`, so the
//! path ends at depth `n = siblings.len()`. `other_leaf` carries the `(key,
//! value_hash)` of the other leaf in the last case. Verification (what the Solidity
//! verifier must do, see [`SmtProof::compute_root`]):
//!
//! ```text
//! n = len(siblings);                        require n <= 256
//! if value == Some(v):                      // inclusion of v
//!     require v != 0 and other_leaf == None
//!     h = leaf_hash(key, v)
//! else if other_leaf == Some((k', v')):     // absence, path ends at another leaf
//!     require k' != key and v' != 0 and the first n bits of k' and key are equal
//!     h = leaf_hash(k', v')
//! else:                                     // absence, path ends at an empty subtree
//!     h = ZERO
//! require n == 0 or siblings[n - 1] != ZERO // canonical form (see below)
//! for i = n - 1 down to 0:
//!     h = bit(key, i) == 0 ? node_hash(h, siblings[i]) : node_hash(siblings[i], h)
//! return h == root
//! ```
//!
//! The check `siblings[n - 1] != ZERO` only rejects proofs that can never match a
//! real root (a compact tree never has a leaf or an empty subtree next to an empty
//! sibling); it makes proofs canonical and fails fast, and an implementation that
//! omits it accepts exactly the same proofs (barring keccak collisions).
//!
//! An absence proof is valid for every key that follows the same path, which is
//! correct: all of them are absent.
//!
//! # Compact proof encoding ([`SmtProof::encode`] / [`SmtProof::decode`])
//!
//! ```text
//! depth    : u16, big-endian, = siblings.len(), at most 256
//! bitmap   : 32 bytes; bit i (same bit order as keys: byte i / 8, mask 0x80 >> i % 8)
//!            is set iff siblings[i] != ZERO; bits at i >= depth must be clear
//! siblings : 32 bytes for every set bit, in increasing i (the non-zero siblings only)
//! flag     : 1 byte, 0x00 = no other_leaf, 0x01 = other_leaf follows
//! other    : if flag == 0x01: 32-byte key ‖ 32-byte value_hash
//! ```
//!
//! Decoding rejects truncated input, trailing bytes, a depth above 256, bitmap bits
//! at or beyond the depth, an encoded sibling equal to `ZERO` and an unknown flag, so
//! every proof has exactly one encoding.
//!
//! # Implementation
//!
//! The tree is a tree of boxed nodes mirroring the compact shape. Each node caches its
//! hash; insert and remove only clear the caches on the path they touch, and
//! [`SparseMerkleTree::root`] re-hashes exactly the nodes cleared since the last call,
//! each once, so a batch of writes followed by one `root()` costs one keccak per
//! dirty node.

use alloc::{boxed::Box, vec::Vec};
use core::fmt;

use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

/// Maximum number of siblings in a proof (the key length in bits).
pub const MAX_DEPTH: usize = 256;

/// Domain prefix of a leaf hash.
const LEAF_PREFIX: u8 = 0x00;
/// Domain prefix of an internal node hash.
const NODE_PREFIX: u8 = 0x01;

/// Errors from proof verification and proof decoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmtError {
    /// The proof has more than 256 siblings.
    #[error("proof depth {0} exceeds 256")]
    DepthTooLarge(usize),
    /// An inclusion was claimed for the value hash ZERO, which can not be stored.
    #[error("zero value hash can not be proven included")]
    ZeroValue,
    /// An inclusion proof carries an `other_leaf`.
    #[error("inclusion proof must not carry another leaf")]
    UnexpectedOtherLeaf,
    /// The `other_leaf` of an absence proof has the proven key itself.
    #[error("other leaf has the proven key")]
    OtherLeafSameKey,
    /// The `other_leaf` of an absence proof holds the value hash ZERO.
    #[error("other leaf has a zero value hash")]
    OtherLeafZeroValue,
    /// The `other_leaf` key does not share the path prefix of the proof's depth.
    #[error("other leaf does not share the first {depth} path bits with the key")]
    OtherLeafPathMismatch {
        /// Depth of the proof.
        depth: usize,
    },
    /// The last sibling is ZERO, which a compact tree never produces.
    #[error("last sibling is zero (non-canonical proof)")]
    NonCanonical,
    /// The encoding ended early.
    #[error("proof encoding truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes needed to continue decoding.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// Bytes follow a complete encoding.
    #[error("{0} trailing bytes after proof encoding")]
    TrailingBytes(usize),
    /// The bitmap marks a sibling at or beyond the encoded depth.
    #[error("bitmap marks sibling {index} beyond depth {depth}")]
    BitmapBeyondDepth {
        /// Index of the first offending bit.
        index: usize,
        /// Encoded depth.
        depth: usize,
    },
    /// An explicitly encoded sibling is ZERO (it must be left out of the bitmap).
    #[error("encoded sibling {0} is zero")]
    ZeroSiblingEncoded(usize),
    /// The other-leaf flag byte is neither 0 nor 1.
    #[error("invalid other-leaf flag {0:#04x}")]
    InvalidFlag(u8),
}

/// `keccak256(0x00 ‖ key ‖ value_hash)`.
#[inline]
pub fn leaf_hash(key: &B256, value_hash: &B256) -> B256 {
    hash65(LEAF_PREFIX, key, value_hash)
}

/// `keccak256(0x01 ‖ left ‖ right)`.
#[inline]
pub fn node_hash(left: &B256, right: &B256) -> B256 {
    hash65(NODE_PREFIX, left, right)
}

#[inline]
fn hash65(prefix: u8, a: &B256, b: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = prefix;
    buf[1..33].copy_from_slice(a.as_slice());
    buf[33..].copy_from_slice(b.as_slice());
    keccak256(buf)
}

/// Path bit `i` of `key`: bit `i` counted from the most significant bit of byte 0.
#[inline]
fn bit(key: &B256, i: usize) -> bool {
    (key[i / 8] >> (7 - (i % 8))) & 1 == 1
}

/// Number of leading path bits `a` and `b` have in common (256 when equal).
#[inline]
fn common_prefix_len(a: &B256, b: &B256) -> usize {
    for (i, (ca, cb)) in a.as_slice().chunks_exact(8).zip(b.as_slice().chunks_exact(8)).enumerate() {
        let mut wa = [0u8; 8];
        let mut wb = [0u8; 8];
        wa.copy_from_slice(ca);
        wb.copy_from_slice(cb);
        let x = u64::from_be_bytes(wa) ^ u64::from_be_bytes(wb);
        if x != 0 {
            return i * 64 + x.leading_zeros() as usize;
        }
    }
    MAX_DEPTH
}

type Link = Option<Box<Node>>;

#[derive(Clone)]
enum Node {
    Leaf {
        key: B256,
        value: B256,
        /// Cached `leaf_hash`, `None` when not computed yet.
        hash: Option<B256>,
    },
    /// Has at least two leaves below it.
    Internal {
        left: Link,
        right: Link,
        /// Cached `node_hash`, `None` when dirty.
        hash: Option<B256>,
    },
}

impl Node {
    #[inline]
    fn leaf(key: B256, value: B256) -> Self {
        Node::Leaf { key, value, hash: None }
    }

    /// Hash of this subtree, computing (and caching) every dirty hash below it.
    fn hash(&mut self) -> B256 {
        match self {
            Node::Leaf { key, value, hash } => *hash.get_or_insert_with(|| leaf_hash(key, value)),
            Node::Internal { left, right, hash } => {
                if let Some(h) = hash {
                    return *h;
                }
                let l = link_hash(left);
                let r = link_hash(right);
                let h = node_hash(&l, &r);
                *hash = Some(h);
                h
            }
        }
    }
}

#[inline]
fn link_hash(link: &mut Link) -> B256 {
    link.as_deref_mut().map_or(B256::ZERO, Node::hash)
}

/// Batches of at least this many writes are hashed on several threads.
const PARALLEL_MIN_WRITES: usize = 2048;

/// How many top levels of the tree to fork threads at: `ceil(log2(cores))`, at most 4.
#[cfg(feature = "std")]
fn parallel_levels() -> u32 {
    static LEVELS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LEVELS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.next_power_of_two().trailing_zeros().min(4)
    })
}

/// Without threads (`no_std`), one.
#[cfg(not(feature = "std"))]
fn parallel_levels() -> u32 {
    0
}

/// [`Node::hash`], hashing the two children of dirty internal nodes on two threads
/// for the top `levels` levels.
#[cfg(feature = "std")]
fn hash_parallel(node: &mut Node, levels: u32) -> B256 {
    match node {
        Node::Internal { left, right, hash: hash @ None } if levels > 0 => {
            let (l, r) = std::thread::scope(|scope| {
                let l = scope.spawn(|| link_hash_parallel(left, levels - 1));
                let r = link_hash_parallel(right, levels - 1);
                (l.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), r)
            });
            let h = node_hash(&l, &r);
            *hash = Some(h);
            h
        }
        _ => node.hash(),
    }
}

/// [`Node::hash`]: no threads without `std`.
#[cfg(not(feature = "std"))]
fn hash_parallel(node: &mut Node, _levels: u32) -> B256 {
    node.hash()
}

#[cfg(feature = "std")]
fn link_hash_parallel(link: &mut Link, levels: u32) -> B256 {
    link.as_deref_mut().map_or(B256::ZERO, |node| hash_parallel(node, levels))
}

/// Builds the subtree holding two leaves whose keys first differ at bit `split`,
/// rooted at `depth` (`depth <= split`): a chain of internal nodes with one empty
/// child from `depth` to `split - 1`, then the internal node that splits them.
fn split_leaves(depth: usize, split: usize, a: Box<Node>, a_key: &B256, b: Box<Node>) -> Node {
    let (left, right) = if bit(a_key, split) { (b, a) } else { (a, b) };
    let mut node = Node::Internal { left: Some(left), right: Some(right), hash: None };
    for d in (depth..split).rev() {
        let child = Some(Box::new(node));
        node = if bit(a_key, d) {
            Node::Internal { left: None, right: child, hash: None }
        } else {
            Node::Internal { left: child, right: None, hash: None }
        };
    }
    node
}

/// Stores `value` (non-zero) under `key` below `link` (at `depth`), clearing the cached
/// hashes on the way. Returns whether the key is new.
fn insert_at(link: &mut Link, depth: usize, key: B256, value: B256) -> bool {
    let Some(node) = link else {
        *link = Some(Box::new(Node::leaf(key, value)));
        return true;
    };
    match &mut **node {
        Node::Leaf { key: k, value: v, hash } => {
            if *k == key {
                if *v != value {
                    *v = value;
                    *hash = None;
                }
                return false;
            }
            // Another leaf is alone here: push both down to where their paths split.
            let split = common_prefix_len(k, &key);
            let other_key = *k;
            let other =
                core::mem::replace(&mut **node, Node::Internal { left: None, right: None, hash: None });
            let new = Box::new(Node::leaf(key, value));
            **node = split_leaves(depth, split, Box::new(other), &other_key, new);
            true
        }
        Node::Internal { left, right, hash } => {
            *hash = None;
            let child = if bit(&key, depth) { right } else { left };
            insert_at(child, depth + 1, key, value)
        }
    }
}

/// Removes `key` below `link` (at `depth`), collapsing internal nodes left with a
/// single leaf. Returns the removed value hash.
fn remove_at(link: &mut Link, depth: usize, key: &B256) -> Option<B256> {
    let node = link.as_deref_mut()?;
    match node {
        Node::Leaf { key: k, value, .. } => {
            if k != key {
                return None;
            }
            let old = *value;
            *link = None;
            Some(old)
        }
        Node::Internal { left, right, hash } => {
            let child = if bit(key, depth) { &mut *right } else { &mut *left };
            let old = remove_at(child, depth + 1, key)?;
            *hash = None;
            // An internal node must keep at least two leaves: if all that is left is
            // a single leaf next to an empty subtree, that leaf moves up here.
            let collapse = matches!(
                (left.as_deref(), right.as_deref()),
                (None, Some(Node::Leaf { .. })) | (Some(Node::Leaf { .. }), None)
            );
            if collapse {
                let leaf = left.take().or_else(|| right.take());
                *link = leaf;
            }
            Some(old)
        }
    }
}

/// A keccak binary sparse Merkle tree; see the [module documentation](self).
#[derive(Clone, Default)]
pub struct SparseMerkleTree {
    root: Link,
    len: usize,
    /// Writes since the last [`Self::root`]: decides whether hashing is parallelised.
    writes_since_root: usize,
}

impl fmt::Debug for SparseMerkleTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached_root = match self.root.as_deref() {
            None => Some(B256::ZERO),
            Some(Node::Leaf { hash, .. } | Node::Internal { hash, .. }) => *hash,
        };
        f.debug_struct("SparseMerkleTree")
            .field("len", &self.len)
            .field("writes_since_root", &self.writes_since_root)
            .field("cached_root", &cached_root)
            .finish()
    }
}

impl SparseMerkleTree {
    /// An empty tree (root `ZERO`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value hash stored under `key`.
    pub fn get(&self, key: &B256) -> Option<B256> {
        let mut node = self.root.as_deref()?;
        let mut depth = 0;
        loop {
            match node {
                Node::Leaf { key: k, value, .. } => return (k == key).then_some(*value),
                Node::Internal { left, right, .. } => {
                    let child = if bit(key, depth) { right } else { left };
                    node = child.as_deref()?;
                    depth += 1;
                }
            }
        }
    }

    /// Whether `key` is stored.
    pub fn contains_key(&self, key: &B256) -> bool {
        self.get(key).is_some()
    }

    /// Stores `value_hash` under `key`, replacing any previous value. A `ZERO` value
    /// hash removes `key` instead. Hashes nothing: the work is done by [`Self::root`].
    pub fn insert(&mut self, key: B256, value_hash: B256) {
        if value_hash == B256::ZERO {
            self.remove(&key);
            return;
        }
        self.writes_since_root += 1;
        if insert_at(&mut self.root, 0, key, value_hash) {
            self.len += 1;
        }
    }

    /// Removes `key`, returning its value hash if it was stored.
    pub fn remove(&mut self, key: &B256) -> Option<B256> {
        let old = remove_at(&mut self.root, 0, key)?;
        self.len -= 1;
        self.writes_since_root += 1;
        Some(old)
    }

    /// The root hash. Only nodes changed since the previous call are hashed, each
    /// once; after large batches of writes the top subtrees are hashed on parallel
    /// threads.
    pub fn root(&mut self) -> B256 {
        let writes = core::mem::take(&mut self.writes_since_root);
        let levels = if writes >= PARALLEL_MIN_WRITES { parallel_levels() } else { 0 };
        match self.root.as_deref_mut() {
            None => B256::ZERO,
            Some(node) => hash_parallel(node, levels),
        }
    }

    /// An inclusion proof for `key` if it is stored, otherwise an absence proof, both
    /// against [`Self::root`]. Computes only the hashes the proof needs.
    pub fn prove(&mut self, key: &B256) -> SmtProof {
        let mut siblings = Vec::new();
        let mut link = &mut self.root;
        let mut depth = 0;
        while let Some(node) = link {
            match &mut **node {
                Node::Leaf { key: k, value, .. } => {
                    let other_leaf = (k != key).then_some((*k, *value));
                    return SmtProof { siblings, other_leaf };
                }
                Node::Internal { left, right, .. } => {
                    let (next, sibling) = if bit(key, depth) { (right, left) } else { (left, right) };
                    siblings.push(link_hash(sibling));
                    link = next;
                    depth += 1;
                }
            }
        }
        SmtProof { siblings, other_leaf: None }
    }

    /// Every node's hash and keccak preimage (65 bytes): what a [`witness::WitnessTree`]
    /// over this tree's root reads, and what a host serves a fault-proof program.
    pub fn node_preimages(&mut self) -> Vec<(B256, [u8; 65])> {
        fn walk(node: &mut Node, out: &mut Vec<(B256, [u8; 65])>) {
            let hash = node.hash();
            let mut bytes = [0u8; 65];
            match node {
                Node::Leaf { key, value, .. } => {
                    bytes[0] = LEAF_PREFIX;
                    bytes[1..33].copy_from_slice(key.as_slice());
                    bytes[33..].copy_from_slice(value.as_slice());
                }
                Node::Internal { left, right, .. } => {
                    bytes[0] = NODE_PREFIX;
                    bytes[1..33].copy_from_slice(link_hash(left).as_slice());
                    bytes[33..].copy_from_slice(link_hash(right).as_slice());
                    for child in [left, right].into_iter().flatten() {
                        walk(child, out);
                    }
                }
            }
            out.push((hash, bytes));
        }
        let mut out = Vec::new();
        if let Some(node) = self.root.as_deref_mut() {
            walk(node, &mut out);
        }
        out
    }

    /// All `(key, value_hash)` pairs in increasing key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { stack: self.root.as_deref().into_iter().collect(), remaining: self.len }
    }
}

impl Extend<(B256, B256)> for SparseMerkleTree {
    fn extend<I: IntoIterator<Item = (B256, B256)>>(&mut self, iter: I) {
        for (key, value_hash) in iter {
            self.insert(key, value_hash);
        }
    }
}

impl FromIterator<(B256, B256)> for SparseMerkleTree {
    fn from_iter<I: IntoIterator<Item = (B256, B256)>>(iter: I) -> Self {
        let mut tree = Self::new();
        tree.extend(iter);
        tree
    }
}

impl<'a> IntoIterator for &'a SparseMerkleTree {
    type Item = (B256, B256);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over `(key, value_hash)` in increasing key order; see
/// [`SparseMerkleTree::iter`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    stack: Vec<&'a Node>,
    remaining: usize,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Leaf { key, value, .. } => f.debug_tuple("Leaf").field(key).field(value).finish(),
            Node::Internal { .. } => f.write_str("Internal"),
        }
    }
}

impl Iterator for Iter<'_> {
    type Item = (B256, B256);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(node) = self.stack.pop() {
            match node {
                Node::Leaf { key, value, .. } => {
                    self.remaining -= 1;
                    return Some((*key, *value));
                }
                Node::Internal { left, right, .. } => {
                    self.stack.extend(right.as_deref());
                    self.stack.extend(left.as_deref());
                }
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl core::iter::FusedIterator for Iter<'_> {}

/// An inclusion or absence proof; see the [module documentation](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtProof {
    /// Siblings from the root down to the depth where the path ends (`siblings[0]` is
    /// the sibling of the root's child on the path).
    pub siblings: Vec<B256>,
    /// For an absence proof that ends at another leaf: that leaf's `(key,
    /// value_hash)`. `None` when the path ends in an empty subtree or at the proven
    /// key's own leaf.
    pub other_leaf: Option<(B256, B256)>,
}

impl SmtProof {
    /// The root this proof yields for `key` holding `value` (`Some(v)`: inclusion of
    /// `v`; `None`: absence). Errors for proofs that are malformed for that claim.
    pub fn compute_root(&self, key: &B256, value: Option<B256>) -> Result<B256, SmtError> {
        let depth = self.siblings.len();
        if depth > MAX_DEPTH {
            return Err(SmtError::DepthTooLarge(depth));
        }
        let mut h = match (value, &self.other_leaf) {
            (Some(v), _) if v == B256::ZERO => return Err(SmtError::ZeroValue),
            (Some(_), Some(_)) => return Err(SmtError::UnexpectedOtherLeaf),
            (Some(v), None) => leaf_hash(key, &v),
            (None, Some((k, v))) => {
                if k == key {
                    return Err(SmtError::OtherLeafSameKey);
                }
                if *v == B256::ZERO {
                    return Err(SmtError::OtherLeafZeroValue);
                }
                if common_prefix_len(k, key) < depth {
                    return Err(SmtError::OtherLeafPathMismatch { depth });
                }
                leaf_hash(k, v)
            }
            (None, None) => B256::ZERO,
        };
        if self.siblings.last().is_some_and(|s| *s == B256::ZERO) {
            return Err(SmtError::NonCanonical);
        }
        for (i, sibling) in self.siblings.iter().enumerate().rev() {
            h = if bit(key, i) { node_hash(sibling, &h) } else { node_hash(&h, sibling) };
        }
        Ok(h)
    }

    /// Whether this proof shows that `key` holds `value` (`None`: is absent) under
    /// `root`. Malformed proofs are rejected.
    pub fn verify(&self, root: &B256, key: &B256, value: Option<B256>) -> bool {
        self.compute_root(key, value).is_ok_and(|r| r == *root)
    }

    /// Compact encoding; see "Compact proof encoding" in the [module documentation](self).
    ///
    /// # Panics
    ///
    /// If the proof has more than 256 siblings (such a proof can not be produced by
    /// [`SparseMerkleTree::prove`] and would not verify).
    pub fn encode(&self) -> Vec<u8> {
        let depth = self.siblings.len();
        assert!(depth <= MAX_DEPTH, "SMT proof depth {depth} exceeds 256");
        let non_zero = self.siblings.iter().filter(|s| **s != B256::ZERO).count();
        let mut out = Vec::with_capacity(2 + 32 + 32 * non_zero + 1 + 64);
        out.extend_from_slice(&(depth as u16).to_be_bytes());
        let mut bitmap = [0u8; 32];
        for (i, sibling) in self.siblings.iter().enumerate() {
            if *sibling != B256::ZERO {
                bitmap[i / 8] |= 0x80 >> (i % 8);
            }
        }
        out.extend_from_slice(&bitmap);
        for sibling in self.siblings.iter().filter(|s| **s != B256::ZERO) {
            out.extend_from_slice(sibling.as_slice());
        }
        match &self.other_leaf {
            None => out.push(0),
            Some((k, v)) => {
                out.push(1);
                out.extend_from_slice(k.as_slice());
                out.extend_from_slice(v.as_slice());
            }
        }
        out
    }

    /// Decodes [`Self::encode`]'s output, rejecting every non-canonical or malformed
    /// input.
    pub fn decode(bytes: &[u8]) -> Result<Self, SmtError> {
        let mut r = Reader(bytes);
        let depth_bytes: [u8; 2] = r.take_array()?;
        let depth = usize::from(u16::from_be_bytes(depth_bytes));
        if depth > MAX_DEPTH {
            return Err(SmtError::DepthTooLarge(depth));
        }
        let bitmap: [u8; 32] = r.take_array()?;
        if let Some(index) = (depth..MAX_DEPTH).find(|&i| bitmap[i / 8] & (0x80 >> (i % 8)) != 0) {
            return Err(SmtError::BitmapBeyondDepth { index, depth });
        }
        let mut siblings = Vec::with_capacity(depth);
        for i in 0..depth {
            if bitmap[i / 8] & (0x80 >> (i % 8)) == 0 {
                siblings.push(B256::ZERO);
                continue;
            }
            let sibling = B256::new(r.take_array()?);
            if sibling == B256::ZERO {
                return Err(SmtError::ZeroSiblingEncoded(i));
            }
            siblings.push(sibling);
        }
        let [flag] = r.take_array()?;
        let other_leaf = match flag {
            0 => None,
            1 => Some((B256::new(r.take_array()?), B256::new(r.take_array()?))),
            other => return Err(SmtError::InvalidFlag(other)),
        };
        if !r.0.is_empty() {
            return Err(SmtError::TrailingBytes(r.0.len()));
        }
        Ok(SmtProof { siblings, other_leaf })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], SmtError> {
        let Some((head, rest)) = self.0.split_first_chunk::<N>() else {
            return Err(SmtError::Truncated { needed: N, available: self.0.len() });
        };
        self.0 = rest;
        Ok(*head)
    }
}

pub mod witness;

#[cfg(test)]
mod tests;
