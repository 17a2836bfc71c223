// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {PreimageOracle} from "../../src/fault/PreimageOracle.sol";
import {IPreimageOracle, PreimageKeys} from "../../src/fault/IPreimageOracle.sol";

contract PreimageOracleTest is Test {
    PreimageOracle internal oracle;

    // EIP-4844's point-evaluation example (go-ethereum's precompile tests, also in Optimism's
    // op-program tests): the blob with this commitment evaluates to Y at Z.
    bytes internal constant COMMITMENT =
        hex"8f59a8d2a1a625a17f3fea0fe5eb8c896db3764f3185481bc22f91b4aaffcca25f26936857bc3a7c2539ea8ec3a952b7";
    bytes internal constant KZG_PROOF =
        hex"873033e038326e87ed3e1276fd140253fa08e9fc25fb2d9a98527fc22a2c9612fbeafdad446cbc7bcdbdcd780af2c16a";
    uint256 internal constant Z =
        0x564c0a11a0f704f4fc3e8acfe0f8245f0ad1347b378fbf96e206da11a5d36306;
    uint256 internal constant Y =
        0x24d25032e67a7e6a4910df5834b8fe70e6bcfeeac0352434196bdf4b2485d5a1;

    function setUp() public {
        oracle = new PreimageOracle();
    }

    function _keccakKey(bytes memory p) internal pure returns (bytes32) {
        return PreimageKeys.withType(keccak256(p), PreimageKeys.KECCAK);
    }

    function _bytes(uint256 n) internal pure returns (bytes memory p) {
        p = new bytes(n);
        for (uint256 k = 0; k < n; ++k) {
            p[k] = bytes1(uint8(k + 1));
        }
    }

    /// @dev Bytes [from, from + 32) of the stream of `p`, zero past its end.
    function _part(bytes memory p, uint256 from) internal pure returns (bytes32 w) {
        bytes memory stream = abi.encodePacked(uint64(p.length), p, bytes32(0));
        assembly {
            w := mload(add(add(stream, 32), from))
        }
    }

    function test_keccak_parts_and_their_lengths() public {
        bytes memory p = _bytes(100);
        bytes32 key = _keccakKey(p);
        uint256[5] memory offsets = [uint256(0), 5, 8, 76, 107];
        uint256[5] memory lengths = [uint256(32), 32, 32, 32, 1];
        for (uint256 k = 0; k < offsets.length; ++k) {
            oracle.loadKeccak256PreimagePart(offsets[k], p);
            (bytes32 dat, uint256 len) = oracle.readPreimage(key, offsets[k]);
            assertEq(dat, _part(p, offsets[k]), "the part");
            assertEq(len, lengths[k], "its length");
        }
        (bytes32 first,) = oracle.readPreimage(key, 0);
        assertEq(uint256(first) >> 192, 100, "the stream starts with the length, big-endian");
        assertEq(oracle.streamLength(key), 108);
        assertEq(oracle.preimagePartLengths(key, 107), 1);
        // past the end of a stream whose length is known: nothing
        (bytes32 end, uint256 endLen) = oracle.readPreimage(key, 108);
        assertEq(end, bytes32(0));
        assertEq(endLen, 0);
        (, endLen) = oracle.readPreimage(key, 1 << 40);
        assertEq(endLen, 0);
        // inside it, a part never loaded
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PreimagePartNotLoaded.selector, key, 9)
        );
        oracle.readPreimage(key, 9);
    }

    function test_empty_preimage() public {
        bytes32 key = _keccakKey("");
        assertEq(key, PreimageKeys.withType(keccak256(""), 2));
        oracle.loadKeccak256PreimagePart(0, "");
        (bytes32 dat, uint256 len) = oracle.readPreimage(key, 0);
        assertEq(dat, bytes32(0), "length 0 as 8 bytes, then zero padding");
        assertEq(len, 8);
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PartOffsetOutOfBounds.selector, 8, 8)
        );
        oracle.loadKeccak256PreimagePart(8, "");
    }

    function test_part_offset_must_be_inside_the_stream() public {
        bytes memory p = _bytes(10);
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PartOffsetOutOfBounds.selector, 18, 18)
        );
        oracle.loadKeccak256PreimagePart(18, p);
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PartOffsetOutOfBounds.selector, 1 << 200, 18)
        );
        oracle.loadKeccak256PreimagePart(1 << 200, p);
        oracle.loadKeccak256PreimagePart(17, p);
        (bytes32 dat, uint256 len) = oracle.readPreimage(_keccakKey(p), 17);
        assertEq(dat, bytes32(uint256(10) << 248), "the last byte, then zeros");
        assertEq(len, 1);
    }

    function test_a_preimage_that_does_not_hash_to_its_key_is_refused() public {
        bytes32 key = _keccakKey("hello");
        // the key is computed from the bytes given: other bytes land under their own key
        oracle.loadKeccak256PreimagePart(0, "hellO");
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PreimagePartNotLoaded.selector, key, 0)
        );
        oracle.readPreimage(key, 0);
        (bytes32 dat,) = oracle.readPreimage(_keccakKey("hellO"), 0);
        assertEq(dat, _part("hellO", 0));
        assertEq(oracle.streamLength(key), 0, "nothing under the key");
        oracle.loadKeccak256PreimagePart(0, "hello");
        (dat,) = oracle.readPreimage(key, 0);
        assertEq(dat, _part("hello", 0));
    }

    function test_local_data_is_localized_per_caller_and_context() public {
        bytes32 ctx = keccak256("ctx");
        bytes32 word = keccak256("boot data");
        bytes32 key = oracle.loadLocalData(7, ctx, word, 20, 0);
        bytes32 local = PreimageKeys.localKey(7);
        assertEq(local, bytes32(uint256(1) << 248 | 7), "1, zeros, ident");
        assertEq(key, PreimageKeys.localize(local, address(this), ctx));
        assertEq(key, PreimageKeys.withType(keccak256(abi.encode(local, address(this), ctx)), 1));
        // the preimage is the first 20 bytes of the word
        bytes memory p = new bytes(20);
        for (uint256 k = 0; k < 20; ++k) {
            p[k] = word[k];
        }
        (bytes32 dat, uint256 len) = oracle.readPreimage(key, 0);
        assertEq(dat, _part(p, 0));
        assertEq(len, 28);
        assertEq(oracle.streamLength(key), 28);
        oracle.loadLocalData(7, ctx, word, 20, 27);
        (dat, len) = oracle.readPreimage(key, 27);
        assertEq(dat, bytes32(bytes1(word[19])), "the last byte; the word's rest is not the data");
        assertEq(len, 1);
        // the program's key itself, another caller, another context: nothing there
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PreimagePartNotLoaded.selector, local, 0)
        );
        oracle.readPreimage(local, 0);
        address other = makeAddr("other game");
        vm.prank(other);
        bytes32 otherKey = oracle.loadLocalData(7, ctx, bytes32("other"), 5, 0);
        assertTrue(otherKey != key, "another caller's key");
        (dat,) = oracle.readPreimage(key, 0);
        assertEq(dat, _part(p, 0), "unchanged by the other caller");
        bytes32 otherCtx = PreimageKeys.localize(local, address(this), keccak256("ctx 2"));
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PreimagePartNotLoaded.selector, otherCtx, 0)
        );
        oracle.readPreimage(otherCtx, 0);
    }

    function test_local_data_bounds() public {
        vm.expectRevert(abi.encodeWithSelector(IPreimageOracle.LocalDataTooLong.selector, 33));
        oracle.loadLocalData(1, 0, 0, 33, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PartOffsetOutOfBounds.selector, 12, 12)
        );
        oracle.loadLocalData(1, 0, 0, 4, 12);
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.LocalIdentOutOfRange.selector, 1 << 64)
        );
        oracle.loadLocalData(1 << 64, 0, 0, 4, 0);
        // size 0 and 32
        bytes32 key = oracle.loadLocalData(type(uint64).max, 0, bytes32(type(uint256).max), 0, 0);
        (bytes32 dat, uint256 len) = oracle.readPreimage(key, 0);
        assertEq(dat, bytes32(0));
        assertEq(len, 8);
        key = oracle.loadLocalData(2, 0, bytes32(type(uint256).max), 32, 39);
        (dat, len) = oracle.readPreimage(key, 39);
        assertEq(dat, bytes32(uint256(0xff) << 248));
        assertEq(len, 1);
    }

    function test_blob_field_element() public {
        assertEq(
            bytes32((uint256(sha256(COMMITMENT)) & (type(uint256).max >> 8)) | (1 << 248)),
            0x01e798154708fe7789429634053cbf9f99b619f9f084048927333fce637f549b,
            "the example's versioned hash"
        );
        oracle.loadBlobPreimagePart(Z, Y, COMMITMENT, KZG_PROOF, 8);
        bytes32 key = PreimageKeys.withType(keccak256(abi.encodePacked(COMMITMENT, Z)), 5);
        (bytes32 dat, uint256 len) = oracle.readPreimage(key, 8);
        assertEq(dat, bytes32(Y), "the evaluation, 32 bytes");
        assertEq(len, 32);
        oracle.loadBlobPreimagePart(Z, Y, COMMITMENT, KZG_PROOF, 0);
        (dat, len) = oracle.readPreimage(key, 0);
        assertEq(dat, bytes32((uint256(32) << 192) | (Y >> 64)));
        assertEq(len, 32);
        assertEq(oracle.streamLength(key), 40);
        // the wrong evaluation, point, proof or commitment
        vm.expectRevert(IPreimageOracle.BlobEvaluationFailed.selector);
        oracle.loadBlobPreimagePart(Z, Y + 1, COMMITMENT, KZG_PROOF, 8);
        vm.expectRevert(IPreimageOracle.BlobEvaluationFailed.selector);
        oracle.loadBlobPreimagePart(Z + 1, Y, COMMITMENT, KZG_PROOF, 8);
        vm.expectRevert(IPreimageOracle.BlobEvaluationFailed.selector);
        oracle.loadBlobPreimagePart(Z, Y, COMMITMENT, COMMITMENT, 8);
        vm.expectRevert(IPreimageOracle.BlobEvaluationFailed.selector);
        oracle.loadBlobPreimagePart(Z, Y, KZG_PROOF, KZG_PROOF, 8);
        vm.expectRevert(IPreimageOracle.InvalidBlobInput.selector);
        oracle.loadBlobPreimagePart(Z, Y, hex"00", KZG_PROOF, 8);
        vm.expectRevert(IPreimageOracle.InvalidBlobInput.selector);
        oracle.loadBlobPreimagePart(Z, Y, COMMITMENT, bytes.concat(KZG_PROOF, hex"00"), 8);
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PartOffsetOutOfBounds.selector, 40, 40)
        );
        oracle.loadBlobPreimagePart(Z, Y, COMMITMENT, KZG_PROOF, 40);
    }

    function test_blob_of_the_zero_polynomial() public {
        // the point at infinity commits to the zero blob: 0 everywhere
        bytes memory inf = abi.encodePacked(bytes1(0xc0), new bytes(47));
        oracle.loadBlobPreimagePart(12345, 0, inf, inf, 8);
        bytes32 key = PreimageKeys.withType(keccak256(abi.encodePacked(inf, uint256(12345))), 5);
        (bytes32 dat, uint256 len) = oracle.readPreimage(key, 8);
        assertEq(dat, bytes32(0));
        assertEq(len, 32);
        vm.expectRevert(IPreimageOracle.BlobEvaluationFailed.selector);
        oracle.loadBlobPreimagePart(12345, 1, inf, inf, 8);
    }
}
