// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {MintableERC20} from "./MintableERC20.sol";
import {L2_STANDARD_BRIDGE} from "./RollupConstants.sol";

/// @title MintableERC20Factory
/// @notice L2 predeploy at 0x4200000000000000000000000000000000000012: deploys the L2
///         representation (a MintableERC20 bridged by the L2StandardBridge predeploy) of an L1
///         token. Anyone may call it; the address depends only on the arguments.
/// @dev Predeploy: placed in the L2 genesis with its runtime code, no constructor runs; it has
///      no storage. CREATE2 salt: `keccak256(abi.encode(remoteToken, name, symbol, decimals))`.
contract MintableERC20Factory {
    /// @notice A MintableERC20 was deployed at `localToken` for the L1 token `remoteToken`.
    event MintableERC20Created(
        address indexed localToken, address indexed remoteToken, address deployer
    );

    /// @notice The remote token is the zero address.
    error ZeroRemoteToken();
    /// @notice A token with these arguments exists already, at `token`.
    error AlreadyDeployed(address token);

    /// @notice The bridge of every token deployed here (the L2StandardBridge predeploy).
    address public constant BRIDGE = L2_STANDARD_BRIDGE;

    /// @notice Deploys the 18-decimal L2 token for `remoteToken`.
    function createMintableERC20(address remoteToken, string calldata name, string calldata symbol)
        external
        returns (address)
    {
        return _create(remoteToken, name, symbol, 18);
    }

    /// @notice Deploys the L2 token for `remoteToken` with `decimals` decimals.
    function createMintableERC20WithDecimals(
        address remoteToken,
        string calldata name,
        string calldata symbol,
        uint8 decimals
    ) external returns (address) {
        return _create(remoteToken, name, symbol, decimals);
    }

    /// @notice The address the token with these arguments has (or will have).
    function computeAddress(
        address remoteToken,
        string calldata name,
        string calldata symbol,
        uint8 decimals
    ) public view returns (address) {
        bytes32 initCodeHash = keccak256(
            abi.encodePacked(
                type(MintableERC20).creationCode,
                abi.encode(BRIDGE, remoteToken, name, symbol, decimals)
            )
        );
        bytes32 salt = keccak256(abi.encode(remoteToken, name, symbol, decimals));
        return address(
            uint160(
                uint256(
                    keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash))
                )
            )
        );
    }

    function _create(
        address remoteToken,
        string calldata name,
        string calldata symbol,
        uint8 decimals
    ) private returns (address token) {
        if (remoteToken == address(0)) revert ZeroRemoteToken();
        address expected = computeAddress(remoteToken, name, symbol, decimals);
        if (expected.code.length != 0) revert AlreadyDeployed(expected);
        bytes32 salt = keccak256(abi.encode(remoteToken, name, symbol, decimals));
        token = address(new MintableERC20{salt: salt}(BRIDGE, remoteToken, name, symbol, decimals));
        emit MintableERC20Created(token, remoteToken, msg.sender);
    }
}
