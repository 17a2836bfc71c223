// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Vm} from "../utils/Test.sol";
import {L2PredeployTestBase} from "./RollupTestBase.sol";
import {LoftToken} from "../../src/LoftToken.sol";
import {ERC20} from "../../src/ERC20.sol";
import {RollupPortal} from "../../src/rollup/RollupPortal.sol";
import {L1StandardBridge} from "../../src/rollup/L1StandardBridge.sol";
import {L2StandardBridge} from "../../src/rollup/L2StandardBridge.sol";
import {L2ToL1MessagePasser} from "../../src/rollup/L2ToL1MessagePasser.sol";
import {MintableERC20} from "../../src/rollup/MintableERC20.sol";
import {MintableERC20Factory} from "../../src/rollup/MintableERC20Factory.sol";
import {ReentrancyGuard} from "../../src/rollup/ReentrancyGuard.sol";
import {
    L2_STANDARD_BRIDGE,
    L2_TO_L1_MESSAGE_PASSER,
    MINTABLE_ERC20_FACTORY,
    applyL1ToL2Alias
} from "../../src/rollup/RollupConstants.sol";

/// @dev A token whose transfers return nothing (like USDT).
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function transfer(address to, uint256 amount) external {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }

    function transferFrom(address from, address to, uint256 amount) external {
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}

/// @dev A token whose owner can pause every transfer for a while (as USDC and USDT can).
contract PausableToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    bool public paused;

    error Paused();

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function setPaused(bool paused_) external {
        paused = paused_;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) internal {
        if (paused) revert Paused();
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}

/// @dev A token whose transfers return false.
contract FalseToken {
    function transfer(address, uint256) external pure returns (bool) {
        return false;
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        return false;
    }
}

/// @dev A token that re-enters the bridge from transferFrom.
contract ReentrantToken {
    L1StandardBridge internal immutable bridge;
    bytes public reentryError;

    constructor(L1StandardBridge bridge_) {
        bridge = bridge_;
    }

    function transferFrom(address, address, uint256) external returns (bool) {
        try bridge.depositERC20To(address(this), address(1), msg.sender, 1, 0, "") {}
        catch (bytes memory reason) {
            reentryError = reason;
        }
        return true;
    }
}

/// @dev An L2 "token" that claims the right bridge and remote token but reverts on mint.
contract RevertingMintToken {
    address public immutable remoteToken;
    address public constant bridge = L2_STANDARD_BRIDGE;

    constructor(address remote) {
        remoteToken = remote;
    }

    function mint(address, uint256) external pure {
        revert("no minting");
    }
}

/// @dev A contract user of the bridges.
contract BridgeUser {
    function depositERC20(L1StandardBridge b, LoftToken t, address l2Token, uint256 amount)
        external
    {
        t.approve(address(b), amount);
        b.depositERC20(address(t), l2Token, amount, 0, "");
    }

    function withdraw(address l2Token, uint256 amount) external {
        L2StandardBridge(L2_STANDARD_BRIDGE).withdraw(l2Token, amount, 0, "");
    }

    function withdrawTo(address l2Token, address to, uint256 amount) external {
        L2StandardBridge(L2_STANDARD_BRIDGE).withdrawTo(l2Token, to, amount, 0, "");
    }
}

contract StandardBridgeTest is L2PredeployTestBase {
    event ERC20DepositInitiated(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    event ERC20WithdrawalFinalized(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    event DepositFinalized(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    event DepositFailed(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    event WithdrawalInitiated(
        address indexed l1Token,
        address indexed l2Token,
        address indexed from,
        address to,
        uint256 amount,
        bytes extraData
    );
    event TransactionDeposited(
        address indexed from, address indexed to, uint256 indexed depositNonce, bytes opaqueData
    );
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);

    L1StandardBridge internal l1Bridge;
    L2StandardBridge internal l2Bridge = L2StandardBridge(L2_STANDARD_BRIDGE);
    L2ToL1MessagePasser internal passer = L2ToL1MessagePasser(payable(L2_TO_L1_MESSAGE_PASSER));
    LoftToken internal l1Token;
    MintableERC20 internal l2Token;
    address internal alice;
    address internal bob;

    function setUp() public {
        _deployRollup();
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        l1Bridge = new L1StandardBridge(portal, L2_STANDARD_BRIDGE);
        _etchPredeploys(address(l1Bridge));
        l1Token = new LoftToken("Loft", "LOFT", 18, alice, 1000 ether);
        l2Token = MintableERC20(
            MintableERC20Factory(MINTABLE_ERC20_FACTORY)
                .createMintableERC20(address(l1Token), "Loft", "LOFT")
        );
        vm.prank(alice);
        l1Token.approve(address(l1Bridge), type(uint256).max);
    }

    // ------------------------------------------------------------ relaying helpers

    /// @dev Executes the deposit transaction of a TransactionDeposited log as L2 would: mints
    ///      `mint` to `from`, then calls `to` from `from` with `value`, `data` and `gasLimit`
    ///      gas (the intrinsic part included, so the check is conservative).
    function _relayDeposit(Vm.Log memory log) internal returns (bool ok) {
        assertEq(log.emitter, address(portal));
        address from = address(uint160(uint256(log.topics[1])));
        address to = address(uint160(uint256(log.topics[2])));
        (uint256 mint, uint256 value, uint64 gasLimit, bool isCreation, bytes memory data) =
            _decodeOpaque(abi.decode(log.data, (bytes)));
        assertFalse(isCreation);
        vm.deal(from, from.balance + mint);
        vm.prank(from);
        (ok,) = to.call{value: value, gas: gasLimit}(data);
    }

    function _lastDeposit(Vm.Log[] memory logs) internal pure returns (Vm.Log memory) {
        return _findLog(logs, TransactionDeposited.selector);
    }

    /// @dev The withdrawal of a MessagePassed log.
    function _withdrawalOf(Vm.Log memory log)
        internal
        view
        returns (RollupPortal.WithdrawalTransaction memory w)
    {
        assertEq(log.emitter, L2_TO_L1_MESSAGE_PASSER);
        (uint256 value, uint256 gasLimit, bytes memory data, bytes32 h) =
            abi.decode(log.data, (uint256, uint256, bytes, bytes32));
        w = RollupPortal.WithdrawalTransaction({
            nonce: uint256(log.topics[1]),
            sender: address(uint160(uint256(log.topics[2]))),
            target: address(uint160(uint256(log.topics[3]))),
            value: value,
            gasLimit: gasLimit,
            data: data
        });
        assertEq(portal.hashWithdrawal(w), h);
        assertTrue(passer.sentMessages(h));
    }

    /// @dev Proves `w` through the real portal and waits out the finalization period.
    function _proveAndWait(RollupPortal.WithdrawalTransaction memory w) internal {
        _proveAlone(w);
        vm.warp(block.timestamp + PERIOD);
    }

    /// @dev Proves and finalizes `w` through the real portal; returns the call's outcome.
    function _relayWithdrawal(RollupPortal.WithdrawalTransaction memory w) internal returns (bool) {
        _proveAndWait(w);
        return _finalize(w);
    }

    /// @dev Finalizes proven `w` with just enough gas; returns the call's outcome.
    function _finalize(RollupPortal.WithdrawalTransaction memory w)
        internal
        returns (bool success)
    {
        vm.recordLogs();
        portal.finalizeWithdrawalTransaction{gas: w.gasLimit + 200_000}(w);
        Vm.Log memory log = _findLog(vm.getRecordedLogs(), WithdrawalFinalized.selector);
        success = abi.decode(log.data, (bool));
    }

    function _deposit(address to, uint256 amount, address l2) internal returns (Vm.Log memory) {
        vm.recordLogs();
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(l1Token), l2, to, amount, 0, "hi");
        return _lastDeposit(vm.getRecordedLogs());
    }

    // ------------------------------------------------------------ round trip

    function test_DepositAndWithdrawRoundTrip() public {
        // L1: lock
        bytes memory expectedCall = abi.encodeCall(
            L2StandardBridge.finalizeDeposit,
            (address(l1Token), address(l2Token), alice, bob, 100 ether, bytes("hi"))
        );
        uint64 expectedGas =
            uint64(21_000 + 16 * expectedCall.length + l1Bridge.DEPOSIT_GAS_OVERHEAD());
        vm.expectEmit(true, true, true, true, address(portal));
        emit TransactionDeposited(
            applyL1ToL2Alias(address(l1Bridge)),
            L2_STANDARD_BRIDGE,
            0,
            abi.encodePacked(uint256(0), uint256(0), expectedGas, false, expectedCall)
        );
        vm.expectEmit(true, true, true, true, address(l1Bridge));
        emit ERC20DepositInitiated(address(l1Token), address(l2Token), alice, bob, 100 ether, "hi");
        Vm.Log memory dep = _deposit(bob, 100 ether, address(l2Token));
        assertEq(l1Token.balanceOf(address(l1Bridge)), 100 ether);
        assertEq(l1Bridge.deposits(address(l1Token), address(l2Token)), 100 ether);

        // L2: mint
        vm.expectEmit(true, true, true, true, L2_STANDARD_BRIDGE);
        emit DepositFinalized(address(l1Token), address(l2Token), alice, bob, 100 ether, "hi");
        assertTrue(_relayDeposit(dep));
        assertEq(l2Token.balanceOf(bob), 100 ether);

        // L2: burn and send a withdrawal
        vm.recordLogs();
        vm.prank(bob, bob);
        l2Bridge.withdraw(address(l2Token), 40 ether, 10_000, "bye");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(l2Token.balanceOf(bob), 60 ether);
        assertEq(l2Token.totalSupply(), 60 ether);
        Vm.Log memory init = _findLog(logs, WithdrawalInitiated.selector);
        assertEq(init.topics[3], bytes32(uint256(uint160(bob))));
        RollupPortal.WithdrawalTransaction memory w =
            _withdrawalOf(_findLog(logs, MessagePassed.selector));
        assertEq(w.sender, L2_STANDARD_BRIDGE);
        assertEq(w.target, address(l1Bridge));
        assertEq(w.value, 0);
        assertEq(w.gasLimit, 10_000 + l2Bridge.WITHDRAWAL_GAS_OVERHEAD());
        assertEq(
            w.data,
            abi.encodeCall(
                L1StandardBridge.finalizeERC20Withdrawal,
                (address(l1Token), address(l2Token), bob, bob, 40 ether, bytes("bye"))
            )
        );

        // L1: prove, wait, finalize through the portal: release
        _proveAndWait(w);
        vm.expectEmit(true, true, true, true, address(l1Bridge));
        emit ERC20WithdrawalFinalized(address(l1Token), address(l2Token), bob, bob, 40 ether, "bye");
        assertTrue(_finalize(w));
        assertEq(l1Token.balanceOf(bob), 40 ether);
        assertEq(l1Token.balanceOf(address(l1Bridge)), 60 ether);
        assertEq(l1Bridge.deposits(address(l1Token), address(l2Token)), 60 ether);
    }

    /// A third party finalizes bob's withdrawal while the L1 token is paused: the release
    /// fails, and the withdrawal stays open. Once the token is unpaused, bob tries again and
    /// is paid exactly once; a further try reverts.
    function test_WithdrawalFailedWhilePausedIsRetried() public {
        PausableToken paused = new PausableToken();
        address pausedL2 = MintableERC20Factory(MINTABLE_ERC20_FACTORY)
            .createMintableERC20(address(paused), "Paused", "PSD");
        paused.mint(alice, 10 ether);
        vm.prank(alice);
        paused.approve(address(l1Bridge), 10 ether);
        vm.recordLogs();
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(paused), pausedL2, bob, 10 ether, 0, "");
        assertTrue(_relayDeposit(_lastDeposit(vm.getRecordedLogs())));

        vm.recordLogs();
        vm.prank(bob, bob);
        l2Bridge.withdraw(pausedL2, 4 ether, 0, "");
        RollupPortal.WithdrawalTransaction memory w =
            _withdrawalOf(_findLog(vm.getRecordedLogs(), MessagePassed.selector));
        bytes32 h = portal.hashWithdrawal(w);
        _proveAndWait(w);

        paused.setPaused(true);
        vm.prank(makeAddr("third party"));
        assertFalse(_finalize(w));
        assertFalse(portal.finalizedWithdrawals(h));
        assertTrue(portal.failedWithdrawals(h));
        assertEq(paused.balanceOf(bob), 0);
        assertEq(l1Bridge.deposits(address(paused), pausedL2), 10 ether);

        paused.setPaused(false);
        vm.prank(bob);
        assertTrue(_finalize(w));
        assertTrue(portal.finalizedWithdrawals(h));
        assertEq(paused.balanceOf(bob), 4 ether);
        assertEq(paused.balanceOf(address(l1Bridge)), 6 ether);
        assertEq(l1Bridge.deposits(address(paused), pausedL2), 6 ether);

        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyFinalized.selector, h));
        vm.prank(bob);
        portal.finalizeWithdrawalTransaction(w);
        assertEq(paused.balanceOf(bob), 4 ether);
    }

    function test_WithdrawToAnotherL1Address() public {
        assertTrue(_relayDeposit(_deposit(bob, 5 ether, address(l2Token))));
        address carol = makeAddr("carol");
        vm.recordLogs();
        vm.prank(bob);
        l2Bridge.withdrawTo(address(l2Token), carol, 5 ether, 0, "");
        assertTrue(
            _relayWithdrawal(_withdrawalOf(_findLog(vm.getRecordedLogs(), MessagePassed.selector)))
        );
        assertEq(l1Token.balanceOf(carol), 5 ether);
    }

    function test_DepositERC20ToSelf() public {
        vm.expectEmit(true, true, true, true, address(l1Bridge));
        emit ERC20DepositInitiated(address(l1Token), address(l2Token), alice, alice, 1 ether, "");
        vm.prank(alice, alice);
        l1Bridge.depositERC20(address(l1Token), address(l2Token), 1 ether, 0, "");
        assertEq(l1Bridge.deposits(address(l1Token), address(l2Token)), 1 ether);
    }

    function test_MinGasLimitAddsToDepositGas() public {
        vm.recordLogs();
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(l1Token), address(l2Token), bob, 1, 123_456, "");
        (,, uint64 gasLimit,, bytes memory data) =
            _decodeOpaque(abi.decode(_lastDeposit(vm.getRecordedLogs()).data, (bytes)));
        assertEq(
            uint256(gasLimit), 21_000 + 16 * data.length + l1Bridge.DEPOSIT_GAS_OVERHEAD() + 123_456
        );
    }

    // ------------------------------------------------------------ bounces

    /// A deposit for an L2 token of another L1 token is sent back to the depositor.
    function test_WrongRemoteTokenBounced() public {
        LoftToken otherL1 = new LoftToken("Other", "OTH", 18, alice, 1);
        address wrongL2 = MintableERC20Factory(MINTABLE_ERC20_FACTORY)
            .createMintableERC20(address(otherL1), "O", "O");
        Vm.Log memory dep = _deposit(bob, 7 ether, wrongL2);
        assertEq(l1Bridge.deposits(address(l1Token), wrongL2), 7 ether);

        vm.recordLogs();
        vm.expectEmit(true, true, true, true, L2_STANDARD_BRIDGE);
        emit DepositFailed(address(l1Token), wrongL2, alice, bob, 7 ether, "hi");
        assertTrue(_relayDeposit(dep));
        assertEq(MintableERC20(wrongL2).totalSupply(), 0);

        RollupPortal.WithdrawalTransaction memory w =
            _withdrawalOf(_findLog(vm.getRecordedLogs(), MessagePassed.selector));
        assertEq(w.gasLimit, l2Bridge.BOUNCE_GAS_LIMIT());
        uint256 before = l1Token.balanceOf(alice);
        _proveAndWait(w);
        vm.expectEmit(true, true, true, true, address(l1Bridge));
        emit ERC20WithdrawalFinalized(address(l1Token), wrongL2, bob, alice, 7 ether, "hi");
        assertTrue(_finalize(w));
        assertEq(l1Token.balanceOf(alice), before + 7 ether);
        assertEq(l1Bridge.deposits(address(l1Token), wrongL2), 0);
    }

    function test_NonTokenL2AddressBounced() public {
        // an account without code, and a token of another bridge
        MintableERC20 foreign =
            new MintableERC20(makeAddr("other bridge"), address(l1Token), "F", "F", 18);
        address[3] memory targets = [
            makeAddr("not a token"),
            address(foreign),
            address(new RevertingMintToken(address(l1Token)))
        ];
        for (uint256 i = 0; i < targets.length; i++) {
            Vm.Log memory dep = _deposit(bob, 1 ether, targets[i]);
            vm.expectEmit(true, true, true, true, L2_STANDARD_BRIDGE);
            emit DepositFailed(address(l1Token), targets[i], alice, bob, 1 ether, "hi");
            assertTrue(_relayDeposit(dep));
        }
        assertEq(passer.messageNonce(), 3);
    }

    function test_DepositToZeroBouncedOnL2() public {
        // The L1 bridge refuses it; a deposit that got through anyway is bounced.
        vm.expectEmit(true, true, true, true, L2_STANDARD_BRIDGE);
        emit DepositFailed(address(l1Token), address(l2Token), alice, address(0), 1, "");
        vm.prank(applyL1ToL2Alias(address(l1Bridge)));
        l2Bridge.finalizeDeposit(address(l1Token), address(l2Token), alice, address(0), 1, "");
    }

    // ------------------------------------------------------------ refusals: L2 bridge

    function test_RevertWhen_FinalizeDepositNotFromAliasedL1Bridge() public {
        address[3] memory callers = [address(l1Bridge), alice, applyL1ToL2Alias(alice)];
        for (uint256 i = 0; i < callers.length; i++) {
            vm.expectRevert(
                abi.encodeWithSelector(L2StandardBridge.Unauthorized.selector, callers[i])
            );
            vm.prank(callers[i]);
            l2Bridge.finalizeDeposit(address(l1Token), address(l2Token), alice, bob, 1, "");
        }
    }

    function test_RevertWhen_WithdrawFromContract() public {
        BridgeUser user = new BridgeUser();
        vm.prank(applyL1ToL2Alias(address(l1Bridge)));
        l2Bridge.finalizeDeposit(address(l1Token), address(l2Token), alice, address(user), 2, "");
        vm.expectRevert(abi.encodeWithSelector(L2StandardBridge.NotEOA.selector, address(user)));
        vm.prank(alice, alice);
        user.withdraw(address(l2Token), 1);
        // withdrawTo names the L1 recipient explicitly: allowed
        vm.prank(alice, alice);
        user.withdrawTo(address(l2Token), alice, 1);
        assertEq(l2Token.balanceOf(address(user)), 1);
    }

    function test_RevertWhen_WithdrawNonMintableToken() public {
        MintableERC20 foreign =
            new MintableERC20(makeAddr("other bridge"), address(l1Token), "F", "F", 18);
        vm.startPrank(bob, bob);
        vm.expectRevert(
            abi.encodeWithSelector(L2StandardBridge.NotMintableToken.selector, address(foreign))
        );
        l2Bridge.withdraw(address(foreign), 1, 0, "");
        vm.expectRevert(
            abi.encodeWithSelector(L2StandardBridge.NotMintableToken.selector, address(l1Token))
        );
        l2Bridge.withdraw(address(l1Token), 1, 0, "");
        vm.expectRevert(abi.encodeWithSelector(L2StandardBridge.NotMintableToken.selector, alice));
        l2Bridge.withdraw(alice, 1, 0, "");
        vm.expectRevert(L2StandardBridge.ZeroRecipient.selector);
        l2Bridge.withdrawTo(address(l2Token), address(0), 1, 0, "");
        vm.stopPrank();
    }

    function test_RevertWhen_WithdrawMoreThanBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientBalance.selector, bob, 0, 1)
        );
        vm.prank(bob, bob);
        l2Bridge.withdraw(address(l2Token), 1, 0, "");
    }

    // ------------------------------------------------------------ refusals: L1 bridge

    function test_RevertWhen_FinalizeWithdrawalNotFromPortal() public {
        _deposit(bob, 1 ether, address(l2Token));
        vm.expectRevert(abi.encodeWithSelector(L1StandardBridge.Unauthorized.selector, alice));
        vm.prank(alice);
        l1Bridge.finalizeERC20Withdrawal(
            address(l1Token), address(l2Token), bob, alice, 1 ether, ""
        );
    }

    function test_RevertWhen_PortalButWrongL2Sender() public {
        _deposit(bob, 1 ether, address(l2Token));
        // The portal outside a withdrawal (l2Sender is the default).
        vm.expectRevert(
            abi.encodeWithSelector(L1StandardBridge.Unauthorized.selector, address(portal))
        );
        vm.prank(address(portal));
        l1Bridge.finalizeERC20Withdrawal(
            address(l1Token), address(l2Token), bob, alice, 1 ether, ""
        );
        // The portal executing a withdrawal of someone else (l2Sender set in its slot 0).
        vm.store(address(portal), bytes32(0), bytes32(uint256(uint160(alice))));
        vm.expectRevert(
            abi.encodeWithSelector(L1StandardBridge.Unauthorized.selector, address(portal))
        );
        vm.prank(address(portal));
        l1Bridge.finalizeERC20Withdrawal(
            address(l1Token), address(l2Token), bob, alice, 1 ether, ""
        );
        // The same with the L2 bridge as l2Sender goes through.
        vm.store(address(portal), bytes32(0), bytes32(uint256(uint160(L2_STANDARD_BRIDGE))));
        vm.prank(address(portal));
        l1Bridge.finalizeERC20Withdrawal(
            address(l1Token), address(l2Token), bob, alice, 1 ether, ""
        );
    }

    /// Through the real portal: a withdrawal some L2 account sends to the L1 bridge fails.
    function test_ForgedWithdrawalFailsThroughPortal() public {
        _deposit(bob, 3 ether, address(l2Token));
        bytes memory data = abi.encodeCall(
            L1StandardBridge.finalizeERC20Withdrawal,
            (address(l1Token), address(l2Token), bob, bob, 3 ether, bytes(""))
        );
        vm.recordLogs();
        vm.prank(bob);
        passer.initiateWithdrawal(address(l1Bridge), 300_000, data);
        RollupPortal.WithdrawalTransaction memory w =
            _withdrawalOf(_findLog(vm.getRecordedLogs(), MessagePassed.selector));
        assertEq(w.sender, bob);
        assertFalse(_relayWithdrawal(w));
        assertEq(l1Token.balanceOf(bob), 0);
        assertEq(l1Bridge.deposits(address(l1Token), address(l2Token)), 3 ether);
    }

    function test_RevertWhen_WithdrawalExceedsPairDeposits() public {
        _deposit(bob, 1 ether, address(l2Token));
        address otherL2 = makeAddr("other l2 token");
        _deposit(bob, 5 ether, otherL2);
        vm.store(address(portal), bytes32(0), bytes32(uint256(uint160(L2_STANDARD_BRIDGE))));
        vm.startPrank(address(portal));
        // 6 ether are locked, but only 1 for this pair.
        vm.expectRevert(
            abi.encodeWithSelector(
                L1StandardBridge.InsufficientDeposits.selector,
                address(l1Token),
                address(l2Token),
                1 ether,
                1 ether + 1
            )
        );
        l1Bridge.finalizeERC20Withdrawal(
            address(l1Token), address(l2Token), bob, bob, 1 ether + 1, ""
        );
        l1Bridge.finalizeERC20Withdrawal(address(l1Token), address(l2Token), bob, bob, 1 ether, "");
        vm.stopPrank();
        assertEq(l1Bridge.deposits(address(l1Token), address(l2Token)), 0);
        assertEq(l1Token.balanceOf(address(l1Bridge)), 5 ether);
    }

    function test_RevertWhen_DepositERC20FromContract() public {
        BridgeUser user = new BridgeUser();
        vm.prank(alice);
        l1Token.transfer(address(user), 1);
        vm.expectRevert(abi.encodeWithSelector(L1StandardBridge.NotEOA.selector, address(user)));
        vm.prank(alice, alice);
        user.depositERC20(l1Bridge, l1Token, address(l2Token), 1);
    }

    function test_RevertWhen_DepositToZero() public {
        vm.expectRevert(L1StandardBridge.ZeroRecipient.selector);
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(l1Token), address(l2Token), address(0), 1, 0, "");
    }

    function test_RevertWhen_TokenTransferFails() public {
        vm.startPrank(bob, bob);
        // no balance / allowance: the token reverts
        vm.expectRevert(
            abi.encodeWithSelector(L1StandardBridge.TokenTransferFailed.selector, address(l1Token))
        );
        l1Bridge.depositERC20To(address(l1Token), address(l2Token), bob, 1, 0, "");
        // a token that returns false
        FalseToken f = new FalseToken();
        vm.expectRevert(
            abi.encodeWithSelector(L1StandardBridge.TokenTransferFailed.selector, address(f))
        );
        l1Bridge.depositERC20To(address(f), address(l2Token), bob, 1, 0, "");
        // an address without code
        vm.expectRevert(
            abi.encodeWithSelector(L1StandardBridge.TokenTransferFailed.selector, alice)
        );
        l1Bridge.depositERC20To(alice, address(l2Token), bob, 1, 0, "");
        vm.stopPrank();
    }

    function test_RevertWhen_DepositGasAbovePortalMaximum() public {
        // finalizeDeposit calldata with empty extraData: selector, 6 words, the bytes length
        uint256 len = 4 + 7 * 32;
        vm.expectRevert(
            abi.encodeWithSelector(
                RollupPortal.GasLimitTooHigh.selector,
                uint64(21_000 + 16 * len + 200_000 + 30_000_000),
                20_000_000
            )
        );
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(l1Token), address(l2Token), bob, 1, 30_000_000, "");
    }

    function test_TokenWithoutReturnValue() public {
        NoReturnToken t = new NoReturnToken();
        t.mint(alice, 10);
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(t), address(l2Token), bob, 10, 0, "");
        assertEq(t.balanceOf(address(l1Bridge)), 10);
        vm.store(address(portal), bytes32(0), bytes32(uint256(uint160(L2_STANDARD_BRIDGE))));
        vm.prank(address(portal));
        l1Bridge.finalizeERC20Withdrawal(address(t), address(l2Token), bob, bob, 10, "");
        assertEq(t.balanceOf(bob), 10);
    }

    function test_RevertWhen_ReentrantDeposit() public {
        ReentrantToken t = new ReentrantToken(l1Bridge);
        vm.prank(alice, alice);
        l1Bridge.depositERC20To(address(t), address(l2Token), bob, 1, 0, "");
        assertEq(t.reentryError(), abi.encodeWithSelector(ReentrancyGuard.ReentrantCall.selector));
        assertEq(l1Bridge.deposits(address(t), address(l2Token)), 1);
        assertEq(l1Bridge.deposits(address(t), address(1)), 0);
    }

    function test_Config() public view {
        assertEq(address(l1Bridge.portal()), address(portal));
        assertEq(l1Bridge.otherBridge(), L2_STANDARD_BRIDGE);
        assertEq(l2Bridge.otherBridge(), address(l1Bridge));
        assertEq(address(l2Bridge.MESSAGE_PASSER()), L2_TO_L1_MESSAGE_PASSER);
        assertTrue(l2Bridge.isTokenPair(address(l2Token), address(l1Token)));
        assertFalse(l2Bridge.isTokenPair(address(l2Token), alice));
        assertFalse(l2Bridge.isTokenPair(alice, address(l1Token)));
    }
}
