//! The tree's tests: the hashing rules by hand, a regression vector, insertion and removal,
//! properties against a plain map (proptest), proofs, and malformed proofs refused.

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
    assert_eq!(t.root().to_string(), "0x9c4d3c98ecba04d6d69910b28f5396f17d0fa2438265230d2abe5cd2eb3e807d");
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
