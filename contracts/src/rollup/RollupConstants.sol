// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice Addresses and constants of loft's optimistic rollup (docs/rollup.md, "Addresses and
///         constants"). File-level constants and free functions: importing them adds no
///         contract (and no artifact).

/// @dev L2 `L2StandardBridge` predeploy.
address constant L2_STANDARD_BRIDGE = 0x4200000000000000000000000000000000000010;
/// @dev L2 `SequencerFeeVault` predeploy (receives the L2 priority fees).
address constant SEQUENCER_FEE_VAULT = 0x4200000000000000000000000000000000000011;
/// @dev L2 `MintableERC20Factory` predeploy.
address constant MINTABLE_ERC20_FACTORY = 0x4200000000000000000000000000000000000012;
/// @dev L2 `L1Block` predeploy (L1 origin info).
address constant L1_BLOCK = 0x4200000000000000000000000000000000000015;
/// @dev L2 `L2ToL1MessagePasser` predeploy.
address constant L2_TO_L1_MESSAGE_PASSER = 0x4200000000000000000000000000000000000016;
/// @dev L2 `L1FeeVault` predeploy (receives the L1 data fees).
address constant L1_FEE_VAULT = 0x420000000000000000000000000000000000001A;
/// @dev The system account that sends the L1 info deposit of every L2 block.
address constant L1_INFO_DEPOSITOR = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;
/// @dev Offset added (mod 2^160) to the address of an L1 contract that deposits.
uint160 constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);

/// @notice The L2 sender of a deposit made by the L1 contract `l1Address`:
///         `l1Address + 0x1111000000000000000000000000000000001111 (mod 2^160)`.
function applyL1ToL2Alias(address l1Address) pure returns (address l2Address) {
    unchecked {
        l2Address = address(uint160(l1Address) + ALIAS_OFFSET);
    }
}

/// @notice The inverse of `applyL1ToL2Alias`.
function undoL1ToL2Alias(address l2Address) pure returns (address l1Address) {
    unchecked {
        l1Address = address(uint160(l2Address) - ALIAS_OFFSET);
    }
}
