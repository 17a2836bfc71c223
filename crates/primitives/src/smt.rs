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

use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};
use std::fmt;

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
fn parallel_levels() -> u32 {
    static LEVELS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LEVELS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.next_power_of_two().trailing_zeros().min(4)
    })
}

/// [`Node::hash`], hashing the two children of dirty internal nodes on two threads
/// for the top `levels` levels.
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
                std::mem::replace(&mut **node, Node::Internal { left: None, right: None, hash: None });
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
        let writes = std::mem::take(&mut self.writes_since_root);
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

impl std::iter::FusedIterator for Iter<'_> {}

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn b(byte0: u8, byte31: u8) -> B256 {
        let mut k = B256::ZERO;
        k[0] = byte0;
        k[31] = byte31;
        k
    }

    fn raw_leaf(key: &B256, value: &B256) -> B256 {
        let mut pre = vec![0x00];
        pre.extend_from_slice(key.as_slice());
        pre.extend_from_slice(value.as_slice());
        assert_eq!(pre.len(), 65);
        keccak256(&pre)
    }

    fn raw_node(left: &B256, right: &B256) -> B256 {
        let mut pre = vec![0x01];
        pre.extend_from_slice(left.as_slice());
        pre.extend_from_slice(right.as_slice());
        keccak256(&pre)
    }

    /// Naive reference: recursive over a sorted, deduplicated leaf list, no caching.
    fn reference_root(leaves: &[(B256, B256)]) -> B256 {
        fn go(leaves: &[(B256, B256)], depth: usize) -> B256 {
            match leaves {
                [] => B256::ZERO,
                [(k, v)] => raw_leaf(k, v),
                _ => {
                    let mid = leaves.partition_point(|(k, _)| !bit(k, depth));
                    raw_node(&go(&leaves[..mid], depth + 1), &go(&leaves[mid..], depth + 1))
                }
            }
        }
        go(leaves, 0)
    }

    fn model_root(model: &BTreeMap<B256, B256>) -> B256 {
        reference_root(&model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>())
    }

    /// Deterministic pseudo-random keys.
    fn key_n(n: u64) -> B256 {
        keccak256(n.to_be_bytes())
    }

    fn arb_key() -> impl Strategy<Value = B256> {
        prop_oneof![
            // Uniform keys: shallow trees.
            any::<[u8; 32]>().prop_map(B256::new),
            // Keys equal but for the last two bytes: long shared prefixes, deep chains.
            any::<u16>().prop_map(|x| {
                let mut k = B256::repeat_byte(0xa5);
                k[30..].copy_from_slice(&x.to_be_bytes());
                k
            }),
            // One bit flipped in a fixed base key: splits at every depth.
            (0usize..256).prop_map(|i| {
                let mut k = B256::repeat_byte(0x3c);
                k[i / 8] ^= 0x80 >> (i % 8);
                k
            }),
        ]
    }

    fn arb_value() -> impl Strategy<Value = B256> {
        any::<[u8; 32]>().prop_map(|v| if v == [0; 32] { B256::with_last_byte(1) } else { B256::new(v) })
    }

    fn arb_map(max: usize) -> impl Strategy<Value = BTreeMap<B256, B256>> {
        prop::collection::btree_map(arb_key(), arb_value(), 0..max)
    }

    fn tree_of(map: &BTreeMap<B256, B256>) -> SparseMerkleTree {
        map.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn empty_root_is_zero() {
        let mut t = SparseMerkleTree::new();
        assert_eq!(t.root(), B256::ZERO);
        assert!(t.is_empty());
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(&B256::ZERO), None);
        assert_eq!(t.iter().next(), None);
    }

    #[test]
    fn hash_functions_match_spec() {
        let k = b(0x12, 0x34);
        let v = B256::repeat_byte(0x77);
        assert_eq!(leaf_hash(&k, &v), raw_leaf(&k, &v));
        assert_eq!(node_hash(&k, &v), raw_node(&k, &v));
        assert_ne!(leaf_hash(&k, &v), node_hash(&k, &v));
    }

    #[test]
    fn single_leaf_root_is_leaf_hash() {
        let mut t = SparseMerkleTree::new();
        let k = b(0xff, 0x01);
        let v = B256::repeat_byte(9);
        t.insert(k, v);
        assert_eq!(t.root(), raw_leaf(&k, &v));
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(&k), Some(v));
    }

    #[test]
    fn two_leaves_differing_at_bit_0() {
        let (a, b_) = (b(0x00, 0x05), b(0x80, 0x05));
        let (va, vb) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let expected = raw_node(&raw_leaf(&a, &va), &raw_leaf(&b_, &vb));
        for order in [[(a, va), (b_, vb)], [(b_, vb), (a, va)]] {
            let mut t: SparseMerkleTree = order.into_iter().collect();
            assert_eq!(t.root(), expected);
        }
    }

    #[test]
    fn two_leaves_differing_at_bit_255() {
        let (a, b_) = (B256::repeat_byte(0xf0), {
            let mut k = B256::repeat_byte(0xf0);
            k[31] = 0xf1;
            k
        });
        let (va, vb) = (B256::repeat_byte(1), B256::repeat_byte(2));
        // Split at depth 255 (a has bit 0, b bit 1), then 255 chain nodes above whose
        // empty child is on the side opposite to the shared bit.
        let mut h = raw_node(&raw_leaf(&a, &va), &raw_leaf(&b_, &vb));
        for d in (0..255).rev() {
            let shared_bit = (0xf0u8 >> (7 - d % 8)) & 1;
            h = if shared_bit == 1 { raw_node(&B256::ZERO, &h) } else { raw_node(&h, &B256::ZERO) };
        }
        let mut t = SparseMerkleTree::new();
        t.insert(b_, vb);
        t.insert(a, va);
        assert_eq!(t.root(), h);
        // Its proofs have 256 siblings: 255 zeros and the other leaf.
        let p = t.prove(&a);
        assert_eq!(p.siblings.len(), 256);
        assert_eq!(p.siblings[255], raw_leaf(&b_, &vb));
        assert!(p.siblings[..255].iter().all(|s| *s == B256::ZERO));
        assert!(p.verify(&h, &a, Some(va)));
        assert_proof(&mut t, &a, true);
        assert_proof(&mut t, &b_, true);
        let mut absent = a;
        absent[31] ^= 0x02;
        assert_proof(&mut t, &absent, true);
        let enc = p.encode();
        assert_eq!(enc.len(), 2 + 32 + 32 + 1);
        assert_eq!(SmtProof::decode(&enc), Ok(p));
        // Removing one leaf collapses the whole chain back into the other leaf.
        assert_eq!(t.remove(&a), Some(va));
        assert_eq!(t.root(), raw_leaf(&b_, &vb));
    }

    #[test]
    fn three_leaves_by_hand() {
        // 0x00.., 0x40.. share bit 0 (= 0) and split at bit 1; 0x80.. is alone right.
        let (k0, k1, k2) = (b(0x00, 0), b(0x40, 0), b(0x80, 0));
        let v = B256::repeat_byte(3);
        let mut t: SparseMerkleTree = [(k2, v), (k1, v), (k0, v)].into_iter().collect();
        let left = raw_node(&raw_leaf(&k0, &v), &raw_leaf(&k1, &v));
        assert_eq!(t.root(), raw_node(&left, &raw_leaf(&k2, &v)));
        let keys: Vec<_> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![k0, k1, k2]);
    }

    #[test]
    fn regression_vector() {
        // Pins the consensus hashing; recompute only on a deliberate rule change.
        let mut t: SparseMerkleTree = (0..16u64).map(|i| (key_n(i), key_n(i + 1000))).collect();
        let leaves: BTreeMap<_, _> = (0..16u64).map(|i| (key_n(i), key_n(i + 1000))).collect();
        assert_eq!(t.root(), model_root(&leaves));
        assert_eq!(
            t.root().to_string(),
            "0x9c4d3c98ecba04d6d69910b28f5396f17d0fa2438265230d2abe5cd2eb3e807d"
        );
    }

    #[test]
    fn insert_zero_removes_and_overwrite_updates() {
        let mut t = SparseMerkleTree::new();
        let k = b(1, 2);
        t.insert(k, B256::repeat_byte(1));
        let r1 = t.root();
        t.insert(k, B256::repeat_byte(2));
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(&k), Some(B256::repeat_byte(2)));
        assert_ne!(t.root(), r1);
        t.insert(k, B256::ZERO);
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(&k), None);
        assert_eq!(t.root(), B256::ZERO);
        assert_eq!(t.remove(&k), None);
        // Inserting ZERO for an absent key is a no-op.
        t.insert(k, B256::ZERO);
        assert!(t.is_empty());
    }

    #[test]
    fn hundred_thousand_keys() {
        let n = 100_000u64;
        let mut t = SparseMerkleTree::new();
        for i in 0..n {
            t.insert(key_n(i), key_n(i + n));
        }
        assert_eq!(t.len(), n as usize);
        let root = t.root();
        let mut leaves: Vec<_> = (0..n).map(|i| (key_n(i), key_n(i + n))).collect();
        leaves.sort_unstable();
        assert_eq!(root, reference_root(&leaves));
        assert!(t.iter().eq(leaves.iter().copied()));
        // A block-sized batch of updates re-hashes only its paths.
        for i in 0..1_000 {
            t.insert(key_n(i), key_n(i + 7 * n));
        }
        let updated: BTreeMap<_, _> = (0..1_000).map(|i| (key_n(i), key_n(i + 7 * n))).collect();
        for leaf in &mut leaves {
            if let Some(v) = updated.get(&leaf.0) {
                leaf.1 = *v;
            }
        }
        assert_eq!(t.root(), reference_root(&leaves));
        for i in 0..n {
            assert!(t.remove(&key_n(i)).is_some());
        }
        assert_eq!(t.root(), B256::ZERO);
    }

    /// Depths to tamper with: all of them, or a spread sample for proptest speed.
    fn depths(n: usize, full: bool) -> Vec<usize> {
        if full {
            return (0..n).collect();
        }
        let mut v: Vec<_> = [0, 1, n / 3, n / 2, n.saturating_sub(2), n.saturating_sub(1)]
            .into_iter()
            .filter(|i| *i < n)
            .collect();
        v.dedup();
        v
    }

    /// Checks the proof for `key` and that every kind of tampering is rejected.
    fn assert_proof(t: &mut SparseMerkleTree, key: &B256, full: bool) {
        let root = t.root();
        let value = t.get(key);
        let p = t.prove(key);
        assert_eq!(t.root(), root);
        assert!(p.verify(&root, key, value), "valid proof rejected");
        assert_eq!(p.compute_root(key, value), Ok(root));
        // Wrong values.
        assert!(!p.verify(&root, key, Some(B256::repeat_byte(0xee)).filter(|v| Some(*v) != value)));
        match value {
            Some(_) => assert!(!p.verify(&root, key, None)),
            None => assert!(!p.verify(&root, key, Some(B256::with_last_byte(7)))),
        }
        assert!(!p.verify(&root, key, Some(B256::ZERO)));
        // Wrong root.
        assert!(!p.verify(&B256::repeat_byte(0x42), key, value));
        // A key that leaves the proven path: flip a bit at every depth of the path.
        for i in depths(p.siblings.len(), full) {
            let mut other = *key;
            other[i / 8] ^= 0x80 >> (i % 8);
            assert!(!p.verify(&root, &other, value), "verified for key flipped at bit {i}");
        }
        // An inclusion proof is for exactly this key (flip a bit below the path too).
        if value.is_some() {
            let mut other = *key;
            other[31] ^= 1;
            assert!(!p.verify(&root, &other, value));
        }
        // Tampered siblings.
        for i in depths(p.siblings.len(), full) {
            let mut q = p.clone();
            q.siblings[i].0[i % 32] ^= 0x01;
            assert!(!q.verify(&root, key, value), "tampered sibling {i} accepted");
        }
        // Tampered other leaf.
        if let Some((k, v)) = p.other_leaf {
            let mut q = p.clone();
            q.other_leaf = Some((k, B256::with_last_byte(v[31] ^ 0x80)));
            assert!(!q.verify(&root, key, value));
            let mut q = p.clone();
            q.other_leaf = Some((*key, v));
            assert_eq!(q.compute_root(key, None), Err(SmtError::OtherLeafSameKey));
            let mut q = p.clone();
            q.other_leaf = None;
            assert!(!q.verify(&root, key, None));
        }
        // Truncated and extended.
        if !p.siblings.is_empty() {
            let mut q = p.clone();
            q.siblings.pop();
            assert!(!q.verify(&root, key, value));
            let mut q = p.clone();
            q.siblings.remove(0);
            assert!(!q.verify(&root, key, value));
        }
        for extra in [B256::ZERO, B256::repeat_byte(0x11), root] {
            let mut q = p.clone();
            q.siblings.push(extra);
            assert!(!q.verify(&root, key, value));
            let mut q = p.clone();
            q.siblings.insert(0, extra);
            assert!(!q.verify(&root, key, value));
        }
        // Encoding round trip; every strict prefix and any extension is rejected.
        let enc = p.encode();
        assert_eq!(SmtProof::decode(&enc).as_ref(), Ok(&p));
        for len in 0..enc.len() {
            assert!(matches!(SmtProof::decode(&enc[..len]), Err(SmtError::Truncated { .. })));
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert_eq!(SmtProof::decode(&longer), Err(SmtError::TrailingBytes(1)));
    }

    #[test]
    fn proofs_small_trees() {
        let mut t = SparseMerkleTree::new();
        // Empty tree: absence with no siblings.
        let p = t.prove(&b(1, 1));
        assert_eq!(p, SmtProof::default());
        assert_proof(&mut t, &b(1, 1), true);
        t.insert(b(0x80, 0), B256::repeat_byte(1));
        // One leaf: the absence proof ends at that leaf at depth 0.
        let p = t.prove(&b(0x00, 0));
        assert_eq!(p.siblings.len(), 0);
        assert_eq!(p.other_leaf, Some((b(0x80, 0), B256::repeat_byte(1))));
        assert_proof(&mut t, &b(0x00, 0), true);
        assert_proof(&mut t, &b(0x80, 0), true);
        t.insert(b(0xc0, 0), B256::repeat_byte(2));
        t.insert(b(0xc0, 1), B256::repeat_byte(3));
        // Ends in an empty subtree, at another leaf, at the key's own leaf.
        for key in [b(0x00, 0), b(0xa0, 0), b(0x80, 0), b(0xc0, 0), b(0xc0, 1), b(0xc0, 2), b(0xc1, 0)] {
            assert_proof(&mut t, &key, true);
        }
        assert!(t.prove(&b(0x00, 0)).other_leaf.is_none());
        assert!(t.prove(&b(0xa0, 0)).other_leaf.is_some());
    }

    #[test]
    fn compute_root_errors() {
        let k = b(0x80, 0);
        let other = (b(0x00, 0), B256::repeat_byte(1));
        let p = SmtProof { siblings: vec![B256::repeat_byte(1); 257], other_leaf: None };
        assert_eq!(p.compute_root(&k, None), Err(SmtError::DepthTooLarge(257)));
        let p = SmtProof { siblings: vec![], other_leaf: Some(other) };
        assert_eq!(p.compute_root(&k, Some(B256::repeat_byte(1))), Err(SmtError::UnexpectedOtherLeaf));
        assert_eq!(p.compute_root(&k, Some(B256::ZERO)), Err(SmtError::ZeroValue));
        assert_eq!(p.compute_root(&k, None), Ok(leaf_hash(&other.0, &other.1)));
        let p = SmtProof { siblings: vec![B256::repeat_byte(1)], other_leaf: Some(other) };
        assert_eq!(p.compute_root(&k, None), Err(SmtError::OtherLeafPathMismatch { depth: 1 }));
        let p = SmtProof { siblings: vec![], other_leaf: Some((other.0, B256::ZERO)) };
        assert_eq!(p.compute_root(&k, None), Err(SmtError::OtherLeafZeroValue));
        let p = SmtProof { siblings: vec![B256::repeat_byte(1), B256::ZERO], other_leaf: None };
        assert_eq!(p.compute_root(&k, None), Err(SmtError::NonCanonical));
        assert!(!p.verify(&B256::ZERO, &k, None));
    }

    #[test]
    fn decode_rejects_malformed() {
        let one = B256::repeat_byte(1);
        let p = SmtProof { siblings: vec![B256::ZERO, one, B256::ZERO, one], other_leaf: None };
        let enc = p.encode();
        assert_eq!(enc.len(), 2 + 32 + 64 + 1);
        assert_eq!(&enc[..3], &[0, 4, 0b0101_0000]);
        assert_eq!(SmtProof::decode(&enc), Ok(p));

        assert!(matches!(SmtProof::decode(&[]), Err(SmtError::Truncated { needed: 2, available: 0 })));
        let mut bad = enc.clone();
        bad[0..2].copy_from_slice(&257u16.to_be_bytes());
        assert_eq!(SmtProof::decode(&bad), Err(SmtError::DepthTooLarge(257)));
        let mut bad = enc.clone();
        bad[2] |= 0b0000_1000; // bit 4, depth is 4
        assert_eq!(SmtProof::decode(&bad), Err(SmtError::BitmapBeyondDepth { index: 4, depth: 4 }));
        let mut bad = enc.clone();
        bad[33] = 1; // bit 255
        assert_eq!(SmtProof::decode(&bad), Err(SmtError::BitmapBeyondDepth { index: 255, depth: 4 }));
        let mut bad = enc.clone();
        bad[34..66].fill(0);
        assert_eq!(SmtProof::decode(&bad), Err(SmtError::ZeroSiblingEncoded(1)));
        let mut bad = enc.clone();
        *bad.last_mut().unwrap() = 2;
        assert_eq!(SmtProof::decode(&bad), Err(SmtError::InvalidFlag(2)));
        let mut bad = enc.clone();
        *bad.last_mut().unwrap() = 1; // other leaf announced but missing
        assert!(matches!(SmtProof::decode(&bad), Err(SmtError::Truncated { .. })));

        let full = SmtProof { siblings: vec![one; 256], other_leaf: Some((one, one)) };
        let enc = full.encode();
        assert_eq!(enc.len(), 2 + 32 + 256 * 32 + 1 + 64);
        assert_eq!(SmtProof::decode(&enc), Ok(full));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn matches_reference(map in arb_map(64)) {
            let mut t = tree_of(&map);
            prop_assert_eq!(t.root(), model_root(&map));
            prop_assert_eq!(t.len(), map.len());
            prop_assert!(t.iter().eq(map.iter().map(|(k, v)| (*k, *v))));
            for (k, v) in &map {
                prop_assert_eq!(t.get(k), Some(*v));
            }
        }

        #[test]
        fn root_independent_of_insertion_order(
            pairs in arb_map(48).prop_map(|m| m.into_iter().collect::<Vec<_>>()).prop_shuffle(),
            seed in any::<u64>(),
        ) {
            let mut a: SparseMerkleTree = pairs.iter().copied().collect();
            let mut reversed: SparseMerkleTree = pairs.iter().rev().copied().collect();
            // Interleave root() calls so cached hashes are exercised.
            let mut c = SparseMerkleTree::new();
            for (i, (k, v)) in pairs.iter().enumerate() {
                c.insert(*k, *v);
                if (seed >> (i % 64)) & 1 == 1 {
                    c.root();
                }
            }
            let r = a.root();
            prop_assert_eq!(r, reversed.root());
            prop_assert_eq!(r, c.root());
        }

        #[test]
        fn delete_restores_previous_root(a in arb_map(40), b in arb_map(40)) {
            let b: BTreeMap<_, _> = b.into_iter().filter(|(k, _)| !a.contains_key(k)).collect();
            let mut t = tree_of(&a);
            let root_a = t.root();
            for (k, v) in &b {
                t.insert(*k, *v);
            }
            prop_assert_eq!(t.len(), a.len() + b.len());
            let mut all = a.clone();
            all.extend(b.iter().map(|(k, v)| (*k, *v)));
            prop_assert_eq!(t.root(), model_root(&all));
            for (k, v) in &b {
                prop_assert_eq!(t.remove(k), Some(*v));
            }
            prop_assert_eq!(t.root(), root_a);
            prop_assert_eq!(t.len(), a.len());
        }

        #[test]
        fn random_operations_match_model(
            ops in prop::collection::vec((arb_key(), prop::option::of(arb_value()), any::<bool>()), 1..120),
        ) {
            let mut t = SparseMerkleTree::new();
            let mut model = BTreeMap::new();
            for (k, v, check) in ops {
                match v {
                    Some(v) => {
                        t.insert(k, v);
                        model.insert(k, v);
                    }
                    None => {
                        prop_assert_eq!(t.remove(&k), model.remove(&k));
                    }
                }
                if check {
                    prop_assert_eq!(t.root(), model_root(&model));
                }
                prop_assert_eq!(t.len(), model.len());
            }
            prop_assert_eq!(t.root(), model_root(&model));
            prop_assert!(t.iter().eq(model.iter().map(|(k, v)| (*k, *v))));
        }

        #[test]
        fn proofs_verify(map in arb_map(48), probes in prop::collection::vec(arb_key(), 1..5)) {
            let mut t = tree_of(&map);
            for key in map.keys().take(4).chain(probes.iter()) {
                assert_proof(&mut t, key, false);
            }
        }

        #[test]
        fn decode_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(p) = SmtProof::decode(&bytes) {
                prop_assert_eq!(p.encode(), bytes);
            }
        }

        #[test]
        fn decode_mutated_encoding(map in arb_map(24), key in arb_key(), pos in any::<usize>(), x in 1..=255u8) {
            let mut t = tree_of(&map);
            let root = t.root();
            let value = t.get(&key);
            let mut enc = t.prove(&key).encode();
            let i = pos % enc.len();
            enc[i] ^= x;
            // A mutated encoding either fails to decode or no longer verifies.
            if let Ok(p) = SmtProof::decode(&enc) {
                prop_assert_eq!(p.encode(), enc);
                prop_assert!(!p.verify(&root, &key, value));
            }
        }
    }
}
