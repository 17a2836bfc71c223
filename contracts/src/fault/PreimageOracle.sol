// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IPreimageOracle, PreimageKeys} from "./IPreimageOracle.sol";

/// @title PreimageOracle
/// @notice The preimages of the fault-proof machine on L1 (docs/fault-proofs.md, "Syscalls"),
///         one 32-byte part of a key's stream at a time. The stream of a preimage is its length
///         as 8 big-endian bytes, then the preimage; part `o` is its bytes `[o, o + 32)`,
///         zero-padded past the end. Each load proves what it stores (see the functions), so
///         anyone may load; `RiscvStep` only reads.
/// @dev After Optimism's `PreimageOracle` (keccak, local and blob parts), without the large
///      preimage proposals.
contract PreimageOracle is IPreimageOracle {
    /// @dev Bytes of the length prefix of a stream.
    uint256 private constant PREFIX = 8;
    /// @dev The point-evaluation precompile (EIP-4844).
    address private constant POINT_EVALUATION = address(0x0a);
    /// @dev Its price (EIP-4844). A failing precompile burns all the gas it is given, so it is
    ///      given only this: a refused load costs 50,000, not the transaction's gas.
    uint256 private constant POINT_EVALUATION_GAS = 50_000;
    /// @dev `BLS_MODULUS` as the precompile returns it (its second word), for the check below.
    uint256 private constant BLS_MODULUS =
        0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;

    /// @notice The 32 bytes of a key's stream at an offset, once loaded.
    mapping(bytes32 key => mapping(uint256 offset => bytes32)) public preimageParts;
    /// @notice How many of those bytes are the stream's (1 to 32); 0: not loaded.
    mapping(bytes32 key => mapping(uint256 offset => uint256)) public preimagePartLengths;
    /// @dev `8 + preimage length` of a key, set by every load; 0: nothing loaded under it.
    mapping(bytes32 key => uint256) private _streamLengths;

    /// @inheritdoc IPreimageOracle
    function readPreimage(bytes32 key, uint256 offset)
        external
        view
        returns (bytes32 dat, uint256 datLen)
    {
        datLen = preimagePartLengths[key][offset];
        if (datLen != 0) return (preimageParts[key][offset], datLen);
        // the end of the stream: a read there finds nothing, which the length already proves
        uint256 len = _streamLengths[key];
        if (len != 0 && offset >= len) return (bytes32(0), 0);
        revert PreimagePartNotLoaded(key, offset);
    }

    /// @inheritdoc IPreimageOracle
    function streamLength(bytes32 key) external view returns (uint256) {
        return _streamLengths[key];
    }

    /// @inheritdoc IPreimageOracle
    function loadKeccak256PreimagePart(uint256 partOffset, bytes calldata preimage) external {
        uint256 len = preimage.length;
        if (partOffset >= PREFIX + len) revert PartOffsetOutOfBounds(partOffset, PREFIX + len);
        bytes32 hash;
        bytes32 part;
        assembly ("memory-safe") {
            // the stream in free memory (not kept): prefix, preimage, 32 zero bytes of padding
            let p := mload(0x40)
            mstore(p, shl(192, len))
            calldatacopy(add(p, PREFIX), preimage.offset, len)
            mstore(add(add(p, PREFIX), len), 0)
            hash := keccak256(add(p, PREFIX), len)
            part := mload(add(p, partOffset))
        }
        _store(PreimageKeys.withType(hash, PreimageKeys.KECCAK), partOffset, part, PREFIX + len);
    }

    /// @inheritdoc IPreimageOracle
    function loadLocalData(
        uint256 ident,
        bytes32 localContext,
        bytes32 word,
        uint256 size,
        uint256 partOffset
    ) external returns (bytes32 key) {
        if (ident > type(uint64).max) revert LocalIdentOutOfRange(ident);
        if (size > 32) revert LocalDataTooLong(size);
        if (partOffset >= PREFIX + size) revert PartOffsetOutOfBounds(partOffset, PREFIX + size);
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes32 local = PreimageKeys.localKey(uint64(ident)); // ident < 2^64: checked above
        key = PreimageKeys.localize(local, msg.sender, localContext);
        _store(key, partOffset, _wordPart(word, size, partOffset), PREFIX + size);
    }

    /// @inheritdoc IPreimageOracle
    function loadBlobPreimagePart(
        uint256 z,
        uint256 y,
        bytes calldata commitment,
        bytes calldata proof,
        uint256 partOffset
    ) external {
        if (commitment.length != 48 || proof.length != 48) {
            revert InvalidBlobInput();
        }
        if (partOffset >= PREFIX + 32) revert PartOffsetOutOfBounds(partOffset, PREFIX + 32);
        // versioned hash 0x01 ‖ sha256(commitment)[1..]; the precompile checks it against the
        // commitment, z and y below the BLS modulus, and the KZG proof
        bytes32 versionedHash =
            bytes32((uint256(sha256(commitment)) & (type(uint256).max >> 8)) | (uint256(1) << 248));
        (bool ok, bytes memory out) = POINT_EVALUATION.staticcall{gas: POINT_EVALUATION_GAS}(
            abi.encodePacked(versionedHash, z, y, commitment, proof)
        );
        // a call to an address without code (a chain without the precompile) succeeds with no
        // output: require the precompile's answer, not just success
        if (!ok || out.length != 64 || abi.decode(out, (uint256[2]))[1] != BLS_MODULUS) {
            revert BlobEvaluationFailed();
        }
        bytes32 key =
            PreimageKeys.withType(keccak256(abi.encodePacked(commitment, z)), PreimageKeys.BLOB);
        _store(key, partOffset, _wordPart(bytes32(y), 32, partOffset), PREFIX + 32);
    }

    /// @dev Part `partOffset` of the stream of the first `size` bytes of `word`.
    function _wordPart(bytes32 word, uint256 size, uint256 partOffset)
        private
        pure
        returns (bytes32 part)
    {
        // only the first `size` bytes are the preimage (size 0 keeps none: a shift by 256 is 0)
        bytes32 kept = word & bytes32(type(uint256).max << (256 - 8 * size));
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(192, size))
            mstore(add(p, PREFIX), kept)
            mstore(add(p, add(PREFIX, 32)), 0)
            part := mload(add(p, partOffset))
        }
    }

    function _store(bytes32 key, uint256 partOffset, bytes32 part, uint256 streamLen) private {
        preimageParts[key][partOffset] = part;
        uint256 left = streamLen - partOffset;
        preimagePartLengths[key][partOffset] = left < 32 ? left : 32;
        _streamLengths[key] = streamLen;
    }
}
