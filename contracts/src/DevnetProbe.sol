// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title DevnetProbe
/// @notice Tiny contract used by client tests (tests/clients/) to exercise a node's
///         JSON-RPC: deployment, transactions, storage reads, logs, revert data.
/// @dev The storage layout is part of its interface (tests read the slots directly):
///        slot 0: `value`   (uint256)
///        slot 1: `label`   (string; short strings are stored inline, length*2 in the low byte)
///        slot 2: `lastSetter` (address)
///        slot 3: `setCount` (uint256)
///      Do not reorder these variables.
contract DevnetProbe {
    /// @notice Emitted by `set` and `setLabel`.
    event ValueSet(address indexed who, uint256 value);
    event LabelSet(address indexed who, string label);

    /// @notice Raised by `set(0)`.
    error ZeroValue();

    uint256 public value; // slot 0
    string public label; // slot 1
    address public lastSetter; // slot 2
    uint256 public setCount; // slot 3

    constructor() {
        label = "loft";
    }

    /// @notice Stores `newValue` in slot 0. Reverts with `ZeroValue()` when it is 0.
    function set(uint256 newValue) external {
        if (newValue == 0) revert ZeroValue();
        value = newValue;
        lastSetter = msg.sender;
        unchecked {
            ++setCount;
        }
        emit ValueSet(msg.sender, newValue);
    }

    /// @notice Stores `newLabel` in slot 1. Reverts with the reason string
    ///         "DevnetProbe: empty label" (Error(string) revert data) when empty.
    function setLabel(string calldata newLabel) external {
        require(bytes(newLabel).length != 0, "DevnetProbe: empty label");
        label = newLabel;
        emit LabelSet(msg.sender, newLabel);
    }

    /// @notice Pure helper for eth_call / eth_estimateGas tests.
    function double(uint256 x) external pure returns (uint256) {
        return x * 2;
    }

    /// @notice Returns chain data as seen by the EVM (for eth_call tests).
    function env() external view returns (uint256 chainId, uint256 blockNumber, uint256 timestamp) {
        return (block.chainid, block.number, block.timestamp);
    }
}
