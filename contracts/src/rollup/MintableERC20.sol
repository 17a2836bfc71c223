// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

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
/// @dev Deployed by the MintableERC20Factory predeploy (CREATE2). Errors follow ERC-6093.
///      `bridge` and `remoteToken` are immutables; the bridge checks both before minting.
contract MintableERC20 is IMintableERC20 {
    // ------------------------------------------------------------------ events

    /// @notice EIP-20 transfer event; also emitted for mints (from = 0) and burns (to = 0).
    event Transfer(address indexed from, address indexed to, uint256 value);
    /// @notice EIP-20 approval event.
    event Approval(address indexed owner, address indexed spender, uint256 value);
    /// @notice The bridge minted `amount` to `account`.
    event Mint(address indexed account, uint256 amount);
    /// @notice The bridge burned `amount` from `account`.
    event Burn(address indexed account, uint256 amount);

    // ------------------------------------------------------------------ errors

    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error ERC20InvalidSender(address sender);
    error ERC20InvalidReceiver(address receiver);
    error ERC20InvalidSpender(address spender);
    /// @notice Only the bridge may mint and burn.
    error OnlyBridge(address caller);

    // ------------------------------------------------------------------ configuration

    /// @notice The bridge allowed to mint and burn (the L2StandardBridge).
    address public immutable bridge;
    /// @notice The L1 token this token represents.
    address public immutable remoteToken;
    uint8 private immutable _decimals;

    // ------------------------------------------------------------------ storage

    string private _name;
    string private _symbol;
    uint256 private _totalSupply;
    mapping(address account => uint256) private _balances;
    mapping(address account => mapping(address spender => uint256)) private _allowances;

    // ------------------------------------------------------------------ constructor

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
    ) {
        bridge = bridge_;
        remoteToken = remoteToken_;
        _name = name_;
        _symbol = symbol_;
        _decimals = decimals_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert OnlyBridge(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ bridge

    /// @notice Mints `amount` to `to`. Only the bridge.
    function mint(address to, uint256 amount) external onlyBridge {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _totalSupply += amount; // checked: reverts on overflow
        unchecked {
            _balances[to] += amount; // bounded by totalSupply
        }
        emit Transfer(address(0), to, amount);
        emit Mint(to, amount);
    }

    /// @notice Burns `amount` of `from`'s tokens (no allowance needed). Only the bridge.
    function burn(address from, uint256 amount) external onlyBridge {
        uint256 balance = _balances[from];
        if (balance < amount) revert ERC20InsufficientBalance(from, balance, amount);
        unchecked {
            _balances[from] = balance - amount;
            _totalSupply -= amount; // totalSupply >= balance >= amount
        }
        emit Transfer(from, address(0), amount);
        emit Burn(from, amount);
    }

    // ------------------------------------------------------------------ ERC-20

    function name() external view returns (string memory) {
        return _name;
    }

    function symbol() external view returns (string memory) {
        return _symbol;
    }

    function decimals() external view returns (uint8) {
        return _decimals;
    }

    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @dev type(uint256).max is an infinite allowance: transferFrom does not decrease it.
    function approve(address spender, uint256 value) external returns (bool) {
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 current = _allowances[from][msg.sender];
        if (current != type(uint256).max) {
            if (current < value) revert ERC20InsufficientAllowance(msg.sender, current, value);
            unchecked {
                _allowances[from][msg.sender] = current - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 fromBalance = _balances[from];
        if (fromBalance < value) revert ERC20InsufficientBalance(from, fromBalance, value);
        unchecked {
            _balances[from] = fromBalance - value;
            _balances[to] += value;
        }
        emit Transfer(from, to, value);
    }
}
