//! Sparse Merkle trees under Poseidon, natively and as a gadget: the account tree (depth 24
//! on real networks, small in tests) and each account's balance tree.
//!
//! A tree of depth `d` has `2^d` leaves, each a field element (0 when empty). An inner node is
//! `Poseidon(Node, left, right)`; the root of an empty subtree of height `h` is precomputed,
//! so only non-empty nodes are stored. A leaf's index bits, least significant first, pick the
//! side at each level from the leaf up.

use std::collections::HashMap;

use ark_bn254::Fr;
use ark_ff::Zero;
use ark_r1cs_std::{boolean::Boolean, fields::fp::FpVar, select::CondSelectGadget};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::poseidon::{Domain, hash, hash_var};

/// Errors of tree operations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TreeError {
    /// An index past the tree's leaves.
    #[error("leaf index {index} out of range for a tree of depth {depth}")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The tree's depth.
        depth: usize,
    },
}

/// The node above `left` and `right`.
pub fn node(left: Fr, right: Fr) -> Fr {
    hash(Domain::Node, &[left, right])
}

/// Roots of empty subtrees: `empty_roots(d)[h]` is the root of an empty subtree of height `h`.
pub fn empty_roots(depth: usize) -> Vec<Fr> {
    let mut roots = vec![Fr::zero()];
    for h in 0..depth {
        roots.push(node(roots[h], roots[h]));
    }
    roots
}

/// The siblings of a leaf from the bottom up, with its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerklePath {
    /// The leaf's index.
    pub index: u64,
    /// One sibling per level, from the leaf's up.
    pub siblings: Vec<Fr>,
}

impl MerklePath {
    /// The root reached from `leaf` along this path.
    pub fn root(&self, leaf: Fr) -> Fr {
        let mut acc = leaf;
        for (level, sibling) in self.siblings.iter().enumerate() {
            acc = if (self.index >> level) & 1 == 0 { node(acc, *sibling) } else { node(*sibling, acc) };
        }
        acc
    }
}

/// A sparse Merkle tree held in memory.
#[derive(Clone, Debug)]
pub struct SparseTree {
    depth: usize,
    /// Non-empty nodes by (height, index at that height); leaves are height 0.
    nodes: HashMap<(usize, u64), Fr>,
    empty: Vec<Fr>,
}

impl SparseTree {
    /// An empty tree of `depth` levels (at most 63).
    pub fn new(depth: usize) -> Self {
        Self { depth: depth.min(63), nodes: HashMap::new(), empty: empty_roots(depth.min(63)) }
    }

    /// The depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// How many leaves the tree can hold.
    pub fn capacity(&self) -> u64 {
        1u64 << self.depth
    }

    fn get(&self, height: usize, index: u64) -> Fr {
        self.nodes.get(&(height, index)).copied().unwrap_or(self.empty[height])
    }

    /// The root.
    pub fn root(&self) -> Fr {
        self.get(self.depth, 0)
    }

    /// The leaf at `index` (0 when empty).
    pub fn leaf(&self, index: u64) -> Fr {
        self.get(0, index)
    }

    fn check(&self, index: u64) -> Result<(), TreeError> {
        if index >= self.capacity() {
            return Err(TreeError::IndexOutOfRange { index, depth: self.depth });
        }
        Ok(())
    }

    /// The path of leaf `index`.
    pub fn path(&self, index: u64) -> Result<MerklePath, TreeError> {
        self.check(index)?;
        let siblings = (0..self.depth).map(|h| self.get(h, (index >> h) ^ 1)).collect();
        Ok(MerklePath { index, siblings })
    }

    /// Sets leaf `index` to `value` and updates the nodes above it.
    pub fn set(&mut self, index: u64, value: Fr) -> Result<(), TreeError> {
        self.check(index)?;
        let mut acc = value;
        for h in 0..=self.depth {
            let at = index >> h;
            if acc == self.empty[h] {
                self.nodes.remove(&(h, at));
            } else {
                self.nodes.insert((h, at), acc);
            }
            if h < self.depth {
                let sibling = self.get(h, at ^ 1);
                acc = if at & 1 == 0 { node(acc, sibling) } else { node(sibling, acc) };
            }
        }
        Ok(())
    }
}

/// A Merkle path inside a circuit: the index bits (least significant first) and siblings.
pub struct MerklePathVar {
    /// One bit per level: whether the node is the right child.
    pub index_bits: Vec<Boolean<Fr>>,
    /// One sibling per level.
    pub siblings: Vec<FpVar<Fr>>,
}

impl MerklePathVar {
    /// The root reached from `leaf`.
    pub fn root(&self, cs: ConstraintSystemRef<Fr>, leaf: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
        let mut acc = leaf.clone();
        for (bit, sibling) in self.index_bits.iter().zip(&self.siblings) {
            let left = FpVar::conditionally_select(bit, sibling, &acc)?;
            let right = FpVar::conditionally_select(bit, &acc, sibling)?;
            acc = hash_var(cs.clone(), Domain::Node, &[left, right])?;
        }
        Ok(acc)
    }
}

#[cfg(test)]
mod tests {
    use ark_r1cs_std::{GR1CSVar, alloc::AllocVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_empty_tree_has_the_empty_root_and_clearing_restores_it() {
        let mut t = SparseTree::new(5);
        let empty = t.root();
        assert_eq!(empty, empty_roots(5)[5]);
        t.set(3, Fr::from(7u64)).expect("set");
        assert_ne!(t.root(), empty);
        t.set(3, Fr::zero()).expect("clear");
        assert_eq!(t.root(), empty);
        assert_eq!(t.set(32, Fr::from(1u64)), Err(TreeError::IndexOutOfRange { index: 32, depth: 5 }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn paths_reach_the_root_natively_and_in_circuit(
            writes in prop::collection::vec((0u64..16, 1u64..1000), 1..8),
            probe in 0u64..16,
        ) {
            let mut t = SparseTree::new(4);
            for (i, v) in &writes {
                t.set(*i, Fr::from(*v)).expect("set");
            }
            let path = t.path(probe).expect("path");
            let leaf = t.leaf(probe);
            prop_assert_eq!(path.root(leaf), t.root());

            let cs = ConstraintSystem::<Fr>::new_ref();
            let var = MerklePathVar {
                index_bits: (0..4)
                    .map(|h| Boolean::new_witness(cs.clone(), || Ok((probe >> h) & 1 == 1)))
                    .collect::<Result<_, _>>()
                    .expect("bits"),
                siblings: path
                    .siblings
                    .iter()
                    .map(|s| FpVar::new_witness(cs.clone(), || Ok(*s)))
                    .collect::<Result<_, _>>()
                    .expect("siblings"),
            };
            let leaf_var = FpVar::new_witness(cs.clone(), || Ok(leaf)).expect("leaf");
            prop_assert_eq!(var.root(cs.clone(), &leaf_var).expect("root").value().expect("value"), t.root());
            prop_assert!(cs.is_satisfied().expect("satisfied"));
        }
    }
}
