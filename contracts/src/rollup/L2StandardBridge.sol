// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {L1StandardBridge} from "./L1StandardBridge.sol";
import {L2ToL1MessagePasser} from "./L2ToL1MessagePasser.sol";
import {IMintableERC20} from "./MintableERC20.sol";
import {ReentrancyGuard} from "./ReentrancyGuard.sol";
import {L2_TO_L1_MESSAGE_PASSER, applyL1ToL2Alias} from "./RollupConstants.sol";

/// @title L2StandardBridge
/// @notice L2 predeploy at 0x4200000000000000000000000000000000000010, the L2 half of the
///         ERC-20 bridge. Deposits locked in the L1StandardBridge arrive as deposit
///         transactions from the (aliased) L1 bridge calling `finalizeDeposit`, which mints the
///         L2 token; `withdraw`/`withdrawTo` burn it and send a withdrawal through the
///         L2ToL1MessagePasser that calls `L1StandardBridge.finalizeERC20Withdrawal` on L1.
/// @dev Predeploy: placed in the L2 genesis with its runtime code, no constructor runs.
///      Storage layout (the genesis must set slot 0):
///        slot 0: `otherBridge`, the L1StandardBridge address (left-padded)
///      The reentrancy lock is in transient storage and takes no slot.
///      L2 tokens are MintableERC20s (any contract whose `bridge()` is this bridge and whose
///      `remoteToken()` is the L1 token qualifies). A deposit for a wrong pair (or to address
///      zero, or whose mint fails) is bounced: the amount is sent back to the L1 depositor
///      through a withdrawal, so tokens locked on L1 are never stranded. ETH is not bridged
///      here: use the portal and the message passer directly.
contract L2StandardBridge is ReentrancyGuard {
    // ------------------------------------------------------------------ events

    /// @notice A deposit was minted on L2.
    event DepositFinalized(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    /// @notice A deposit could not be minted and was sent back to `from` on L1.
    event DepositFailed(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    /// @notice Tokens were burned on L2 and a withdrawal to `to` on L1 was sent.
    event WithdrawalInitiated(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );

    // ------------------------------------------------------------------ errors

    /// @notice The caller is not the aliased L1 bridge.
    error Unauthorized(address caller);
    /// @notice `withdraw` was called by a contract (its address may not be its own on L1).
    error NotEOA(address caller);
    /// @notice The token is not a MintableERC20 of this bridge.
    error NotMintableToken(address token);
    /// @notice The L1 recipient is the zero address.
    error ZeroRecipient();

    // ------------------------------------------------------------------ constants

    /// @notice The message passer predeploy withdrawals go through.
    L2ToL1MessagePasser public constant MESSAGE_PASSER =
        L2ToL1MessagePasser(payable(L2_TO_L1_MESSAGE_PASSER));
    /// @notice L1 gas added to the caller's `minGasLimit` for the L1 bridge's own work
    ///         (authentication, accounting, the token transfer).
    uint256 public constant WITHDRAWAL_GAS_OVERHEAD = 200_000;
    /// @notice L1 gas limit of a bounced deposit's withdrawal.
    uint256 public constant BOUNCE_GAS_LIMIT = 200_000;
    /// @dev Gas given to each `bridge()`/`remoteToken()` probe of a candidate token.
    uint256 private constant PROBE_GAS = 30_000;

    // ------------------------------------------------------------------ storage

    /// @notice The L1StandardBridge (slot 0, set in the L2 genesis).
    address public otherBridge;

    // ------------------------------------------------------------------ deposits

    /// @notice Completes a deposit from L1: mints `amount` of `l2Token` to `to`, or bounces it
    ///         back to `from` on L1 if `l2Token` is not this bridge's token for `l1Token`.
    /// @dev Only callable by the L1 bridge, i.e. by `applyL1ToL2Alias(otherBridge)`, the
    ///      sender of its deposit transactions. Never reverts for a well-formed deposit.
    function finalizeDeposit(
        address l1Token,
        address l2Token,
        address from,
        address to,
        uint256 amount,
        bytes calldata extraData
    ) external nonReentrant {
        if (msg.sender != applyL1ToL2Alias(otherBridge)) {
            revert Unauthorized(msg.sender);
        }

        if (to != address(0) && isTokenPair(l2Token, l1Token)) {
            try IMintableERC20(l2Token).mint(to, amount) {
                emit DepositFinalized(l1Token, l2Token, from, to, amount, extraData);
                return;
            } catch {
                // fall through to the bounce
            }
        }
        // Back to L1: the L1 bridge releases `amount` of the (l1Token, l2Token) deposits to
        // `from`, the original depositor.
        _sendToL1(l1Token, l2Token, to, from, amount, extraData, BOUNCE_GAS_LIMIT);
        emit DepositFailed(l1Token, l2Token, from, to, amount, extraData);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Withdraws `amount` of `l2Token` to the caller's address on L1. Only EOAs (a
    ///         contract's address may belong to someone else on L1): contracts use
    ///         `withdrawTo`.
    /// @param l2Token a MintableERC20 of this bridge
    /// @param amount the amount to burn here and release on L1
    /// @param minGasLimit L1 gas on top of `WITHDRAWAL_GAS_OVERHEAD` for the L1 call
    /// @param extraData opaque data, emitted on both sides
    function withdraw(address l2Token, uint256 amount, uint32 minGasLimit, bytes calldata extraData)
        external
        nonReentrant
    {
        // tx.origin: a contract in its constructor has no code yet.
        if (msg.sender != tx.origin) revert NotEOA(msg.sender);
        _withdraw(l2Token, msg.sender, amount, minGasLimit, extraData);
    }

    /// @notice Withdraws `amount` of `l2Token` to `to` on L1.
    /// @param l2Token a MintableERC20 of this bridge
    /// @param to the L1 recipient
    /// @param amount the amount to burn here and release on L1
    /// @param minGasLimit L1 gas on top of `WITHDRAWAL_GAS_OVERHEAD` for the L1 call
    /// @param extraData opaque data, emitted on both sides
    function withdrawTo(
        address l2Token,
        address to,
        uint256 amount,
        uint32 minGasLimit,
        bytes calldata extraData
    ) external nonReentrant {
        _withdraw(l2Token, to, amount, minGasLimit, extraData);
    }

    // ------------------------------------------------------------------ views

    /// @notice Whether `l2Token` is a MintableERC20 of this bridge representing `l1Token`:
    ///         `bridge() == this` and `remoteToken() == l1Token`, both answered with well-formed
    ///         addresses within a bounded amount of gas.
    function isTokenPair(address l2Token, address l1Token) public view returns (bool) {
        (bool okBridge, address tokenBridge) =
            _probeAddress(l2Token, IMintableERC20.bridge.selector);
        if (!okBridge || tokenBridge != address(this)) return false;
        (bool okRemote, address remote) =
            _probeAddress(l2Token, IMintableERC20.remoteToken.selector);
        return okRemote && remote == l1Token && l1Token != address(0);
    }

    // ------------------------------------------------------------------ internals

    function _withdraw(
        address l2Token,
        address to,
        uint256 amount,
        uint32 minGasLimit,
        bytes calldata extraData
    ) private {
        if (to == address(0)) revert ZeroRecipient();
        (bool okBridge, address tokenBridge) =
            _probeAddress(l2Token, IMintableERC20.bridge.selector);
        (bool okRemote, address l1Token) =
            _probeAddress(l2Token, IMintableERC20.remoteToken.selector);
        if (!okBridge || tokenBridge != address(this) || !okRemote || l1Token == address(0)) {
            revert NotMintableToken(l2Token);
        }
        IMintableERC20(l2Token).burn(msg.sender, amount);
        _sendToL1(
            l1Token,
            l2Token,
            msg.sender,
            to,
            amount,
            extraData,
            uint256(minGasLimit) + WITHDRAWAL_GAS_OVERHEAD
        );
        emit WithdrawalInitiated(l1Token, l2Token, msg.sender, to, amount, extraData);
    }

    /// @dev Sends the withdrawal that makes the L1 bridge release `amount` to `to`.
    function _sendToL1(
        address l1Token,
        address l2Token,
        address from,
        address to,
        uint256 amount,
        bytes calldata extraData,
        uint256 gasLimit
    ) private {
        MESSAGE_PASSER.initiateWithdrawal(
            otherBridge,
            gasLimit,
            abi.encodeCall(
                L1StandardBridge.finalizeERC20Withdrawal,
                (l1Token, l2Token, from, to, amount, extraData)
            )
        );
    }

    /// @dev Calls the address getter `selector` of `target` with at most `PROBE_GAS` gas.
    ///      `ok` is false for a failed call, short return data or a value that is not an
    ///      address; no more than 32 bytes of return data are copied.
    function _probeAddress(address target, bytes4 selector)
        private
        view
        returns (bool ok, address value)
    {
        assembly ("memory-safe") {
            mstore(0x00, selector)
            let success := staticcall(PROBE_GAS, target, 0x00, 0x04, 0x00, 0x20)
            let word := mload(0x00)
            ok := and(and(success, iszero(lt(returndatasize(), 0x20))), iszero(shr(160, word)))
            if ok { value := word }
        }
    }
}
