//! A sparse Merkle tree known only where it is used: its root, and the nodes a
//! [`NodeSource`] hands over by hash. It is what a fault-proof program holds of loft's
//! state: it reads and writes keys with the same rules as [`SparseMerkleTree`], fetching
//! each node it passes through as the keccak preimage of its hash (`0x00 ‖ key ‖
//! value_hash` for a leaf, `0x01 ‖ left ‖ right` for an internal node) and checking that
//! the bytes hash to it, and its root after the writes is the full tree's.
//!
//! [`SparseMerkleTree`]: super::SparseMerkleTree

use alloc::{boxed::Box, vec::Vec};

use alloy_primitives::{B256, keccak256};

use super::{LEAF_PREFIX, NODE_PREFIX, bit, common_prefix_len, leaf_hash, node_hash};

/// Where the nodes of a [`WitnessTree`] come from: the preimage of a node's hash.
pub trait NodeSource {
    /// The 65 bytes that hash to `hash`, if known.
    fn node(&mut self, hash: B256) -> Option<Vec<u8>>;
}

impl<F: FnMut(B256) -> Option<Vec<u8>>> NodeSource for F {
    fn node(&mut self, hash: B256) -> Option<Vec<u8>> {
        self(hash)
    }
}

/// Why a [`WitnessTree`] could not go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The source has no preimage for a node on the path.
    #[error("no preimage for node {0}")]
    Missing(B256),
    /// The source's bytes for a node are not a node that hashes to it.
    #[error("the preimage given for node {0} is not that node")]
    Malformed(B256),
}

enum WitnessNode {
    /// A subtree not fetched yet: its hash.
    Hashed(B256),
    Leaf {
        key: B256,
        value: B256,
    },
    Internal {
        left: Link,
        right: Link,
    },
}

/// `None`: the empty subtree.
type Link = Option<Box<WitnessNode>>;

fn hashed(hash: B256) -> Link {
    (hash != B256::ZERO).then(|| Box::new(WitnessNode::Hashed(hash)))
}

/// A sparse Merkle tree backed by a [`NodeSource`]; see the [module documentation](self).
pub struct WitnessTree<S> {
    root: Link,
    source: S,
}

impl<S> core::fmt::Debug for WitnessTree<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WitnessTree").field("root", &link_hash(&self.root)).finish()
    }
}

impl<S: NodeSource> WitnessTree<S> {
    /// The tree whose root is `root`, its nodes to be fetched from `source`.
    pub fn new(root: B256, source: S) -> Self {
        Self { root: hashed(root), source }
    }

    /// The value hash stored under `key`.
    pub fn get(&mut self, key: &B256) -> Result<Option<B256>, WitnessError> {
        let mut link = &mut self.root;
        let mut depth = 0;
        loop {
            expand(link, &mut self.source)?;
            match link.as_deref_mut() {
                None => return Ok(None),
                Some(WitnessNode::Leaf { key: k, value }) => return Ok((k == key).then_some(*value)),
                Some(WitnessNode::Internal { left, right }) => {
                    link = if bit(key, depth) { right } else { left };
                    depth += 1;
                }
                Some(WitnessNode::Hashed(_)) => return Err(WitnessError::Malformed(B256::ZERO)),
            }
        }
    }

    /// Stores `value_hash` under `key`; a zero value hash removes the key.
    pub fn insert(&mut self, key: B256, value_hash: B256) -> Result<(), WitnessError> {
        if value_hash == B256::ZERO {
            return self.remove(&key).map(|_| ());
        }
        insert_at(&mut self.root, 0, key, value_hash, &mut self.source)
    }

    /// Removes `key`, returning its value hash if it was stored.
    pub fn remove(&mut self, key: &B256) -> Result<Option<B256>, WitnessError> {
        remove_at(&mut self.root, 0, key, &mut self.source)
    }

    /// The root hash.
    pub fn root(&self) -> B256 {
        link_hash(&self.root)
    }
}

fn link_hash(link: &Link) -> B256 {
    match link.as_deref() {
        None => B256::ZERO,
        Some(WitnessNode::Hashed(h)) => *h,
        Some(WitnessNode::Leaf { key, value }) => leaf_hash(key, value),
        Some(WitnessNode::Internal { left, right }) => node_hash(&link_hash(left), &link_hash(right)),
    }
}

/// Replaces a [`WitnessNode::Hashed`] at `link` by the node its preimage describes.
fn expand(link: &mut Link, source: &mut impl NodeSource) -> Result<(), WitnessError> {
    let Some(WitnessNode::Hashed(hash)) = link.as_deref() else { return Ok(()) };
    let hash = *hash;
    let bytes = source.node(hash).ok_or(WitnessError::Missing(hash))?;
    if bytes.len() != 65 || keccak256(&bytes) != hash {
        return Err(WitnessError::Malformed(hash));
    }
    let (a, b) = (B256::from_slice(&bytes[1..33]), B256::from_slice(&bytes[33..]));
    let node = match bytes[0] {
        LEAF_PREFIX => WitnessNode::Leaf { key: a, value: b },
        NODE_PREFIX => WitnessNode::Internal { left: hashed(a), right: hashed(b) },
        _ => return Err(WitnessError::Malformed(hash)),
    };
    *link = Some(Box::new(node));
    Ok(())
}

/// The subtree holding leaves `a` (under `a_key`) and `b`, whose keys first differ at bit
/// `split`, rooted at `depth`.
fn split_leaves(
    depth: usize,
    split: usize,
    a: Box<WitnessNode>,
    a_key: &B256,
    b: Box<WitnessNode>,
) -> WitnessNode {
    let (left, right) = if bit(a_key, split) { (b, a) } else { (a, b) };
    let mut node = WitnessNode::Internal { left: Some(left), right: Some(right) };
    for d in (depth..split).rev() {
        let child = Some(Box::new(node));
        node = if bit(a_key, d) {
            WitnessNode::Internal { left: None, right: child }
        } else {
            WitnessNode::Internal { left: child, right: None }
        };
    }
    node
}

fn insert_at(
    link: &mut Link,
    depth: usize,
    key: B256,
    value: B256,
    source: &mut impl NodeSource,
) -> Result<(), WitnessError> {
    expand(link, source)?;
    let Some(node) = link else {
        *link = Some(Box::new(WitnessNode::Leaf { key, value }));
        return Ok(());
    };
    match &mut **node {
        WitnessNode::Leaf { key: k, value: v } if *k == key => {
            *v = value;
            Ok(())
        }
        WitnessNode::Leaf { key: k, .. } => {
            // another leaf is alone here: both go down to where their paths split
            let split = common_prefix_len(k, &key);
            let other_key = *k;
            let other = core::mem::replace(&mut **node, WitnessNode::Hashed(B256::ZERO));
            **node = split_leaves(
                depth,
                split,
                Box::new(other),
                &other_key,
                Box::new(WitnessNode::Leaf { key, value }),
            );
            Ok(())
        }
        WitnessNode::Internal { left, right } => {
            let child = if bit(&key, depth) { right } else { left };
            insert_at(child, depth + 1, key, value, source)
        }
        WitnessNode::Hashed(h) => Err(WitnessError::Malformed(*h)),
    }
}

fn remove_at(
    link: &mut Link,
    depth: usize,
    key: &B256,
    source: &mut impl NodeSource,
) -> Result<Option<B256>, WitnessError> {
    expand(link, source)?;
    let Some(node) = link.as_deref_mut() else { return Ok(None) };
    match node {
        WitnessNode::Leaf { key: k, value } => {
            if k != key {
                return Ok(None);
            }
            let old = *value;
            *link = None;
            Ok(Some(old))
        }
        WitnessNode::Internal { left, right } => {
            let child = if bit(key, depth) { &mut *right } else { &mut *left };
            let Some(old) = remove_at(child, depth + 1, key, source)? else { return Ok(None) };
            // an internal node keeps at least two leaves: a single leaf next to an empty
            // subtree moves up here (the sibling may have to be fetched to know it is one)
            if left.is_none() {
                expand(right, source)?;
            } else if right.is_none() {
                expand(left, source)?;
            }
            let collapse = matches!(
                (left.as_deref(), right.as_deref()),
                (None, Some(WitnessNode::Leaf { .. })) | (Some(WitnessNode::Leaf { .. }), None)
            );
            if collapse {
                let leaf = left.take().or_else(|| right.take());
                *link = leaf;
            }
            Ok(Some(old))
        }
        WitnessNode::Hashed(h) => Err(WitnessError::Malformed(*h)),
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;

    use super::*;
    use crate::smt::SparseMerkleTree;

    /// xorshift: the same keys on every run.
    fn keys(seed: u64, n: usize) -> Vec<B256> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                let mut k = [0u8; 32];
                for chunk in k.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    chunk.copy_from_slice(&x.to_be_bytes());
                }
                B256::from(k)
            })
            .collect()
    }

    fn value(i: usize) -> B256 {
        B256::from(alloy_primitives::U256::from(i as u64 + 1))
    }

    #[test]
    fn reads_and_writes_as_the_full_tree_does() {
        for (seed, n) in [(1u64, 0usize), (2, 1), (3, 2), (4, 50), (5, 300)] {
            let ks = keys(seed, n + 40);
            let mut full = SparseMerkleTree::new();
            for (i, k) in ks.iter().take(n).enumerate() {
                full.insert(*k, value(i));
            }
            let preimages: BTreeMap<B256, Vec<u8>> =
                full.node_preimages().into_iter().map(|(h, b)| (h, b.to_vec())).collect();
            let source = |h: B256| preimages.get(&h).cloned();
            let mut witness = WitnessTree::new(full.root(), source);
            assert_eq!(witness.root(), full.root());
            // reads of present and absent keys, then updates, inserts and removals
            for (i, k) in ks.iter().enumerate().step_by(3) {
                assert_eq!(witness.get(k).expect("get"), full.get(k), "seed {seed} key {i}");
            }
            for (i, k) in ks.iter().enumerate() {
                match i % 4 {
                    0 => {
                        full.insert(*k, value(1000 + i));
                        witness.insert(*k, value(1000 + i)).expect("insert");
                    }
                    1 => {
                        assert_eq!(witness.remove(k).expect("remove"), full.remove(k), "seed {seed} key {i}");
                    }
                    2 => {
                        full.insert(*k, B256::ZERO);
                        witness.insert(*k, B256::ZERO).expect("insert zero");
                    }
                    _ => assert_eq!(witness.get(k).expect("get"), full.get(k)),
                }
                assert_eq!(witness.root(), full.root(), "seed {seed} after op {i}");
            }
        }
    }

    #[test]
    fn a_node_that_does_not_hash_to_its_hash_is_refused() {
        let mut full = SparseMerkleTree::new();
        for (i, k) in keys(9, 20).into_iter().enumerate() {
            full.insert(k, value(i));
        }
        let root = full.root();
        let k = keys(9, 1)[0];
        let mut lying = WitnessTree::new(root, |_h: B256| Some(vec![1u8; 65]));
        assert_eq!(lying.get(&k), Err(WitnessError::Malformed(root)));
        let mut missing = WitnessTree::new(root, |_h: B256| None);
        assert_eq!(missing.get(&k), Err(WitnessError::Missing(root)));
        // the empty tree needs no node
        let mut empty = WitnessTree::new(B256::ZERO, |_h: B256| None);
        assert_eq!(empty.get(&k), Ok(None));
        empty.insert(k, value(1)).expect("insert");
        assert_eq!(empty.root(), leaf_hash(&k, &value(1)));
    }
}
