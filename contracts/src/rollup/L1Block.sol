// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {L1_INFO_DEPOSITOR} from "./RollupConstants.sol";

/// @title L1Block
/// @notice L2 predeploy at 0x4200000000000000000000000000000000000015: the L1 origin of the
///         current L2 block, written by the L1 info deposit that starts every L2 block (sent by
///         the system account 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001).
/// @dev Predeploy: placed in the L2 genesis with its runtime code, no constructor runs.
///      Storage layout:
///        slot 0: `number` (uint64, bytes 24..31) and `timestamp` (uint64, bytes 16..23),
///                i.e. `slot0 = timestamp << 64 | number`
///        slot 1: `basefee`
///        slot 2: `hash`
///        slot 3: `blobBaseFee`
///        slot 4: `batcherHash`
///      The genesis may leave them zero (the first L2 block's L1 info deposit sets them) or
///      set them to the L1 origin of the genesis block.
contract L1Block {
    /// @notice The caller is not the L1 info depositor.
    error OnlyDepositor(address caller);

    /// @notice The L1 info depositor (system account) allowed to write the values.
    address public constant DEPOSITOR_ACCOUNT = L1_INFO_DEPOSITOR;

    /// @notice Number of the L1 origin block.
    uint64 public number;
    /// @notice Timestamp of the L1 origin block.
    uint64 public timestamp;
    /// @notice Base fee of the L1 origin block.
    uint256 public basefee;
    /// @notice Hash of the L1 origin block.
    bytes32 public hash;
    /// @notice Blob base fee of the L1 origin block.
    uint256 public blobBaseFee;
    /// @notice The batcher that posts this chain's batches (its address, left-padded).
    bytes32 public batcherHash;

    /// @notice Sets the L1 origin of the current L2 block. Only the L1 info depositor.
    /// @param number_ L1 block number
    /// @param timestamp_ L1 block timestamp
    /// @param basefee_ L1 base fee
    /// @param hash_ L1 block hash
    /// @param blobBaseFee_ L1 blob base fee
    /// @param batcherHash_ the batcher's address, left-padded to 32 bytes
    function setL1BlockValues(
        uint64 number_,
        uint64 timestamp_,
        uint256 basefee_,
        bytes32 hash_,
        uint256 blobBaseFee_,
        bytes32 batcherHash_
    ) external {
        if (msg.sender != DEPOSITOR_ACCOUNT) revert OnlyDepositor(msg.sender);
        number = number_;
        timestamp = timestamp_;
        basefee = basefee_;
        hash = hash_;
        blobBaseFee = blobBaseFee_;
        batcherHash = batcherHash_;
    }
}
