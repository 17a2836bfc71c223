// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "../ERC20.sol";

/// @notice What the L2StandardBridge needs of an L2 token.
interface IMintableERC20 {
    /// @notice The bridge allowed to mint and burn.
    function bridge() external view returns (address);
    /// @notice The L1 token this token represents.
    function remoteToken() external view returns (address);
    /// @notice Mints `amount` to `to` (bridge only).
    function mint(address to, uint256 amount) external;
    /// @notice Burns `amount` of `from`'s tokens (bridge only).
    function burn(address from, uint256 amount) external;
}

/// @title MintableERC20
/// @notice The L2 representation of an L1 ERC-20: minted by the L2StandardBridge when a
///         deposit of `remoteToken` arrives, burned by it when tokens are withdrawn.
/// @dev Deployed by the MintableERC20Factory predeploy (CREATE2). The token logic is loft's
///      `ERC20`; `bridge` and `remoteToken` are immutables the bridge checks before minting.
contract MintableERC20 is ERC20, IMintableERC20 {
    /// @notice The bridge minted `amount` to `account`.
    event Mint(address indexed account, uint256 amount);
    /// @notice The bridge burned `amount` from `account`.
    event Burn(address indexed account, uint256 amount);

    /// @notice Only the bridge may mint and burn.
    error OnlyBridge(address caller);

    /// @notice The bridge allowed to mint and burn (the L2StandardBridge).
    address public immutable bridge;
    /// @notice The L1 token this token represents.
    address public immutable remoteToken;

    /// @param bridge_ the account allowed to mint and burn
    /// @param remoteToken_ the L1 token this token represents
    /// @param name_ token name
    /// @param symbol_ token symbol
    /// @param decimals_ decimals (those of the L1 token)
    constructor(
        address bridge_,
        address remoteToken_,
        string memory name_,
        string memory symbol_,
        uint8 decimals_
    ) ERC20(name_, symbol_, decimals_) {
        bridge = bridge_;
        remoteToken = remoteToken_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert OnlyBridge(msg.sender);
        _;
    }

    /// @notice Mints `amount` to `to`. Only the bridge.
    function mint(address to, uint256 amount) external onlyBridge {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _mint(to, amount);
        emit Mint(to, amount);
    }

    /// @notice Burns `amount` of `from`'s tokens (no allowance needed). Only the bridge.
    function burn(address from, uint256 amount) external onlyBridge {
        _burn(from, amount);
        emit Burn(from, amount);
    }
}
