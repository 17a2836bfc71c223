// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title IPreimageOracle
/// @notice The preimages the fault-proof machine reads (docs/fault-proofs.md, "Syscalls"), as
///         32-byte parts of each key's stream: the preimage's length as 8 big-endian bytes,
///         then the preimage. A part is loaded once, with what proves it (the bytes that hash
///         to a keccak key, a KZG proof for a blob key, the caller itself for local data), and
///         read by `RiscvStep` when a step reads fd 5.
/// @dev Key types (first byte): 1 local data (stored under `PreimageKeys.localize`), 2 keccak-256,
///      5 blob field element.
interface IPreimageOracle {
    /// @notice `partOffset` is not inside the stream (`8 + preimage length` bytes).
    error PartOffsetOutOfBounds(uint256 partOffset, uint256 streamLength);
    /// @notice Local data is one word at most.
    error LocalDataTooLong(uint256 size);
    /// @notice A local datum's index fills the key's low 8 bytes: it is below 2^64.
    error LocalIdentOutOfRange(uint256 ident);
    /// @notice A KZG commitment or proof that is not 48 bytes.
    error InvalidBlobInput();
    /// @notice The point-evaluation precompile refused: the blob does not evaluate to `y` at `z`.
    error BlobEvaluationFailed();
    /// @notice Nothing was loaded at `offset` of `key`'s stream, nor is its end known to be before.
    error PreimagePartNotLoaded(bytes32 key, uint256 offset);

    /// @notice The 32 bytes of `key`'s stream from `offset` (zero past its end) and how many of
    ///         them are the stream's (`min(32, streamLength - offset)`). Past the end of a
    ///         stream whose length is known (some part of it was loaded) it returns (0, 0).
    /// @dev Reverts with `PreimagePartNotLoaded` when that part was never loaded.
    function readPreimage(bytes32 key, uint256 offset)
        external
        view
        returns (bytes32 dat, uint256 datLen);

    /// @notice Loads the part at `partOffset` of the stream of `preimage` under its keccak key
    ///         (`keccak256(preimage)` with first byte 2): the key is computed from the bytes, so
    ///         no part can be stored under a key the bytes do not hash to.
    function loadKeccak256PreimagePart(uint256 partOffset, bytes calldata preimage) external;

    /// @notice Loads local datum `ident` of the caller's dispute `localContext`: the preimage
    ///         is the first `size` (at most 32) bytes of `word`, stored under
    ///         `PreimageKeys.localize(PreimageKeys.localKey(ident), msg.sender, localContext)`.
    /// @return key the localized key
    function loadLocalData(
        uint256 ident,
        bytes32 localContext,
        bytes32 word,
        uint256 size,
        uint256 partOffset
    ) external returns (bytes32 key);

    /// @notice Loads the evaluation `y` at `z` of the blob with KZG `commitment` (checked with
    ///         `proof` by the point-evaluation precompile) under key
    ///         `5 ‖ keccak256(commitment ‖ z)[1..]`; the preimage is `y` as 32 bytes.
    function loadBlobPreimagePart(
        uint256 z,
        uint256 y,
        bytes calldata commitment,
        bytes calldata proof,
        uint256 partOffset
    ) external;

    /// @notice `8 + preimage length` of `key`, as last loaded; 0 if no part of it was loaded.
    function streamLength(bytes32 key) external view returns (uint256);
}

/// @title PreimageKeys
/// @notice The key types and how keys are made from what they name; shared by the oracle and
///         the step contract so both localize the same way.
library PreimageKeys {
    uint8 internal constant LOCAL = 1;
    uint8 internal constant KECCAK = 2;
    uint8 internal constant BLOB = 5;

    /// @notice The key the program uses for local datum `ident`: `1 ‖ zeros ‖ ident` (ident in
    ///         the low 8 bytes).
    function localKey(uint64 ident) internal pure returns (bytes32) {
        return bytes32((uint256(LOCAL) << 248) | uint256(ident));
    }

    /// @notice Where the oracle keeps a local key for one dispute:
    ///         `keccak256(abi.encode(key, caller, localContext))` with first byte 1, so one
    ///         dispute (caller and context) never sees another's data.
    function localize(bytes32 key, address caller, bytes32 localContext)
        internal
        pure
        returns (bytes32)
    {
        return withType(keccak256(abi.encode(key, caller, localContext)), LOCAL);
    }

    /// @notice `h` with its first byte replaced by `keyType`.
    function withType(bytes32 h, uint8 keyType) internal pure returns (bytes32) {
        return bytes32((uint256(h) & (type(uint256).max >> 8)) | (uint256(keyType) << 248));
    }
}
