// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title RiscvMemory
/// @notice The fault-proof machine's memory as a step sees it (docs/fault-proofs.md,
///         "Memory"): a binary keccak Merkle tree of 2^27 leaves of 32 bytes (leaf `i` holds
///         bytes `[32i, 32i + 32)` as they are; a node is `keccak256(left ‖ right)`), and the
///         little-endian byte access the machine makes inside one leaf.
/// @dev A memory proof is 896 bytes of calldata: the leaf, then its 27 siblings from the
///      leaf's up to the root's children. Byte `j` of a leaf is byte `j` of the `bytes32` (the
///      most significant first).
library RiscvMemory {
    /// @notice Depth of the tree.
    uint256 internal constant DEPTH = 27;
    /// @notice Bytes of one memory proof.
    uint256 internal constant PROOF_BYTES = 32 * (DEPTH + 1);

    /// @notice The root the proof at calldata offset `proofAt` leads to for leaf `leafIndex`
    ///         holding `leaf`: with the proven bytes the root it was made under, with new bytes
    ///         the root after a write.
    function rootWith(uint256 proofAt, uint256 leafIndex, bytes32 leaf)
        internal
        pure
        returns (bytes32 node)
    {
        assembly ("memory-safe") {
            node := leaf
            let p := add(proofAt, 32)
            for { let end := add(p, mul(32, DEPTH)) } lt(p, end) { p := add(p, 32) } {
                // the index's low bit says which side the path is on at this height
                switch and(leafIndex, 1)
                case 0 {
                    mstore(0x00, node)
                    mstore(0x20, calldataload(p))
                }
                default {
                    mstore(0x00, calldataload(p))
                    mstore(0x20, node)
                }
                node := keccak256(0x00, 0x40)
                leafIndex := shr(1, leafIndex)
            }
        }
    }

    /// @notice The `n` bytes (1 to 4) at byte `pos` of `leaf`, little-endian.
    function readLE(bytes32 leaf, uint256 pos, uint256 n) internal pure returns (uint256 v) {
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                v := or(v, shl(mul(8, k), byte(add(pos, k), leaf)))
            }
        }
    }

    /// @notice `leaf` with the low `n` bytes of `v` written at byte `pos`, little-endian.
    function writeLE(bytes32 leaf, uint256 pos, uint256 n, uint256 v)
        internal
        pure
        returns (bytes32 out)
    {
        assembly ("memory-safe") {
            out := leaf
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let shift := sub(248, mul(8, add(pos, k)))
                let b := and(shr(mul(8, k), v), 0xff)
                out := or(and(out, not(shl(shift, 0xff))), shl(shift, b))
            }
        }
    }

    /// @notice The `n` bytes (1 to 32) at byte `pos` of `leaf` as a big-endian number
    ///         (`pos + n <= 32`).
    function readBE(bytes32 leaf, uint256 pos, uint256 n) internal pure returns (uint256) {
        return (uint256(leaf) << (8 * pos)) >> (256 - 8 * n);
    }

    /// @notice `leaf` with its bytes `[pos, pos + n)` replaced by the first `n` bytes of `data`
    ///         (`pos + n <= 32`, `n >= 1`).
    function writeBE(bytes32 leaf, uint256 pos, uint256 n, bytes32 data)
        internal
        pure
        returns (bytes32)
    {
        uint256 top = type(uint256).max << (256 - 8 * n); // the first n bytes
        uint256 mask = top >> (8 * pos);
        return bytes32((uint256(leaf) & ~mask) | ((uint256(data) & top) >> (8 * pos)));
    }
}
