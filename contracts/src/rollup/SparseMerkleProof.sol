// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title SparseMerkleProof
/// @notice Verifies proofs of loft's binary sparse Merkle tree (crates/primitives/src/smt.rs),
///         the tree behind every loft state and storage root, in the compact encoding of
///         `SmtProof::encode` (the `storageProof[i].proof.compact` field of `eth_getProof`).
/// @dev Hashing (a consensus rule):
///        leaf_hash(key, value) = keccak256(0x00 ‖ key ‖ value)
///        node_hash(left, right) = keccak256(0x01 ‖ left ‖ right)
///      The path of a key is its 256 bits, most significant first; bit i = 0 goes left.
///      The empty subtree hashes to zero; a subtree holding one leaf is that leaf.
///
///      Encoding:
///        depth    : u16 big-endian = number of siblings, at most 256
///        bitmap   : 32 bytes; bit i (byte i / 8, mask 0x80 >> i % 8) is set iff sibling i
///                   is non-zero; bits at i >= depth are clear
///        siblings : 32 bytes for every set bit, in increasing i
///        flag     : 0x00, or 0x01 followed by the 32-byte key and value hash of the other
///                   leaf where an absence proof ends
///
///      Every rule of `SmtProof::decode` and `SmtProof::compute_root` is enforced, so this
///      library accepts exactly the (encoding, claim) pairs the Rust verifier accepts:
///      truncated input, trailing bytes, depth > 256, bitmap bits at or beyond the depth, an
///      encoded zero sibling, an unknown flag, a zero last sibling (non-canonical), a zero value
///      and an `other_leaf` that contradicts the claim all yield `false`. Nothing is read
///      outside the proof bytes, and malformed input never reverts.
library SparseMerkleProof {
    /// @dev Bytes before the first sibling: depth (2) and bitmap (32).
    uint256 private constant HEADER = 34;

    /// @notice Whether `proof` shows that `key` holds `valueHash` in the tree with root `root`.
    /// @dev Always false for `valueHash == 0` (a zero value can not be stored: it is absence).
    function verifyInclusion(bytes32 root, bytes32 key, bytes32 valueHash, bytes memory proof)
        internal
        pure
        returns (bool)
    {
        if (valueHash == bytes32(0)) return false;
        (bool ok, bytes32 computed) = computeRoot(key, valueHash, true, proof);
        return ok && computed == root;
    }

    /// @notice Whether `proof` shows that `key` is absent from the tree with root `root`.
    function verifyExclusion(bytes32 root, bytes32 key, bytes memory proof)
        internal
        pure
        returns (bool)
    {
        (bool ok, bytes32 computed) = computeRoot(key, bytes32(0), false, proof);
        return ok && computed == root;
    }

    /// @notice The root `proof` yields for `key` holding `valueHash` (`inclusion`), or for `key`
    ///         being absent (`!inclusion`, `valueHash` ignored).
    /// @return ok false when the proof is malformed or contradicts the claim (then `root` is 0)
    /// @return root the computed root
    function computeRoot(bytes32 key, bytes32 valueHash, bool inclusion, bytes memory proof)
        internal
        pure
        returns (bool ok, bytes32 root)
    {
        (bool wellFormed, uint256 depth, uint256 bitmap, uint256 flagOffset) = _parse(proof);
        if (!wellFormed) return (false, 0);
        bytes32 h;
        (ok, h) = _pathEnd(key, valueHash, inclusion, proof, depth, flagOffset);
        if (!ok) return (false, 0);
        return _fold(key, h, depth, bitmap, flagOffset, proof);
    }

    /// @dev Checks the layout of `proof`: depth <= 256, no bitmap bit at or beyond the depth,
    ///      a non-zero last sibling (canonical form), a flag of 0 or 1 and exactly the length
    ///      the bitmap and the flag call for. Returns the offset of the flag byte.
    function _parse(bytes memory proof)
        private
        pure
        returns (bool ok, uint256 depth, uint256 bitmap, uint256 flagOffset)
    {
        uint256 len = proof.length;
        // depth, bitmap and flag are always there.
        if (len < HEADER + 1) return (false, 0, 0, 0);
        assembly ("memory-safe") {
            let p := add(proof, 0x20)
            depth := shr(240, mload(p))
            bitmap := mload(add(p, 2))
        }
        if (depth > 256) return (false, 0, 0, 0);
        // Bit i of the encoding is bit 255 - i of `bitmap`; the bits for i >= depth are the
        // low 256 - depth bits. (`x >> 256` is 0 in Solidity, so depth 256 allows every bit.)
        if (bitmap & (type(uint256).max >> depth) != 0) return (false, 0, 0, 0);
        // Canonical form: the last sibling (i = depth - 1, bit 256 - depth) is non-zero.
        if (depth != 0 && (bitmap >> (256 - depth)) & 1 == 0) return (false, 0, 0, 0);

        flagOffset = HEADER + 32 * _popcount(bitmap);
        if (len <= flagOffset) return (false, 0, 0, 0);
        uint8 flag = uint8(proof[flagOffset]);
        if (flag == 0) {
            ok = len == flagOffset + 1;
        } else if (flag == 1) {
            ok = len == flagOffset + 65;
        }
        // any other flag: ok stays false
    }

    /// @dev The hash where the path ends: `key`'s own leaf for an inclusion, the other leaf
    ///      (flag 1) or the empty subtree (flag 0) for an absence. Enforces the rules of the
    ///      claim: a non-zero value and no other leaf for an inclusion; an other leaf with
    ///      another key, a non-zero value and the first `depth` path bits of `key`.
    function _pathEnd(
        bytes32 key,
        bytes32 valueHash,
        bool inclusion,
        bytes memory proof,
        uint256 depth,
        uint256 flagOffset
    ) private pure returns (bool ok, bytes32 h) {
        bool hasOtherLeaf = proof[flagOffset] == 0x01;
        if (inclusion) {
            // An inclusion proof never carries another leaf; zero can not be stored.
            if (hasOtherLeaf || valueHash == bytes32(0)) return (false, 0);
            return (true, leafHash(key, valueHash));
        }
        // Absence, the path ends at an empty subtree.
        if (!hasOtherLeaf) return (true, 0);
        // Absence, the path ends at another leaf.
        bytes32 otherKey;
        bytes32 otherValue;
        assembly ("memory-safe") {
            let p := add(add(proof, 0x21), flagOffset)
            otherKey := mload(p)
            otherValue := mload(add(p, 0x20))
        }
        if (otherKey == key || otherValue == bytes32(0)) return (false, 0);
        // The other leaf shares the first `depth` path bits with `key` (depth 0: no bits;
        // `x >> 256` is 0).
        if (uint256(otherKey ^ key) >> (256 - depth) != 0) return (false, 0);
        return (true, leafHash(otherKey, otherValue));
    }

    /// @dev Hashes `h` up from depth `depth` to the root with the siblings of `proof`
    ///      (bit i of `key` = 0: the path goes left at depth i). Fails on an encoded zero
    ///      sibling (zeros must be left out of the bitmap).
    function _fold(
        bytes32 key,
        bytes32 h,
        uint256 depth,
        uint256 bitmap,
        uint256 flagOffset,
        bytes memory proof
    ) private pure returns (bool ok, bytes32 root) {
        ok = true;
        assembly ("memory-safe") {
            // Scratch space past the free memory pointer (not allocated).
            let scratch := mload(0x40)
            mstore8(scratch, 0x01)
            // Siblings are consumed from the deepest one up: start at the end of the list.
            let sib := add(add(proof, 0x20), flagOffset)
            for { let i := depth } gt(i, 0) {} {
                i := sub(i, 1)
                let shift := sub(255, i)
                let s := 0
                if and(shr(shift, bitmap), 1) {
                    sib := sub(sib, 0x20)
                    s := mload(sib)
                    if iszero(s) {
                        ok := 0
                        break
                    }
                }
                switch and(shr(shift, key), 1)
                case 0 {
                    mstore(add(scratch, 0x01), h)
                    mstore(add(scratch, 0x21), s)
                }
                default {
                    mstore(add(scratch, 0x01), s)
                    mstore(add(scratch, 0x21), h)
                }
                h := keccak256(scratch, 65)
            }
        }
        if (ok) root = h;
    }

    /// @notice `keccak256(0x00 ‖ key ‖ valueHash)`.
    function leafHash(bytes32 key, bytes32 valueHash) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let scratch := mload(0x40)
            mstore8(scratch, 0x00)
            mstore(add(scratch, 0x01), key)
            mstore(add(scratch, 0x21), valueHash)
            h := keccak256(scratch, 65)
        }
    }

    /// @notice `keccak256(0x01 ‖ left ‖ right)`.
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let scratch := mload(0x40)
            mstore8(scratch, 0x01)
            mstore(add(scratch, 0x01), left)
            mstore(add(scratch, 0x21), right)
            h := keccak256(scratch, 65)
        }
    }

    /// @dev Number of set bits of `x` (0..256).
    function _popcount(uint256 x) private pure returns (uint256) {
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            // Sum bytes pairwise into 16-bit lanes (each <= 16), then all lanes into the top
            // one (<= 256, which a byte could not hold).
            x = (x & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff)
                + ((x >> 8) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff);
            return (x * 0x0001000100010001000100010001000100010001000100010001000100010001) >> 240;
        }
    }
}
