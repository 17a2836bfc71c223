// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "./ERC20.sol";

/// @title LoftToken
/// @notice A minimal, complete ERC-20 token (EIP-20) used on loft devnets and in tests.
/// @dev The token logic is loft's `ERC20`. `mint` is restricted to the owner set in the
///      constructor; ownership can be transferred or renounced.
contract LoftToken is ERC20 {
    /// @notice Emitted when the minting owner changes.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error Unauthorized(address caller);
    error InvalidOwner(address owner);

    address private _owner;

    /// @param name_ token name
    /// @param symbol_ token symbol
    /// @param decimals_ number of decimals (18 for ether-like units)
    /// @param owner_ the account allowed to mint
    /// @param initialSupply amount minted to `owner_` at deployment (may be 0)
    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        address owner_,
        uint256 initialSupply
    ) ERC20(name_, symbol_, decimals_) {
        if (owner_ == address(0)) revert InvalidOwner(address(0));
        _owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
        if (initialSupply != 0) _mint(owner_, initialSupply);
    }

    /// @notice The account allowed to mint (address(0) once renounced).
    function owner() external view returns (address) {
        return _owner;
    }

    /// @notice Mints `value` new tokens to `to`. Only the owner may mint.
    function mint(address to, uint256 value) external {
        if (msg.sender != _owner) revert Unauthorized(msg.sender);
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _mint(to, value);
    }

    /// @notice Destroys `value` of the caller's tokens.
    function burn(uint256 value) external {
        _burn(msg.sender, value);
    }

    /// @notice Hands minting rights to `newOwner` (address(0) renounces them for good).
    function transferOwnership(address newOwner) external {
        address old = _owner;
        if (msg.sender != old) revert Unauthorized(msg.sender);
        _owner = newOwner;
        emit OwnershipTransferred(old, newOwner);
    }
}
