// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {SparseMerkleProof} from "../../src/rollup/SparseMerkleProof.sol";
import {SmtVectors} from "./SmtVectors.sol";

/// @dev Exposes the library with calldata proofs, as the portal uses it.
contract SmtHarness {
    function verifyInclusion(bytes32 root, bytes32 key, bytes32 value, bytes calldata proof)
        external
        pure
        returns (bool)
    {
        return SparseMerkleProof.verifyInclusion(root, key, value, proof);
    }

    function verifyExclusion(bytes32 root, bytes32 key, bytes calldata proof)
        external
        pure
        returns (bool)
    {
        return SparseMerkleProof.verifyExclusion(root, key, proof);
    }

    function computeRoot(bytes32 key, bytes32 value, bool inclusion, bytes calldata proof)
        external
        pure
        returns (bool, bytes32)
    {
        return SparseMerkleProof.computeRoot(key, value, inclusion, proof);
    }
}

contract SparseMerkleProofTest is Test {
    SmtHarness internal harness;

    function setUp() public {
        harness = new SmtHarness();
    }

    function _check(SmtVectors.Vector memory v) internal view returns (bool) {
        return v.inclusion
            ? harness.verifyInclusion(v.root, v.key, v.value, v.proof)
            : harness.verifyExclusion(v.root, v.key, v.proof);
    }

    /// Every vector computed by the Rust tree gets the same verdict here.
    function test_RustVectors() public view {
        uint256 valid;
        for (uint256 i = 0; i < SmtVectors.COUNT; i++) {
            SmtVectors.Vector memory v = SmtVectors.get(i);
            assertEq(_check(v), v.valid, v.name);
            if (v.valid) valid++;
        }
        // Sanity: the file has both kinds.
        assertTrue(valid >= 15 && SmtVectors.COUNT - valid >= 25, "vector mix");
    }

    /// For valid vectors, computeRoot returns the root itself.
    function test_ComputeRootOfValidVectors() public view {
        for (uint256 i = 0; i < SmtVectors.COUNT; i++) {
            SmtVectors.Vector memory v = SmtVectors.get(i);
            if (!v.valid) continue;
            (bool ok, bytes32 root) = harness.computeRoot(v.key, v.value, v.inclusion, v.proof);
            assertTrue(ok, v.name);
            assertEq(root, v.root);
        }
    }

    /// Every strict prefix and every one-byte extension of a valid proof is refused, without
    /// reverting (no out-of-bounds read).
    function test_TruncationsAndExtensionsRefused() public view {
        for (uint256 i = 0; i < SmtVectors.COUNT; i++) {
            SmtVectors.Vector memory v = SmtVectors.get(i);
            if (!v.valid || v.proof.length > 1000) continue;
            bytes memory p = v.proof;
            for (uint256 n = 0; n < p.length; n++) {
                bytes memory cut = new bytes(n);
                for (uint256 j = 0; j < n; j++) {
                    cut[j] = p[j];
                }
                v.proof = cut;
                assertFalse(_check(v), v.name);
            }
            v.proof = bytes.concat(p, hex"00");
            assertFalse(_check(v), v.name);
        }
    }

    /// Flipping any single bit of a valid proof breaks it.
    function test_BitFlipsRefused() public view {
        SmtVectors.Vector memory v = SmtVectors.get(_find("300 keys, key 150"));
        bytes memory p = v.proof;
        for (uint256 j = 0; j < p.length; j++) {
            for (uint256 b = 0; b < 8; b++) {
                bytes memory q = bytes.concat(p);
                q[j] = q[j] ^ bytes1(uint8(1 << b));
                v.proof = q;
                assertFalse(_check(v), "bit flip accepted");
            }
        }
    }

    /// Arbitrary bytes never revert and (but for a keccak collision) never verify.
    function testFuzz_GarbageNeverReverts(
        bytes32 root,
        bytes32 key,
        bytes32 value,
        bytes memory proof
    ) public view {
        assertFalse(harness.verifyInclusion(root, key, value, proof));
        assertFalse(harness.verifyExclusion(root, key, proof));
    }

    /// Garbage behind a well-formed header (depth <= 256, bitmap within the depth with its
    /// last bit set) is refused too.
    function testFuzz_GarbageWithHeader(uint256 depth, uint256 bitmap, bytes memory rest)
        public
        view
    {
        depth = bound(depth, 0, 256);
        bitmap = depth == 0 ? 0 : (bitmap & ~(type(uint256).max >> depth)) | (1 << (256 - depth));
        bytes memory proof = bytes.concat(bytes2(uint16(depth)), bytes32(bitmap), rest);
        assertFalse(
            harness.verifyInclusion(bytes32(uint256(1)), bytes32(0), bytes32(uint256(2)), proof)
        );
        assertFalse(harness.verifyExclusion(bytes32(uint256(1)), bytes32(0), proof));
    }

    function test_HashesMatchSpec() public pure {
        bytes32 k = keccak256("k");
        bytes32 v = keccak256("v");
        assertEq(SparseMerkleProof.leafHash(k, v), keccak256(abi.encodePacked(uint8(0), k, v)));
        assertEq(SparseMerkleProof.nodeHash(k, v), keccak256(abi.encodePacked(uint8(1), k, v)));
    }

    function test_GasFullDepthProof() public view {
        SmtVectors.Vector memory v = SmtVectors.get(_find("full depth: 256 non-zero siblings"));
        assertEq(v.proof.length, 8227);
        uint256 g = gasleft();
        assertTrue(harness.verifyInclusion(v.root, v.key, v.value, v.proof));
        g -= gasleft();
        assertTrue(g < 200_000, "full-depth proof too expensive");
    }

    function _find(string memory name) internal pure returns (uint256) {
        for (uint256 i = 0; i < SmtVectors.COUNT; i++) {
            if (keccak256(bytes(SmtVectors.get(i).name)) == keccak256(bytes(name))) return i;
        }
        revert("no such vector");
    }
}
