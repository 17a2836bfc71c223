//! The machine's memory: 2^32 bytes, sparse, committed to by a binary keccak Merkle tree of
//! 32-byte leaves (docs/fault-proofs.md, "Memory").
//!
//! Bytes live in 4 KiB pages, allocated on first write. The root is not kept up to date on
//! every write (a run that asks for no proof never pays for hashing): a write marks its page
//! dirty, and [`Memory::root`] rehashes only the dirty pages and the paths above them.

use std::{
    collections::{BTreeSet, HashMap},
    sync::LazyLock,
};

use alloy_primitives::{B256, keccak256};

/// Bytes in a leaf of the memory tree.
pub const LEAF_BYTES: u32 = 32;
/// Depth of the memory tree: 2^27 leaves of 32 bytes cover the 32-bit address space.
pub const DEPTH: usize = 27;
/// Bytes of one memory proof: the leaf and its [`DEPTH`] siblings.
pub const PROOF_BYTES: usize = 32 * (DEPTH + 1);

const PAGE_BITS: u32 = 12;
const PAGE_BYTES: usize = 1 << PAGE_BITS;
/// Height of a page's own subtree (128 leaves).
const PAGE_HEIGHT: usize = (PAGE_BITS - 5) as usize;
/// Levels from a page's root up to the memory root (2^20 pages).
const UPPER_HEIGHT: usize = DEPTH - PAGE_HEIGHT;

/// `ZERO[h]`: the root of an all-zero subtree of height `h` (`ZERO[0]` is a zero leaf).
static ZERO: LazyLock<[B256; DEPTH + 1]> = LazyLock::new(|| {
    let mut z = [B256::ZERO; DEPTH + 1];
    for h in 1..=DEPTH {
        z[h] = hash_pair(&z[h - 1], &z[h - 1]);
    }
    z
});

fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(left.as_slice());
    both[32..].copy_from_slice(right.as_slice());
    keccak256(both)
}

/// The root of an all-zero subtree of height `h` (at most [`DEPTH`]).
pub fn zero_root(h: usize) -> B256 {
    ZERO[h.min(DEPTH)]
}

/// A leaf and its siblings, bottom up: what proves the leaf's 32 bytes under a memory root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryProof {
    /// The leaf's index (its first byte's address divided by 32).
    pub leaf_index: u32,
    /// The leaf's bytes.
    pub leaf: [u8; 32],
    /// The siblings from the leaf's up to the root's children.
    pub siblings: [B256; DEPTH],
}

impl MemoryProof {
    /// The root this proof leads to with `leaf` in place of the proven leaf's bytes (with the
    /// proven bytes: the root it was made under; with new bytes: the root after a write).
    pub fn root_with(&self, leaf: &[u8; 32]) -> B256 {
        let mut node = B256::from(*leaf);
        let mut index = self.leaf_index;
        for sibling in &self.siblings {
            node = if index & 1 == 0 { hash_pair(&node, sibling) } else { hash_pair(sibling, &node) };
            index >>= 1;
        }
        node
    }

    /// The root it was made under.
    pub fn root(&self) -> B256 {
        self.root_with(&self.leaf)
    }

    /// The 896 bytes the one-step contract reads: the leaf, then the siblings bottom up.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROOF_BYTES);
        out.extend_from_slice(&self.leaf);
        for s in &self.siblings {
            out.extend_from_slice(s.as_slice());
        }
        out
    }
}

/// Leaves in a page.
const PAGE_LEAVES: usize = 1 << PAGE_HEIGHT;

struct Page {
    bytes: Box<[u8; PAGE_BYTES]>,
    /// The page's subtree, heap-ordered (`nodes[1]` is the page root, leaves at 128..256),
    /// once hashed.
    nodes: Option<Box<[B256; 2 * PAGE_LEAVES]>>,
    /// Leaves written since `nodes` was brought up to date (bit `i`: leaf `i` of the page).
    dirty: u128,
}

impl Page {
    fn new() -> Self {
        Self { bytes: Box::new([0; PAGE_BYTES]), nodes: None, dirty: 0 }
    }

    fn leaf_node(&self, i: usize) -> B256 {
        B256::from_slice(&self.bytes[i * LEAF_BYTES as usize..(i + 1) * LEAF_BYTES as usize])
    }

    /// The subtree, rehashing only the paths above the leaves written since last time.
    fn nodes(&mut self) -> &[B256; 2 * PAGE_LEAVES] {
        match self.nodes.take() {
            None => {
                let mut nodes = Box::new([B256::ZERO; 2 * PAGE_LEAVES]);
                for i in 0..PAGE_LEAVES {
                    nodes[PAGE_LEAVES + i] = self.leaf_node(i);
                }
                for i in (1..PAGE_LEAVES).rev() {
                    nodes[i] = hash_pair(&nodes[2 * i], &nodes[2 * i + 1]);
                }
                self.dirty = 0;
                self.nodes.insert(nodes)
            }
            Some(mut nodes) => {
                let mut level = self.dirty;
                for i in (0..PAGE_LEAVES).filter(|i| level >> i & 1 == 1) {
                    nodes[PAGE_LEAVES + i] = self.leaf_node(i);
                }
                // one level up at a time, each parent hashed once
                let mut width = PAGE_LEAVES;
                while width > 1 {
                    let mut parents = 0u128;
                    for i in (0..width).filter(|i| level >> i & 1 == 1) {
                        parents |= 1 << (i / 2);
                    }
                    width /= 2;
                    for p in (0..width).filter(|p| parents >> p & 1 == 1) {
                        let at = width + p;
                        nodes[at] = hash_pair(&nodes[2 * at], &nodes[2 * at + 1]);
                    }
                    level = parents;
                }
                self.dirty = 0;
                self.nodes.insert(nodes)
            }
        }
    }
}

/// The machine's memory.
#[derive(Default)]
pub struct Memory {
    pages: HashMap<u32, Page>,
    /// Nodes above the pages that are not all-zero, by heap index in the upper tree
    /// (1 = the memory root, pages' roots at `2^20 + page`).
    upper: HashMap<u64, B256>,
    /// Pages written since the root was last computed.
    dirty: BTreeSet<u32>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory").field("pages", &self.pages.len()).finish()
    }
}

impl Memory {
    /// Empty (all-zero) memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages holding anything written (4 KiB each).
    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    fn page_mut(&mut self, addr: u32) -> &mut Page {
        let page = addr >> PAGE_BITS;
        self.dirty.insert(page);
        let p = self.pages.entry(page).or_insert_with(Page::new);
        p.dirty |= 1 << ((addr as usize & (PAGE_BYTES - 1)) / LEAF_BYTES as usize);
        p
    }

    /// The byte at `addr`.
    pub fn read_u8(&self, addr: u32) -> u8 {
        self.pages.get(&(addr >> PAGE_BITS)).map_or(0, |p| p.bytes[(addr as usize) & (PAGE_BYTES - 1)])
    }

    /// Writes the byte at `addr`.
    pub fn write_u8(&mut self, addr: u32, value: u8) {
        self.page_mut(addr).bytes[(addr as usize) & (PAGE_BYTES - 1)] = value;
    }

    /// `N` bytes from `addr`, little-endian as the machine reads them (wrapping at 2^32).
    pub fn read_le<const N: usize>(&self, addr: u32) -> u32 {
        let mut v = 0u32;
        for i in 0..N {
            v |= (self.read_u8(addr.wrapping_add(i as u32)) as u32) << (8 * i);
        }
        v
    }

    /// Writes the low `N` bytes of `value` at `addr`, little-endian.
    pub fn write_le<const N: usize>(&mut self, addr: u32, value: u32) {
        for i in 0..N {
            self.write_u8(addr.wrapping_add(i as u32), (value >> (8 * i)) as u8);
        }
    }

    /// Copies `bytes` to `addr` (loading a program).
    pub fn write_bytes(&mut self, addr: u32, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.write_u8(addr.wrapping_add(i as u32), *b);
        }
    }

    /// `len` bytes from `addr`.
    pub fn read_bytes(&self, addr: u32, len: usize) -> Vec<u8> {
        (0..len).map(|i| self.read_u8(addr.wrapping_add(i as u32))).collect()
    }

    /// The 32 bytes of leaf `index`.
    pub fn leaf(&self, index: u32) -> [u8; 32] {
        let mut leaf = [0u8; 32];
        let base = index.wrapping_mul(LEAF_BYTES);
        if let Some(p) = self.pages.get(&(base >> PAGE_BITS)) {
            let at = (base as usize) & (PAGE_BYTES - 1);
            leaf.copy_from_slice(&p.bytes[at..at + LEAF_BYTES as usize]);
        }
        leaf
    }

    /// Puts back the 32 bytes of leaf `index` (undoing a step's write to make its proof).
    pub(crate) fn set_leaf(&mut self, index: u32, leaf: &[u8; 32]) {
        self.write_bytes(index.wrapping_mul(LEAF_BYTES), leaf);
    }

    fn upper_node(&self, index: u64, height_above_pages: usize) -> B256 {
        self.upper.get(&index).copied().unwrap_or(ZERO[PAGE_HEIGHT + height_above_pages])
    }

    /// The memory root: rehashes the pages written since the last call, and the paths above.
    pub fn root(&mut self) -> B256 {
        let dirty = std::mem::take(&mut self.dirty);
        let mut level: BTreeSet<u64> = BTreeSet::new();
        for page in dirty {
            let Some(p) = self.pages.get_mut(&page) else { continue };
            let root = p.nodes()[1];
            let index = (1u64 << UPPER_HEIGHT) + page as u64;
            self.upper.insert(index, root);
            level.insert(index >> 1);
        }
        for height in 1..=UPPER_HEIGHT {
            let mut next = BTreeSet::new();
            for &index in &level {
                let left = self.upper_node(2 * index, height - 1);
                let right = self.upper_node(2 * index + 1, height - 1);
                self.upper.insert(index, hash_pair(&left, &right));
                next.insert(index >> 1);
            }
            level = next;
        }
        self.upper_node(1, UPPER_HEIGHT)
    }

    /// The proof of the leaf holding `addr`, under [`Memory::root`].
    pub fn proof(&mut self, addr: u32) -> MemoryProof {
        self.root();
        let leaf_index = addr / LEAF_BYTES;
        let page = addr >> PAGE_BITS;
        let mut siblings = [B256::ZERO; DEPTH];
        let in_page = (leaf_index as usize) & (PAGE_LEAVES - 1);
        match self.pages.get_mut(&page) {
            Some(p) => {
                let nodes = p.nodes();
                let mut i = PAGE_LEAVES + in_page;
                for s in siblings.iter_mut().take(PAGE_HEIGHT) {
                    *s = nodes[i ^ 1];
                    i >>= 1;
                }
            }
            None => {
                for (h, s) in siblings.iter_mut().take(PAGE_HEIGHT).enumerate() {
                    *s = ZERO[h];
                }
            }
        }
        let mut index = (1u64 << UPPER_HEIGHT) + page as u64;
        for h in 0..UPPER_HEIGHT {
            siblings[PAGE_HEIGHT + h] = self.upper_node(index ^ 1, h);
            index >>= 1;
        }
        MemoryProof { leaf_index, leaf: self.leaf(leaf_index), siblings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_memory_is_the_zero_tree() {
        let mut m = Memory::new();
        assert_eq!(m.root(), zero_root(DEPTH));
        let p = m.proof(0x1234_5678);
        assert_eq!(p.root(), zero_root(DEPTH));
    }

    #[test]
    fn proofs_lead_to_the_root_before_and_after_writes() {
        let mut m = Memory::new();
        m.write_le::<4>(0x0001_0000, 0xdead_beef);
        m.write_le::<4>(0xffff_fffc, 7);
        m.write_le::<2>(0x8000_0010, 0x1234);
        let root = m.root();
        for addr in [0x0001_0000u32, 0xffff_fffc, 0x8000_0010, 0x4000_0000, 0x0001_0020] {
            let p = m.proof(addr);
            assert_eq!(p.root(), root, "{addr:#x}");
            assert_eq!(p.encode().len(), PROOF_BYTES);
        }
        // a write's new root, computed from the proof alone, is the memory's new root
        let p = m.proof(0x0001_0004);
        let mut leaf = p.leaf;
        leaf[4] = 0x55;
        m.write_u8(0x0001_0004, 0x55);
        assert_eq!(p.root_with(&leaf), m.root());
        assert_eq!(m.read_le::<4>(0x0001_0000), 0xdead_beef);
        assert_eq!(m.read_le::<2>(0x8000_0010), 0x1234);
    }

    #[test]
    fn the_root_does_not_depend_on_the_order_of_writes_or_when_it_is_asked() {
        let mut a = Memory::new();
        let mut b = Memory::new();
        for i in 0..300u32 {
            a.write_le::<4>(i.wrapping_mul(0x9e37_79b9) & !3, i);
            a.root();
        }
        for i in (0..300u32).rev() {
            b.write_le::<4>(i.wrapping_mul(0x9e37_79b9) & !3, i);
        }
        assert_eq!(a.root(), b.root());
        // many writes in a few pages, the root asked for now and then: the pages' subtrees
        // are updated along the written leaves' paths only
        let (mut c, mut d) = (Memory::new(), Memory::new());
        for i in 0..2_000u32 {
            let addr = 0x1_0000 + (i.wrapping_mul(0x2545_f491) % 0x3000);
            c.write_u8(addr, i as u8);
            d.write_u8(addr, i as u8);
            if i % 7 == 0 {
                c.root();
            }
        }
        assert_eq!(c.root(), d.root());
        for addr in [0x1_0000u32, 0x1_1234, 0x1_2ffc] {
            assert_eq!(c.proof(addr).root(), d.root());
        }
    }
}
