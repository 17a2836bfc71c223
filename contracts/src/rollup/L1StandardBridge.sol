// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {L2StandardBridge} from "./L2StandardBridge.sol";
import {ReentrancyGuard} from "./ReentrancyGuard.sol";
import {RollupPortal} from "./RollupPortal.sol";

/// @dev The ERC-20 calls the bridge makes (return values are checked leniently, see
///      `L1StandardBridge._callToken`).
interface IERC20Transfers {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title L1StandardBridge
/// @notice The L1 half of loft's ERC-20 bridge. `depositERC20To` locks tokens here and sends a
///         deposit through the RollupPortal that calls `L2StandardBridge.finalizeDeposit` on L2
///         (which mints the L2 token); `finalizeERC20Withdrawal`, called by the portal when the
///         L2 bridge's withdrawal is executed, releases them.
/// @dev `deposits[l1Token][l2Token]` counts the tokens locked for each pair; a withdrawal can
///      never release more than was deposited for its pair. Fee-on-transfer and rebasing
///      tokens are not supported (the bridge accounts for the amount asked, not received).
///      A withdrawal whose release reverts (e.g. a paused token, or one that blocks the
///      recipient for a while) reverts here as a whole, the portal keeps it open, and anyone
///      may finalize it again once the token lets it through: it is released exactly once.
contract L1StandardBridge is ReentrancyGuard {
    // ------------------------------------------------------------------ events

    /// @notice Tokens were locked and a deposit to `to` on L2 was sent.
    event ERC20DepositInitiated(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    /// @notice Tokens withdrawn from L2 (or a bounced deposit) were released to `to`.
    event ERC20WithdrawalFinalized(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );

    // ------------------------------------------------------------------ errors

    /// @notice The caller is not the portal executing a withdrawal of the L2 bridge.
    error Unauthorized(address caller);
    /// @notice `depositERC20` was called by a contract (its address may not be its own on L2).
    error NotEOA(address caller);
    /// @notice The L2 recipient is the zero address.
    error ZeroRecipient();
    /// @notice A token's transfer failed (reverted, returned false, or the token has no code).
    error TokenTransferFailed(address token);
    /// @notice The withdrawal asks for more than was deposited for the pair.
    error InsufficientDeposits(address l1Token, address l2Token, uint256 deposited, uint256 amount);

    // ------------------------------------------------------------------ configuration

    /// @notice L2 gas added to the caller's `minGasLimit` and to the data cost
    ///         (`21000 + 16 * data.length`) for the L2 bridge's work (mint, or bounce).
    uint256 public constant DEPOSIT_GAS_OVERHEAD = 200_000;

    /// @notice The portal deposits and withdrawals go through.
    RollupPortal public immutable portal;
    /// @notice The L2StandardBridge (predeploy 0x4200000000000000000000000000000000000010).
    address public immutable otherBridge;

    // ------------------------------------------------------------------ storage

    /// @notice Tokens locked per (L1 token, L2 token) pair.
    mapping(address l1Token => mapping(address l2Token => uint256)) public deposits;

    // ------------------------------------------------------------------ constructor

    /// @param portal_ the RollupPortal
    /// @param otherBridge_ the L2StandardBridge address
    constructor(RollupPortal portal_, address otherBridge_) {
        portal = portal_;
        otherBridge = otherBridge_;
    }

    // ------------------------------------------------------------------ deposits

    /// @notice Deposits `amount` of `l1Token` to the caller's address on L2, as `l2Token`.
    ///         Only EOAs (a contract's address may belong to someone else on L2): contracts use
    ///         `depositERC20To`. Needs an allowance of `amount`.
    function depositERC20(
        address l1Token,
        address l2Token,
        uint256 amount,
        uint32 minGasLimit,
        bytes calldata extraData
    ) external nonReentrant {
        // tx.origin: a contract in its constructor has no code yet.
        if (msg.sender != tx.origin) revert NotEOA(msg.sender);
        _deposit(l1Token, l2Token, msg.sender, amount, minGasLimit, extraData);
    }

    /// @notice Deposits `amount` of `l1Token` to `to` on L2, as `l2Token` (a MintableERC20 of
    ///         the L2 bridge with `remoteToken() == l1Token`; anything else is bounced back to
    ///         the caller on L1 through a withdrawal). Needs an allowance of `amount`.
    /// @param l1Token the L1 token to lock
    /// @param l2Token its L2 representation
    /// @param to the L2 recipient
    /// @param amount the amount
    /// @param minGasLimit L2 gas on top of `DEPOSIT_GAS_OVERHEAD` and the data cost
    /// @param extraData opaque data, emitted on both sides
    function depositERC20To(
        address l1Token,
        address l2Token,
        address to,
        uint256 amount,
        uint32 minGasLimit,
        bytes calldata extraData
    ) external nonReentrant {
        _deposit(l1Token, l2Token, to, amount, minGasLimit, extraData);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Releases `amount` of `l1Token` to `to`: the L1 end of an L2 withdrawal (or of a
    ///         bounced deposit). Only the portal may call it, while it executes a withdrawal
    ///         sent by the L2 bridge (`portal.l2Sender() == otherBridge`).
    function finalizeERC20Withdrawal(
        address l1Token,
        address l2Token,
        address from,
        address to,
        uint256 amount,
        bytes calldata extraData
    ) external nonReentrant {
        if (msg.sender != address(portal) || portal.l2Sender() != otherBridge) {
            revert Unauthorized(msg.sender);
        }
        uint256 deposited = deposits[l1Token][l2Token];
        if (deposited < amount) revert InsufficientDeposits(l1Token, l2Token, deposited, amount);
        unchecked {
            deposits[l1Token][l2Token] = deposited - amount;
        }
        _callToken(l1Token, abi.encodeCall(IERC20Transfers.transfer, (to, amount)));
        emit ERC20WithdrawalFinalized(l1Token, l2Token, from, to, amount, extraData);
    }

    // ------------------------------------------------------------------ internals

    function _deposit(
        address l1Token,
        address l2Token,
        address to,
        uint256 amount,
        uint32 minGasLimit,
        bytes calldata extraData
    ) private {
        if (to == address(0)) revert ZeroRecipient();
        deposits[l1Token][l2Token] += amount;
        _callToken(
            l1Token,
            abi.encodeCall(IERC20Transfers.transferFrom, (msg.sender, address(this), amount))
        );
        bytes memory data = abi.encodeCall(
            L2StandardBridge.finalizeDeposit, (l1Token, l2Token, msg.sender, to, amount, extraData)
        );
        uint256 gasLimit = 21_000 + 16 * data.length + DEPOSIT_GAS_OVERHEAD + minGasLimit;
        // A gas limit above the portal's maximum makes the portal revert.
        // safe: gasLimit <= 2^32 + 16 * data.length + 221000 < 2^64
        // forge-lint: disable-next-line(unsafe-typecast)
        portal.depositTransaction(otherBridge, 0, uint64(gasLimit), false, data);
        emit ERC20DepositInitiated(l1Token, l2Token, msg.sender, to, amount, extraData);
    }

    /// @dev Calls `token` with `data` (a transfer); it must succeed and return either nothing
    ///      (from a contract, for tokens that return no bool) or `true`.
    function _callToken(address token, bytes memory data) private {
        (bool success, bytes memory ret) = token.call(data);
        bool ok = success
            && (ret.length == 0
                    ? token.code.length != 0
                    : ret.length == 32 && abi.decode(ret, (bool)));
        if (!ok) revert TokenTransferFailed(token);
    }
}
