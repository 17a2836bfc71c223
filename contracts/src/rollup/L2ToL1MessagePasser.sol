// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title L2ToL1MessagePasser
/// @notice L2 predeploy at 0x4200000000000000000000000000000000000016. Sends withdrawals
///         (L2 → L1 messages, with ETH): each one is recorded as
///         `sentMessages[withdrawalHash] = true`, which the RollupPortal on L1 checks with a
///         storage proof against an output root (docs/rollup.md, "Withdrawals").
/// @dev Predeploy: placed in the L2 genesis with its runtime code, no constructor runs.
///      Storage layout (consensus: the portal proves slot 0's mapping entries):
///        slot 0: `mapping(bytes32 => bool) sentMessages`, entry `withdrawalHash` at
///                `keccak256(abi.encode(withdrawalHash, uint256(0)))`, holding 1
///        slot 1: `uint256 messageNonce`, the nonce of the next withdrawal
///      The genesis needs no storage (both start at zero). ETH sent with withdrawals stays in
///      this contract's balance (it is released on L1 by the portal).
contract L2ToL1MessagePasser {
    /// @notice A withdrawal was sent.
    /// @param nonce its nonce (counts from 0)
    /// @param sender the L2 caller
    /// @param target the L1 account it calls
    /// @param value the wei it carries
    /// @param gasLimit the gas its L1 call gets
    /// @param data the calldata of the L1 call
    /// @param withdrawalHash `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Gas limit of the withdrawal made by `receive()`.
    uint256 public constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;

    /// @notice Withdrawals sent (slot 0).
    mapping(bytes32 withdrawalHash => bool) public sentMessages;
    /// @notice The nonce of the next withdrawal (slot 1).
    uint256 public messageNonce;

    /// @notice Plain ETH sent here is withdrawn to the sender's address on L1.
    receive() external payable {
        initiateWithdrawal(msg.sender, RECEIVE_DEFAULT_GAS_LIMIT, bytes(""));
    }

    /// @notice Sends a withdrawal: once an output covering this block is posted and the
    ///         finalization period has passed, the portal calls `target` on L1 with
    ///         `msg.value`, `gasLimit` gas and `data`, with `l2Sender() == msg.sender`.
    /// @param target the L1 account to call
    /// @param gasLimit the gas the L1 call gets
    /// @param data the calldata of the L1 call
    function initiateWithdrawal(address target, uint256 gasLimit, bytes memory data)
        public
        payable
    {
        uint256 nonce = messageNonce;
        bytes32 withdrawalHash =
            keccak256(abi.encode(nonce, msg.sender, target, msg.value, gasLimit, data));
        sentMessages[withdrawalHash] = true;
        messageNonce = nonce + 1;
        emit MessagePassed(nonce, msg.sender, target, msg.value, gasLimit, data, withdrawalHash);
    }
}
