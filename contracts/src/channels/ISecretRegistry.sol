// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title ISecretRegistry
/// @notice Where the secrets of hash-time locks are published on L1, so that one registration
///         before a lock's expiration makes that lock (and every lock of the same payment on
///         other hops) claimable in a settled channel.
interface ISecretRegistry {
    /// @notice `secret` was registered for the first time; `secrethash = keccak256(secret)`.
    event SecretRevealed(bytes32 indexed secrethash, bytes32 secret);

    /// @notice Registers `secret` at the current block.
    /// @return newlyRegistered false when it was registered before (the first block is kept)
    function registerSecret(bytes32 secret) external returns (bool newlyRegistered);

    /// @notice Registers several secrets in one transaction.
    /// @return allNew whether every one of them was new
    function registerSecretBatch(bytes32[] calldata secrets) external returns (bool allNew);

    /// @notice The block in which the secret of `secrethash` was first registered, 0 if never.
    function revealBlock(bytes32 secrethash) external view returns (uint256);
}
