// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ISecretRegistry} from "./ISecretRegistry.sol";

/// @title SecretRegistry
/// @notice Global registry of hash-lock secrets (docs/channels.md §2.1, after Raiden's
///         `SecretRegistry`): `secrethash = keccak256(abi.encodePacked(secret))`. Registration is
///         permissionless and global, so a single registration serves every hop of a payment.
contract SecretRegistry is ISecretRegistry {
    /// @dev secrethash => block of the first registration.
    mapping(bytes32 => uint256) private _revealBlock;

    /// @inheritdoc ISecretRegistry
    function registerSecret(bytes32 secret) public returns (bool newlyRegistered) {
        bytes32 secrethash = keccak256(abi.encodePacked(secret));
        if (_revealBlock[secrethash] != 0) return false;
        _revealBlock[secrethash] = block.number;
        emit SecretRevealed(secrethash, secret);
        return true;
    }

    /// @inheritdoc ISecretRegistry
    function registerSecretBatch(bytes32[] calldata secrets) external returns (bool allNew) {
        allNew = true;
        for (uint256 i = 0; i < secrets.length; ++i) {
            if (!registerSecret(secrets[i])) allNew = false;
        }
    }

    /// @inheritdoc ISecretRegistry
    function revealBlock(bytes32 secrethash) external view returns (uint256) {
        return _revealBlock[secrethash];
    }
}
