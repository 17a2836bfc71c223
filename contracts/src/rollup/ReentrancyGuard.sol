// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title ReentrancyGuard
/// @notice Refuses nested calls into functions marked `nonReentrant`.
/// @dev The lock lives in transient storage (EIP-1153, Cancun and later): it costs ~200 gas,
///      is cleared at the end of every transaction, and occupies no storage slot, so it does
///      not disturb the documented storage layout of the predeploys that inherit it.
abstract contract ReentrancyGuard {
    /// @notice A `nonReentrant` function was entered while another one was running.
    error ReentrantCall();

    bool private transient _entered;

    modifier nonReentrant() {
        if (_entered) revert ReentrantCall();
        _entered = true;
        _;
        _entered = false;
    }
}
